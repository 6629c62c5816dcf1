//! One error type for every handler: a status and `{"error":{"code","message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffre_vault::VaultError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
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
            VaultError::Conflict(_) => Self::new(S::CONFLICT, "conflict", message),
            VaultError::TooLarge { .. } => Self::new(S::PAYLOAD_TOO_LARGE, "too_large", message),
            VaultError::QuotaExceeded { .. } => {
                Self::new(S::PAYLOAD_TOO_LARGE, "quota_exceeded", message)
            }
            VaultError::Gone => Self::new(S::GONE, "gone", message),
            VaultError::RecoveryImpossible => {
                Self::new(S::CONFLICT, "recovery_impossible", message)
            }
            VaultError::Integrity => {
                Self::new(S::INTERNAL_SERVER_ERROR, "integrity_error", message)
            }
            VaultError::Store(ref s) if s.is_retryable() => Self::new(
                S::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the document store is unavailable; retry later",
            ),
            _ => {
                tracing::error!(error = %message, "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "code": self.code, "message": self.message } }));
        let mut r = (self.status, body).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
