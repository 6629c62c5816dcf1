//! Coffre's HTTP API: `app(state) -> Router`, shared by `coffre serve` and
//! the tests. One router per resource; one [`ApiError`] for every refusal;
//! the OpenAPI 3.1 document generated from the handlers' own types
//! ([`openapi`]).

pub mod admin;
mod auth;
mod beneficiaries;
mod client;
mod documents;
mod error;
mod extract;
mod metrics;
mod ops;
mod recovery;
mod request_id;
pub mod schema;
mod sessions;
mod structures;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use coffre_vault::Vault;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub use auth::{COOKIE, CSRF_HEADER, csrf_token};
pub use client::{ClientAddr, client_ip};
pub use error::{ApiError, ApiResult, ErrorBody};
pub use metrics::Metrics;
pub use ops::metrics_text;
pub use request_id::{REQUEST_ID_HEADER, RequestId};

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Base of share-link URLs, e.g. `https://coffre.example.org`.
    pub public_url: String,
    /// Largest request body (uploads included), bytes.
    pub max_body_bytes: usize,
    /// Session creations per minute and per client address.
    pub logins_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// The bearer token `/metrics` asks for; without one, `/metrics` is not
    /// served on the public listener (the operator reads it through the
    /// admin socket: `coffre admin metrics`).
    pub metrics_token: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 101 << 20,
            logins_per_minute: 30,
            trusted_proxies: Vec::new(),
            metrics_token: None,
        }
    }
}

/// The unit a limit applies to: an IPv4 address, or the /64 an IPv6
/// address belongs to (one host usually holds a whole /64, so counting each
/// address apart would let it rotate through them).
pub fn client_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Fixed-window limiter per client address (IPv6: per /64), bounded in size.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn allow(&self, ip: IpAddr) -> bool {
        let mut w = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let e = w.entry(client_block(ip)).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(60) {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let l = RateLimiter::new(2);
        let a: IpAddr = "2001:db8:1:2::10".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::99".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::10".parse().unwrap();
        assert!(l.allow(a) && l.allow(b));
        assert!(!l.allow(a), "a third request from the same /64");
        assert!(l.allow(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_block(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub vault: Vault,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<RateLimiter>,
}

impl AppState {
    /// Counts a request against the per-address limit (logins, enrollment
    /// codes, share links: each costs a journal write or a key derivation);
    /// a 429 past it.
    pub(crate) fn per_address(&self, client: IpAddr) -> ApiResult<()> {
        if self.limiter.allow(client) {
            Ok(())
        } else {
            Err(ApiError::rate_limited())
        }
    }

    pub fn new(vault: Vault, config: ApiConfig) -> Self {
        Self::with_metrics(vault, config, Arc::new(Metrics::default()))
    }

    /// With metrics shared with another reader (the operator's socket).
    pub fn with_metrics(vault: Vault, config: ApiConfig, metrics: Arc<Metrics>) -> Self {
        let limiter = Arc::new(RateLimiter::new(config.logins_per_minute));
        Self {
            vault,
            config: Arc::new(config),
            metrics,
            limiter,
        }
    }
}

/// Largest JSON body, for every route but the upload.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

async fn no_such_route() -> impl IntoResponse {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_route", "no such route")
}

/// The OpenAPI document's frame: what the routes' annotations do not say.
#[derive(OpenApi)]
#[openapi(
    info(title = "Coffre API", description = "An encrypted vault of papers for people in precarity and the social workers who accompany them."),
    modifiers(&Security),
    tags(
        (name = "sessions", description = "Logging in and out"),
        (name = "structures", description = "Structures and their caseworkers"),
        (name = "beneficiaries", description = "People and their vaults"),
        (name = "documents", description = "Papers"),
        (name = "consent", description = "Grants given by the person"),
        (name = "recovery", description = "Trustees, and recovery of a forgotten secret"),
        (name = "shares", description = "Links for third parties"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(COOKIE))),
        );
    }
}

/// Every route, with its time limit: short for JSON calls, long for the
/// routes that stream documents (100 MiB over a slow phone connection).
fn routes(max_body_bytes: usize) -> OpenApiRouter<AppState> {
    let short =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30));
    let long =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(3600));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::router().layer(short()))
        .merge(sessions::router().layer(short()))
        .merge(structures::router().layer(short()))
        .merge(recovery::router().layer(short()))
        .merge(beneficiaries::router(max_body_bytes).layer(long()))
        .merge(documents::router().layer(long()))
}

/// The OpenAPI 3.1 document of every route the API serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes(0).into_openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The same, rendered once.
pub(crate) fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| openapi().to_json().unwrap_or_else(|_| "{}".to_owned()))
}

/// The whole API.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes(state.config.max_body_bytes).split_for_parts();
    router
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_id::track))
        // JSON bodies are small; only the upload route takes a document.
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Everything here is personal or per-session: never cached.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}
