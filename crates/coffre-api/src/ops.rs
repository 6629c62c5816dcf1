//! `/healthz`, `/readyz`, `/metrics`, `/api/v1/openapi.json`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ErrorBody;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", content_type = "text/plain", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The object store and the database answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", content_type = "text/plain", body = String),
        (status = 503, description = "The store does not answer", body = ErrorBody),
        (status = 500, description = "The database does not read", body = ErrorBody),
    ))]
async fn ready(State(state): State<AppState>) -> Response {
    match state.vault.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// Prometheus metrics, for the bearer of the configured metrics token
/// only (not served at all without one).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "No or wrong metrics token", body = ErrorBody),
        (status = 404, description = "No metrics token configured", body = ErrorBody),
    ))]
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return crate::ApiError::new(
            StatusCode::NOT_FOUND,
            "metrics_not_served",
            "metrics are served only with a token (server.metrics_token_file); the operator reads them with `coffre admin metrics`",
        )
        .into_response();
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, t)| t.trim());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        sent.as_bytes(),
        token.as_bytes(),
    )) {
        return crate::ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the metrics token is missing or wrong",
        )
        .into_response();
    }
    let mut r = metrics_text(&state.metrics, &state.vault).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// The Prometheus text of the server's metrics and the last scrub.
pub fn metrics_text(metrics: &crate::Metrics, vault: &coffre_vault::Vault) -> String {
    let mut text = metrics.render();
    if let Some(s) = vault.last_scrub() {
        use std::fmt::Write;
        for (name, help, v) in [
            (
                "coffre_scrub_checked_objects",
                "Objects the last scrub read.",
                s.checked,
            ),
            (
                "coffre_scrub_missing_objects",
                "Documents whose object the last scrub did not find.",
                s.missing,
            ),
            (
                "coffre_scrub_corrupt_objects",
                "Objects the last scrub found altered.",
                s.corrupt,
            ),
            (
                "coffre_scrub_orphan_objects",
                "Objects no document points at.",
                s.orphans,
            ),
        ] {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}"
            );
        }
        let _ = writeln!(
            text,
            "# HELP coffre_scrub_last_run_timestamp_seconds When the last scrub finished.\n# TYPE coffre_scrub_last_run_timestamp_seconds gauge\ncoffre_scrub_last_run_timestamp_seconds {}",
            s.finished_ms / 1000
        );
    }
    text
}

/// This document: the OpenAPI 3.1 description of every route.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    let mut r = crate::openapi_json().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
