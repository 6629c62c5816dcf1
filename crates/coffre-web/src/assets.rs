//! The stylesheet and the one script, baked into the binary and served
//! from our own origin (no font, no CDN: nothing leaves for another site).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use coffre_api::AppState;

const CSS: &str = include_str!("../static/coffre.css");
const JS: &str = include_str!("../static/coffre.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/coffre.css", get(css))
        .route("/static/coffre.js", get(js))
}

/// Public and the same for everyone: a cheap phone keeps it an hour.
fn cached(kind: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
}

async fn css() -> impl IntoResponse {
    cached("text/css; charset=utf-8", CSS)
}

async fn js() -> impl IntoResponse {
    cached("text/javascript; charset=utf-8", JS)
}
