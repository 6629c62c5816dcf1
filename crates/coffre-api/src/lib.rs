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
pub mod form;
pub mod limits;
mod metrics;
mod ops;
pub mod range;
mod recovery;
mod request_id;
pub mod schema;
pub mod server;
mod sessions;
mod structures;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

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

pub use auth::{COOKIE, CSRF_HEADER, cookie, csrf_token};
pub use beneficiaries::stream_of;
pub use client::{ClientAddr, client_ip};
pub use documents::{CopyMarked, disposition, marked_response};
pub use error::{ApiError, ApiResult, ErrorBody};
pub use limits::Limiters;
pub use metrics::Metrics;
pub use ops::metrics_text;
pub use request_id::{REQUEST_ID_HEADER, RequestId, ServerErrorKind};

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
    /// Authenticated requests per minute and per account.
    pub requests_per_minute_per_account: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 101 << 20,
            logins_per_minute: 30,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            requests_per_minute_per_account: 600,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub vault: Vault,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<Limiters>,
}

impl AppState {
    /// Counts a request against the per-address limit (logins, enrollment
    /// codes, share links: each costs a journal write or a key derivation);
    /// a 429 past it.
    pub fn per_address(&self, client: IpAddr) -> ApiResult<()> {
        if self.limits.address(client) {
            Ok(())
        } else {
            Err(ApiError::rate_limited())
        }
    }

    /// Counts an authenticated request against its account's budget.
    pub fn per_account(&self, account: coffre_crypto::PrincipalId) -> ApiResult<()> {
        if self.limits.account(account) {
            Ok(())
        } else {
            Err(ApiError::account_rate_limited())
        }
    }

    pub fn new(vault: Vault, config: ApiConfig) -> Self {
        Self::with_metrics(vault, config, Arc::new(Metrics::default()))
    }

    /// With metrics shared with another reader (the operator's socket).
    pub fn with_metrics(vault: Vault, config: ApiConfig, metrics: Arc<Metrics>) -> Self {
        let limits = Arc::new(Limiters::new(
            config.logins_per_minute,
            config.requests_per_minute_per_account,
        ));
        Self {
            vault,
            config: Arc::new(config),
            metrics,
            limits,
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

/// The JSON answer to a path no route serves.
pub async fn no_such_route() -> impl IntoResponse {
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
    app_with(state, Router::new().fallback(no_such_route))
}

/// The API next to other routes (the web pages): `others` brings the
/// fallback for every unknown path (it answers [`no_such_route`] under
/// `/api/`) and its own security headers. Request ids, metrics, the body
/// limit and the headers every answer carries wrap both.
pub fn app_with(state: AppState, others: Router<AppState>) -> Router {
    let (api, _) = routes(state.config.max_body_bytes).split_for_parts();
    let api = api
        .method_not_allowed_fallback(method_not_allowed)
        // A handler that needs more (the share link's page) sets its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        // Everything here is personal or per-session: never cached.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    Router::new()
        .merge(api)
        .merge(others)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn(request_id::track))
        // JSON bodies are small; only the upload routes take a document.
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}
