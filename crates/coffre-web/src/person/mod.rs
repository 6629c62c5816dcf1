//! The person's pages, one module per page; what they share: typed form
//! and path extractors whose refusals are pages.

mod access;
mod account;
pub(crate) mod add;
mod journal;
mod links;
mod login;
pub(crate) mod papers;
mod show;

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use coffre_api::AppState;
use serde::de::DeserializeOwned;
use tower_http::timeout::TimeoutLayer;

use crate::error::PageError;

/// The pages with their time limits: 30 s for a page, an hour for the
/// routes that carry a paper (100 MiB over a slow phone connection).
pub fn router(max_body_bytes: usize) -> Router<AppState> {
    let short =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30));
    let long =
        || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(3600));
    Router::new()
        .merge(login::router().layer(short()))
        .merge(papers::router().layer(short()))
        .merge(links::router().layer(short()))
        .merge(access::router().layer(short()))
        .merge(journal::router().layer(short()))
        .merge(account::router().layer(short()))
        .merge(show::router().layer(short()))
        .merge(show::agent().layer(long()))
        .merge(papers::files().layer(long()))
        .merge(account::files().layer(long()))
        .merge(add::router(max_body_bytes).layer(long()))
}

/// An urlencoded form; a malformed one is a page saying so.
#[derive(Debug)]
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(t)) => Ok(PageForm(t)),
            Err(_) => Err(PageError::Invalid("err-form")),
        }
    }
}

/// A query string; one that does not parse is a page saying so.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(t)) => Ok(Query(t)),
            Err(_) => Err(PageError::Invalid("err-form")),
        }
    }
}

/// A typed path parameter; one that does not parse names nothing here.
#[derive(Debug)]
pub struct PagePath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PagePath<T> {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(PagePath(t)),
            Err(_) => Err(PageError::NotFound),
        }
    }
}

/// A copy for a browser to show (a duplicate to print, the agent's copy):
/// a marked PDF inline, without `sandbox` (it would stop the browser's
/// PDF viewer); anything else — a paper that could not carry a mark —
/// saved, never shown on our origin.
pub fn shown_copy(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    // Only a copy that carries its mark is shown (a PDF Coffre could not
    // read is a PDF too, but leaves unmarked: saved, never shown).
    let pdf = r.extensions().get::<coffre_api::CopyMarked>().is_some()
        && r.headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/pdf");
    let h = r.headers_mut();
    if pdf {
        if let Some(v) = h.get(header::CONTENT_DISPOSITION).cloned()
            && let Ok(s) = v.to_str()
            && let Ok(v) = HeaderValue::from_str(&s.replacen("attachment", "inline", 1))
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    } else {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
    }
    r
}

/// Counts a request against its client address (logins, counter codes):
/// past the limit, the "too many tries" page.
pub fn per_address(state: &AppState, client: std::net::IpAddr) -> Result<(), PageError> {
    state
        .per_address(client)
        .map_err(|_| PageError::TooManyRequests)
}

/// One of the person's own papers, as they see it (journaled as read);
/// anyone else's does not exist.
pub async fn own_paper(
    state: &AppState,
    p: &crate::session::Person,
    id: coffre_crypto::DocumentId,
) -> Result<coffre_vault::DocumentInfo, PageError> {
    let d = state.vault.document_info(&p.session, id).await?;
    if d.beneficiary_id != p.id {
        return Err(PageError::NotFound);
    }
    Ok(d)
}

/// A form that carries only its CSRF token (a button).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}
