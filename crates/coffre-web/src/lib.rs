//! Coffre's web pages: the person's space, served by `coffre serve` at `/`
//! next to the API, on the same vault operations (never HTTP calls to
//! itself). French first (every word in `locales/`), accessible (RGAA 4.1),
//! light (under 50 KB a page), and complete without JavaScript: every
//! action is a form that posts, then redirects.
//!
//! Map: [`session`] (cookie, CSRF, origin check), [`ctx`] (the frame of
//! every page), [`error`] (pages for refusals), [`i18n`] (Fluent),
//! `person/` (the person's pages, one module per page), `pro/` (the
//! desk: caseworkers' pages under `/pro`), `assets`
//! (stylesheet, script). Copies (photos to PDF, marks) are `coffre-copies`.

#![deny(missing_debug_implementations)]

mod assets;
pub mod ctx;
pub mod demo;
pub mod error;
pub mod i18n;
mod journal_words;
mod person;
mod pro;
mod qr;
pub mod session;
#[cfg(test)]
mod testing;

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use coffre_api::{AppState, RequestId};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::ctx::{Ctx, Visitor};
use crate::error::PageError;
use crate::session::lang_of;

/// What the pages need besides the API's configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Every page says "DÉMONSTRATION" (`coffre serve --demo`).
    pub demo: bool,
    /// Idle limit of a session on a shared computer.
    pub shared_idle: Duration,
    /// How long a counter link lives, in minutes.
    pub counter_minutes: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            demo: false,
            shared_idle: Duration::from_secs(5 * 60),
            counter_minutes: 15,
        }
    }
}

/// The policy of every page: our own stylesheet, script and images, forms
/// to ourselves, no inline script, no framing.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages, to pass to [`coffre_api::app_with`].
pub fn pages(web: WebConfig, max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .merge(person::router(max_body_bytes))
        .merge(pro::router(max_body_bytes))
        .merge(assets::router())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::from_fn(render_errors))
        .layer(axum::Extension(Arc::new(web)))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        // Pages are personal: never kept by the browser or a proxy (the
        // stylesheet and script say otherwise for themselves).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// The whole site: the API and the pages.
pub fn app(state: AppState, web: WebConfig) -> Router {
    let max = state.config.max_body_bytes;
    coffre_api::app_with(state, pages(web, max))
}

async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return coffre_api::no_such_route().await.into_response();
    }
    PageError::NotFound.into_response()
}

/// The page of an error, drawn in the language of the request.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Ctx,
    text: String,
    request_id: Option<String>,
    next_href: &'static str,
    next_label: String,
}

async fn render_errors(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let lang = lang_of(&parts.headers);
    let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
    let web = crate::ctx::web_config(&parts);
    let path = parts.uri.path().to_owned();
    let mut res = next.run(Request::from_parts(parts, body)).await;
    let err = match res.extensions_mut().remove::<PageError>() {
        Some(err) => err,
        // A time limit, or a refusal from below a handler (the body limit):
        // a page too, never a bare status.
        None if res.status() == StatusCode::REQUEST_TIMEOUT => PageError::TimedOut,
        None if res.status() == StatusCode::PAYLOAD_TOO_LARGE => PageError::TooLarge,
        None => return res,
    };
    let tr = i18n::Tr::new(lang);
    let pro = path == "/pro" || path.starts_with("/pro/");
    if let PageError::NotLoggedIn { ended } = err {
        let to = match (pro, ended) {
            (true, true) => "/pro/connexion?fin=1",
            (true, false) => "/pro/connexion",
            (false, true) => "/connexion?fin=1",
            (false, false) => "/connexion",
        };
        let mut r = Redirect::to(to).into_response();
        if ended {
            for c in cleared_cookies() {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r.headers_mut().insert(
                "clear-site-data",
                HeaderValue::from_static("\"cache\", \"storage\""),
            );
        }
        return r;
    }
    let (title, text) = err.keys();
    let visitor = Visitor { tr, web, path };
    let text = match &err {
        PageError::Locked { retry_after } => {
            tr.n("err-locked-text", retry_after.as_secs().div_ceil(60).max(1))
        }
        _ => tr.t(text),
    };
    let (next_href, next_key) = match &err {
        PageError::Locked { .. } | PageError::Busy { .. } if pro => {
            ("/pro/connexion", "err-next-login")
        }
        _ if pro => ("/pro", "pro-next-home"),
        PageError::Locked { .. } | PageError::Busy { .. } => ("/connexion", "err-next-login"),
        PageError::NotForCaseworkers => ("/", "err-next-home"),
        _ => ("/papiers", "err-next-papers"),
    };
    let page = ErrorPage {
        c: Ctx::visitor(&visitor, title),
        text,
        request_id: matches!(err, PageError::Internal(_))
            .then_some(request_id)
            .flatten(),
        next_href,
        next_label: tr.t(next_key),
    };
    let html = page.render().unwrap_or_else(|_| String::from("Erreur"));
    let mut out = (err.status(), html_headers(), html).into_response();
    for (k, v) in res.headers() {
        if k == header::RETRY_AFTER || k == header::SET_COOKIE {
            out.headers_mut().append(k.clone(), v.clone());
        }
    }
    if let PageError::Internal(kind) = err {
        out.extensions_mut()
            .insert(coffre_api::ServerErrorKind(kind));
    }
    out
}

/// The pages' cookie, deleted under both of its names (the error path
/// does not know which one this site uses; deleting an absent cookie is
/// harmless).
fn cleared_cookies() -> [HeaderValue; 4] {
    [
        HeaderValue::from_static("coffre_page=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        HeaderValue::from_static(
            "__Host-coffre_page=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        ),
        HeaderValue::from_static("coffre_pro=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        HeaderValue::from_static(
            "__Host-coffre_pro=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        ),
    ]
}

/// `Content-Type` of a page.
pub(crate) fn html_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    )]
}

/// Renders a page with a status.
pub(crate) fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (status, html_headers(), html).into_response(),
        Err(_) => PageError::Internal("template").into_response(),
    }
}

/// Renders a page (200).
pub(crate) fn ok<T: Template>(t: &T) -> Response {
    page(StatusCode::OK, t)
}

/// After logging out: to `to`, the cookie deleted, and the browser told
/// to forget what it kept (Back shows nothing).
pub(crate) fn logged_out(to: &str, cleared: HeaderValue) -> Response {
    let mut r = see_other(to);
    r.headers_mut().insert(header::SET_COOKIE, cleared);
    r.headers_mut().insert(
        "clear-site-data",
        HeaderValue::from_static("\"cache\", \"storage\""),
    );
    r
}

/// After a form: back to a page of ours (303, so Back does not re-post).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(crate::ctx::local_path(to)).into_response()
}
