//! JSON extractor whose rejections answer in the API's error format.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => {
                // Keep the rejection's meaning (413 too large, 415 wrong
                // content type, 422 wrong shape), in our error format. axum
                // reports an over-long body as a buffering failure.
                let text = r.body_text();
                let status = if text.contains("length limit exceeded") {
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    r.status()
                };
                let code = match status.as_u16() {
                    413 => "too_large",
                    415 => "unsupported_media_type",
                    _ => "invalid_input",
                };
                Err(ApiError::new(
                    status,
                    code,
                    format!("invalid JSON body: {text}"),
                ))
            }
        }
    }
}

/// Parses an id from a path segment (400 when malformed).
pub fn id<T: std::str::FromStr>(s: &str) -> Result<T, ApiError> {
    s.parse().map_err(|_| ApiError::bad_request("malformed id"))
}
