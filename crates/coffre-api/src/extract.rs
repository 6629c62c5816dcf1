//! Extractors whose rejections answer in the API's error format: JSON
//! bodies, path parameters (ids), query strings.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; a wrong one is a 400 (or 413, 415) in our format.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => {
                // Keep the rejection's meaning (413 too large, 415 wrong
                // content type, 422 wrong shape) in our error format; say
                // what is wrong without echoing what was sent. axum
                // reports an over-long body as a buffering failure.
                let text = r.body_text();
                // One status for a body of the wrong shape, whatever serde
                // found wrong in it: 400 (axum says 422 for some).
                let status = if text.contains("length limit exceeded") {
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE
                } else if r.status() == axum::http::StatusCode::UNPROCESSABLE_ENTITY {
                    axum::http::StatusCode::BAD_REQUEST
                } else {
                    r.status()
                };
                let (code, message) = match status.as_u16() {
                    413 => ("too_large", "the body is too large".to_owned()),
                    415 => (
                        "unsupported_media_type",
                        "send JSON (content-type: application/json)".to_owned(),
                    ),
                    _ => ("invalid_input", json_problem(&text)),
                };
                Err(ApiError::new(status, code, message))
            }
        }
    }
}

/// What is wrong with a JSON body, without the values it held: serde's
/// messages quote what they could not parse ("invalid type: integer `123456`,
/// expected a string"), so only the field path and the expectation are kept.
fn json_problem(text: &str) -> String {
    // axum: "Failed to deserialize the JSON body into the target type: <path>: <serde message> at line L column C"
    let detail = text.rsplit_once("target type: ").map_or(text, |(_, d)| d);
    let expected = detail
        .split_once("expected ")
        .map(|(_, e)| e.split(" at line").next().unwrap_or(e).trim());
    let field = detail.split_once(": ").map(|(f, _)| f).filter(|f| {
        f.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c))
    });
    let missing = detail
        .split_once("missing field `")
        .and_then(|(_, r)| r.split_once('`'))
        .map(|(f, _)| f);
    match (missing, field, expected) {
        (Some(m), _, _) => format!("invalid JSON body: missing field {m}"),
        (None, Some(f), Some(e)) => format!("invalid JSON body: {f}: expected {e}"),
        (None, None, Some(e)) => format!("invalid JSON body: expected {e}"),
        _ => "invalid JSON body".to_owned(),
    }
}

/// A path parameter parsed into its type (an id); a malformed one is a 400.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(_) => Err(ApiError::bad_request("malformed id in the path")),
        }
    }
}

/// A query string; a wrong one is a 400.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(_) => Err(ApiError::bad_request(
                "query string: unknown parameter or malformed value",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_problems_never_echo_values() {
        let t = "Failed to deserialize the JSON body into the target type: secret: invalid type: integer `482913`, expected a string at line 1 column 40";
        let m = json_problem(t);
        assert_eq!(m, "invalid JSON body: secret: expected a string");
        assert!(!m.contains("482913"));
        let t = "Failed to deserialize the JSON body into the target type: missing field `secret` at line 1 column 2";
        assert_eq!(json_problem(t), "invalid JSON body: missing field secret");
        let t = "Failed to parse the request body as JSON: key must be a string at line 1 column 2";
        assert!(!json_problem(t).contains("line"));
    }
}
