//! `/healthz`, `/readyz`, `/metrics`, `/api/v1/openapi.json`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(|| async { Json(openapi()) }))
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.vault.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics.render();
    if let Some(s) = state.vault.last_scrub() {
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
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// Every route the API serves: (method, path, summary, auth). The OpenAPI
/// document is generated from this table, and a test checks that each entry
/// is really served (and that no served route is missing from it).
pub const ROUTES: &[(&str, &str, &str, bool)] = &[
    (
        "post",
        "/api/v1/enrollments",
        "A caseworker activates their account with a one-time code",
        false,
    ),
    (
        "post",
        "/api/v1/sessions",
        "Log in (caseworker or beneficiary)",
        false,
    ),
    ("delete", "/api/v1/sessions/current", "Log out", true),
    (
        "post",
        "/api/v1/structures/{structure_id}/caseworkers",
        "Invite a caseworker (structure admin)",
        true,
    ),
    (
        "post",
        "/api/v1/beneficiaries",
        "Enrol a person (caseworker, with the person present)",
        true,
    ),
    (
        "get",
        "/api/v1/beneficiaries",
        "The beneficiaries linked to the caller's structure",
        true,
    ),
    (
        "delete",
        "/api/v1/beneficiaries/{beneficiary_id}",
        "Erase the whole vault (the person, re-typing their secret)",
        true,
    ),
    (
        "post",
        "/api/v1/beneficiaries/{beneficiary_id}/documents",
        "Upload a document (multipart: fields, then `file`)",
        true,
    ),
    (
        "get",
        "/api/v1/beneficiaries/{beneficiary_id}/documents",
        "List documents (optionally expiring_within_days)",
        true,
    ),
    (
        "post",
        "/api/v1/beneficiaries/{beneficiary_id}/grants",
        "Give a structure consent (the person)",
        true,
    ),
    (
        "get",
        "/api/v1/beneficiaries/{beneficiary_id}/grants",
        "List consent grants",
        true,
    ),
    (
        "get",
        "/api/v1/beneficiaries/{beneficiary_id}/journal",
        "Who did what in this vault (the person)",
        true,
    ),
    (
        "get",
        "/api/v1/beneficiaries/{beneficiary_id}/export",
        "Every document and manifest.json as a ZIP (the person)",
        true,
    ),
    (
        "post",
        "/api/v1/beneficiaries/{beneficiary_id}/recovery",
        "Set a new secret (trustee structure, person present)",
        true,
    ),
    (
        "get",
        "/api/v1/documents/{document_id}",
        "A document's description",
        true,
    ),
    (
        "patch",
        "/api/v1/documents/{document_id}",
        "Edit title, expiry date, privacy (the person)",
        true,
    ),
    (
        "delete",
        "/api/v1/documents/{document_id}",
        "Delete a document (the person)",
        true,
    ),
    (
        "get",
        "/api/v1/documents/{document_id}/content",
        "The document's bytes (Range supported)",
        true,
    ),
    (
        "post",
        "/api/v1/documents/{document_id}/shares",
        "Create a share link",
        true,
    ),
    (
        "delete",
        "/api/v1/grants/{grant_id}",
        "Revoke consent (the person)",
        true,
    ),
    (
        "delete",
        "/api/v1/shares/{share_id}",
        "Revoke a share link",
        true,
    ),
    (
        "get",
        "/s/{token}",
        "Download through a share link (no account)",
        false,
    ),
    ("get", "/healthz", "Process up", false),
    ("get", "/readyz", "Store and database reachable", false),
    ("get", "/metrics", "Prometheus metrics", false),
    ("get", "/api/v1/openapi.json", "This document", false),
];

pub fn openapi() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, summary, auth) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "default": { "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "200": { "description": "OK" }
            }
        });
        if *auth {
            op["security"] = json!([{ "bearer": [] }, { "cookie": [] }]);
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Coffre API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "error": { "type": "object", "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" } } } }
                }
            }
        }
    })
}
