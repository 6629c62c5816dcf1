//! One error type for every page: a status and a page in plain words
//! saying what to do next, never a raw code. A handler returns a
//! [`PageError`]; the response carries it as an extension and the
//! `render_errors` middleware (`lib.rs`) draws the page, in the language of
//! the request.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffre_vault::VaultError;

/// Why a page cannot be shown or an action was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PageError {
    /// No session: to the login page (`ended`: there was one, and it ended).
    #[error("not logged in")]
    NotLoggedIn { ended: bool },
    /// A caseworker's session on the person's pages.
    #[error("caseworker session on a person's page")]
    NotForCaseworkers,
    #[error("not found")]
    NotFound,
    /// The form's CSRF token is missing or wrong.
    #[error("csrf")]
    Csrf,
    /// A POST from another site.
    #[error("other site")]
    OtherSite,
    /// Too many requests from this account or address.
    #[error("too many requests")]
    TooManyRequests,
    /// Locked after repeated failures.
    #[error("locked")]
    Locked { retry_after: Duration },
    /// Too many logins under way (the key-derivation gate is full).
    #[error("busy")]
    Busy { retry_after: Duration },
    /// What was sent cannot be used; the message (a Fluent key) says why.
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// The paper is too large, or the vault is full.
    #[error("too large")]
    TooLarge,
    #[error("quota")]
    Quota,
    /// Gone (a link used up, a paper deleted meanwhile).
    #[error("gone")]
    Gone,
    /// The request took longer than its time limit.
    #[error("timed out")]
    TimedOut,
    /// Something failed on our side; logged with the request id.
    #[error("internal: {0}")]
    Internal(&'static str),
}

pub type PageResult<T> = Result<T, PageError>;

impl PageError {
    pub fn status(&self) -> StatusCode {
        use StatusCode as S;
        match self {
            PageError::NotLoggedIn { .. } => S::SEE_OTHER,
            PageError::NotForCaseworkers => S::FORBIDDEN,
            PageError::NotFound => S::NOT_FOUND,
            PageError::Csrf | PageError::OtherSite => S::FORBIDDEN,
            PageError::TooManyRequests | PageError::Locked { .. } => S::TOO_MANY_REQUESTS,
            PageError::Busy { .. } => S::SERVICE_UNAVAILABLE,
            PageError::Invalid(_) => S::BAD_REQUEST,
            PageError::TooLarge | PageError::Quota => S::PAYLOAD_TOO_LARGE,
            PageError::Gone => S::GONE,
            PageError::TimedOut => S::REQUEST_TIMEOUT,
            PageError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// The Fluent keys of the page's title and explanation.
    pub fn keys(&self) -> (&'static str, &'static str) {
        match self {
            PageError::NotLoggedIn { .. } => ("err-login-title", "err-login-text"),
            PageError::NotForCaseworkers => ("err-pro-title", "err-pro-text"),
            PageError::NotFound => ("err-404-title", "err-404-text"),
            PageError::Csrf | PageError::OtherSite => ("err-csrf-title", "err-csrf-text"),
            PageError::TooManyRequests => ("err-429-title", "err-429-text"),
            PageError::Locked { .. } => ("err-locked-title", "err-locked-text"),
            PageError::Busy { .. } => ("err-busy-title", "err-busy-text"),
            PageError::Invalid(key) => ("err-invalid-title", key),
            PageError::TooLarge => ("err-large-title", "err-large-text"),
            PageError::Quota => ("err-quota-title", "err-quota-text"),
            PageError::Gone => ("err-gone-title", "err-gone-text"),
            PageError::TimedOut => ("err-timeout-title", "err-timeout-text"),
            PageError::Internal(_) => ("err-500-title", "err-500-text"),
        }
    }
}

impl From<VaultError> for PageError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound => PageError::NotFound,
            // On the person's pages, what is not theirs does not exist
            // (the same answer as an id that names nothing).
            VaultError::Forbidden(_) => PageError::NotFound,
            VaultError::Unauthenticated => PageError::NotLoggedIn { ended: true },
            VaultError::LockedOut { retry_after } => PageError::Locked { retry_after },
            VaultError::Busy { retry_after } => PageError::Busy { retry_after },
            VaultError::Invalid(_) => PageError::Invalid("err-invalid-text"),
            VaultError::WeakSecret(_) => PageError::Invalid("err-weak-secret"),
            // A cap reached (papers shown at once, links, papers in the
            // vault): trying again will not help, saying so will.
            VaultError::Conflict(why)
                if why.starts_with("too many") || why.contains("maximum number") =>
            {
                PageError::Invalid("err-too-many")
            }
            VaultError::Conflict(_) => PageError::Invalid("err-conflict"),
            VaultError::TooLarge { .. } => PageError::TooLarge,
            VaultError::QuotaExceeded { .. } => PageError::Quota,
            VaultError::Gone => PageError::Gone,
            VaultError::RecoveryImpossible => PageError::Invalid("err-invalid-text"),
            other => PageError::Internal(other.kind()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        if let PageError::Locked { retry_after } | PageError::Busy { retry_after } = &self
            && let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let PageError::Internal(kind) = &self {
            r.extensions_mut().insert(coffre_api::ServerErrorKind(kind));
        }
        r.extensions_mut().insert(self);
        r
    }
}
