//! Every request gets an id: in the `x-request-id` header of its answer,
//! in the JSON body of an error, and in the log line of every server error
//! — logged here, once, with the route template and the error's kind
//! (never a secret, a title or a concrete path).

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::ErrorKind;

/// The id of one request (16 hex digits).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    fn new() -> Self {
        let mut b = [0u8; 8];
        // The system RNG failing is no reason to fail a request: an id
        // of zeros still names the log line.
        let _ = SystemRandom::new().fill(&mut b);
        Self(hex::encode(b))
    }
}

/// What failed, for the log line of a server error whose answer is not
/// JSON (a web page): set on the response's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ServerErrorKind(pub &'static str);

/// The header carrying the id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub(crate) async fn track(mut req: Request, next: Next) -> Response {
    let id = RequestId::new();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    req.extensions_mut().insert(id.clone());
    let mut res = next.run(req).await;
    let status = res.status();
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let error = res.extensions_mut().remove::<ErrorKind>();
    let page_kind = res.extensions_mut().remove::<ServerErrorKind>();
    if status.is_server_error() {
        tracing::error!(
            request_id = %id.0,
            route = %route,
            method = %method,
            status = status.as_u16(),
            kind = error
                .as_ref()
                .and_then(|e| e.kind)
                .or(page_kind.map(|k| k.0))
                .unwrap_or("unknown"),
            "server error"
        );
    }
    if let Some(mut e) = error {
        e.body.error.request_id = Some(id.0);
        if let Ok(json) = serde_json::to_vec(&e.body) {
            res.headers_mut().remove(header::CONTENT_LENGTH);
            *res.body_mut() = Body::from(json);
        }
    }
    res
}
