//! One error type for every handler: a status and
//! `{"error":{"code","message","request_id"}}`.
//!
//! Turning a vault error into an answer logs nothing: the request-id
//! middleware (`request_id.rs`) logs every 5xx once, with the request id,
//! the route template and the error's kind, which it reads from the
//! response (see [`ErrorKind`]).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffre_vault::VaultError;
use serde::Serialize;
use utoipa::ToSchema;

/// An answer other than success.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable code (`not_found`, `locked_out`…).
    pub code: &'static str,
    /// A sentence for people; never a secret, a title or what was sent.
    pub message: String,
    pub retry_after: Option<u64>,
    /// For 5xx: what failed, for the log only (never sent).
    pub kind: Option<&'static str>,
}

/// The body of every error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The id of this request, also in the `x-request-id` header; quote it
    /// when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What an error response carries for the middleware: its body (to add
/// the request id) and, for a 5xx, what failed.
#[derive(Debug, Clone)]
pub(crate) struct ErrorKind {
    pub body: ErrorBody,
    pub kind: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            kind: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in first (Authorization: Bearer <token>)",
        )
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }
    pub fn account_rate_limited() -> Self {
        Self {
            retry_after: Some(60),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from this account; retry in a minute",
            )
        }
    }

    pub fn rate_limited() -> Self {
        Self {
            retry_after: Some(60),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts from this address; retry in a minute",
            )
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        use StatusCode as S;
        let message = e.to_string();
        match e {
            VaultError::NotFound => Self::new(S::NOT_FOUND, "not_found", message),
            VaultError::Forbidden(_) => Self::new(S::FORBIDDEN, "forbidden", message),
            VaultError::Unauthenticated => Self::new(S::UNAUTHORIZED, "unauthenticated", message),
            VaultError::LockedOut { retry_after } => Self {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..Self::new(S::TOO_MANY_REQUESTS, "locked_out", message)
            },
            VaultError::Invalid(_) => Self::new(S::BAD_REQUEST, "invalid_input", message),
            VaultError::Busy { retry_after } => Self {
                retry_after: Some(retry_after.as_secs().max(1)),
                ..Self::new(S::SERVICE_UNAVAILABLE, "busy", message)
            },
            VaultError::WeakSecret(_) => Self::new(S::BAD_REQUEST, "weak_secret", message),
            VaultError::Conflict(_) => Self::new(S::CONFLICT, "conflict", message),
            VaultError::TooLarge { .. } => Self::new(S::PAYLOAD_TOO_LARGE, "too_large", message),
            VaultError::QuotaExceeded { .. } => {
                Self::new(S::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
            }
            VaultError::Gone => Self::new(S::GONE, "gone", message),
            VaultError::RecoveryImpossible => {
                Self::new(S::CONFLICT, "recovery_impossible", message)
            }
            VaultError::Integrity => Self {
                kind: Some("integrity_error"),
                ..Self::new(S::INTERNAL_SERVER_ERROR, "integrity_error", message)
            },
            VaultError::Tampered(_) => Self {
                kind: Some("tampered"),
                ..Self::new(S::INTERNAL_SERVER_ERROR, "integrity_error", message)
            },
            VaultError::Store(ref s) if s.is_retryable() => Self {
                kind: Some("store_unavailable"),
                ..Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the document store is unavailable; retry later",
                )
            },
            other => Self {
                kind: Some(other.kind()),
                ..Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                request_id: None,
            },
        };
        let mut r = (self.status, Json(body.clone())).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r.extensions_mut().insert(ErrorKind {
            body,
            kind: self.kind,
        });
        r
    }
}

/// What every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

/// The refusals every route that takes a session and an id in its path
/// may answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum Refusals {
    /// A malformed id or body.
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// Not logged in, or the session ended.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// Not allowed for this session, or a cookie without its CSRF token.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Nothing of that id this session may know of.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Too many requests from this account in a minute (see Retry-After).
    #[response(status = 429)]
    TooMany(ErrorBody),
}

/// What a route with a JSON body may answer about the body itself.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum BodyRefusals {
    /// Not JSON of the expected shape.
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// Larger than a JSON body may be (64 KiB).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Not sent as `application/json`.
    #[response(status = 415)]
    NotJson(ErrorBody),
}
