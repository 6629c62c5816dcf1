//! `/api/v1/beneficiaries` and everything under one vault.

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_vault::{Category, DocumentInfo, NewBeneficiary, NewDocument, NewGrant, Permission};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, id};
use crate::{AppState, document_json};

pub fn router(max_upload: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v1/beneficiaries", post(enrol).get(list))
        .route(
            "/api/v1/beneficiaries/{beneficiary_id}",
            axum::routing::delete(erase),
        )
        .route(
            "/api/v1/beneficiaries/{beneficiary_id}/documents",
            post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(max_upload))
                .get(documents),
        )
        .route(
            "/api/v1/beneficiaries/{beneficiary_id}/grants",
            post(create_grant).get(grants),
        )
        .route(
            "/api/v1/beneficiaries/{beneficiary_id}/journal",
            get(journal),
        )
        .route("/api/v1/beneficiaries/{beneficiary_id}/export", get(export))
        .route(
            "/api/v1/beneficiaries/{beneficiary_id}/recovery",
            post(recover),
        )
}

#[derive(Deserialize)]
pub struct GrantBody {
    #[serde(default)]
    structure_id: Option<String>,
    categories: Vec<Category>,
    permissions: Vec<Permission>,
    days: u32,
}

impl GrantBody {
    fn new_grant(&self) -> NewGrant {
        NewGrant {
            categories: self.categories.clone(),
            permissions: self.permissions.clone(),
            days: self.days,
        }
    }
}

#[derive(Deserialize)]
struct Enrol {
    identifier: String,
    display_name: String,
    secret: String,
    #[serde(default)]
    recovery_trustee: bool,
    #[serde(default)]
    grant: Option<GrantBody>,
}

async fn enrol(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(e): ApiJson<Enrol>,
) -> ApiResult<Response> {
    let out = state
        .vault
        .enrol_beneficiary(
            &auth.session,
            NewBeneficiary {
                identifier: e.identifier,
                display_name: e.display_name,
                secret: UserSecret::new(e.secret),
                recovery_trustee: e.recovery_trustee,
                grant: e.grant.as_ref().map(GrantBody::new_grant),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "beneficiary_id": out.beneficiary_id, "warning": out.warning })),
    )
        .into_response())
}

async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    let list = state.vault.list_beneficiaries(&auth.session).await?;
    let items: Vec<_> = list
        .into_iter()
        .map(|(id, name)| json!({ "beneficiary_id": id, "display_name": name }))
        .collect();
    Ok(Json(json!({ "beneficiaries": items })))
}

#[derive(Deserialize)]
struct ListQuery {
    expiring_within_days: Option<u32>,
}

async fn documents(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(q) =
        q.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let b: PrincipalId = id(&b)?;
    let docs = match q.expiring_within_days {
        Some(days) => {
            state
                .vault
                .expiring_documents(&auth.session, b, days)
                .await?
        }
        None => state.vault.list_documents(&auth.session, b).await?,
    };
    let items: Vec<_> = docs.iter().map(document_json).collect();
    Ok(Json(json!({ "documents": items })))
}

/// Multipart upload, streamed: the text fields (`title`, `category`,
/// `expires_on`, `private`) come first, then the `file` part, whose bytes go
/// straight through encryption to the store.
async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let mut form = form.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("uploads are multipart/form-data: {}", e.body_text()),
        )
    })?;
    let b: PrincipalId = id(&b)?;
    let mut meta = NewDocument::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("multipart: {}", e.body_text()))
    };
    loop {
        let Some(mut field) = form.next_field().await.map_err(bad)? else {
            return Err(ApiError::bad_request("no `file` part in the form"));
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            meta.filename = field.file_name().unwrap_or("document").to_owned();
            meta.content_type = field.content_type().map(str::to_owned);
            let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
            let body = tokio_stream_of(rx);
            let metrics = state.metrics.clone();
            let feed = async move {
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            metrics.upload_bytes.fetch_add(
                                chunk.len() as u64,
                                std::sync::atomic::Ordering::Relaxed,
                            );
                            if tx.send(Ok(chunk)).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(std::io::Error::other(e.body_text()))).await;
                            break;
                        }
                    }
                }
            };
            let (res, ()) = tokio::join!(state.vault.upload(&auth.session, b, meta, body), feed);
            let info: DocumentInfo = res?;
            return Ok((
                StatusCode::CREATED,
                Json(json!({ "document_id": info.document_id, "size": info.size, "sha256": info.sha256 })),
            )
                .into_response());
        }
        // Read piece by piece: a huge text field is refused, never buffered.
        let mut raw = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if raw.len() + chunk.len() > MAX_TEXT_FIELD {
                return Err(ApiError::bad_request(format!(
                    "field {name} longer than {MAX_TEXT_FIELD} bytes"
                )));
            }
            raw.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(raw)
            .map_err(|_| ApiError::bad_request(format!("field {name} is not UTF-8")))?;
        match name.as_str() {
            "title" => meta.title = Some(text),
            "category" => {
                meta.category =
                    Some(text.parse().map_err(|e: coffre_vault::VaultError| {
                        ApiError::bad_request(e.to_string())
                    })?)
            }
            "expires_on" => meta.expires_on = Some(text).filter(|t| !t.is_empty()),
            "private" => meta.private = Some(matches!(text.as_str(), "true" | "1" | "on" | "yes")),
            "notes" => meta.notes = Some(text),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field {other:?}"
                )));
            }
        }
    }
}

/// Longest text field of the upload form (titles, notes).
const MAX_TEXT_FIELD: usize = 8000;

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> coffre_vault::PlaintextStream {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

async fn create_grant(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
    ApiJson(g): ApiJson<GrantBody>,
) -> ApiResult<Response> {
    let b: PrincipalId = id(&b)?;
    let structure: PrincipalId = id(g
        .structure_id
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("structure_id is required"))?)?;
    let grant = state
        .vault
        .create_grant(&auth.session, b, structure, g.new_grant())
        .await?;
    Ok((StatusCode::CREATED, Json(grant_json(&grant))).into_response())
}

pub fn grant_json(g: &coffre_vault::model::GrantRecord) -> serde_json::Value {
    json!({
        "grant_id": g.id,
        "beneficiary_id": g.beneficiary,
        "structure_id": g.structure,
        "categories": g.categories,
        "permissions": g.permissions,
        "created_at_ms": g.created_ms,
        "expires_at_ms": g.expires_ms,
        "revoked_at_ms": g.revoked_ms,
    })
}

async fn grants(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let b: PrincipalId = id(&b)?;
    let list = state.vault.list_grants(&auth.session, b).await?;
    Ok(Json(
        json!({ "grants": list.iter().map(grant_json).collect::<Vec<_>>() }),
    ))
}

async fn journal(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let b: PrincipalId = id(&b)?;
    let entries = state.vault.vault_journal(&auth.session, b, 10_000).await?;
    Ok(Json(json!({ "entries": entries })))
}

/// The whole vault as a ZIP, streamed as it is written.
async fn export(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
) -> ApiResult<Response> {
    let b: PrincipalId = id(&b)?;
    // Refuse before streaming, so a refusal is a clean 403/404 (the vault
    // checks and journals it before writing a byte).
    let owner =
        matches!(auth.session.principal, coffre_vault::Principal::Beneficiary { id } if id == b);
    if !owner {
        state
            .vault
            .export(&auth.session, b, std::io::sink())
            .await?;
        return Err(ApiError::not_found());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let vault = state.vault.clone();
    let session = auth.session.clone();
    tokio::spawn(async move {
        if let Err(e) = vault.export_to_channel(&session, b, &tx).await {
            // Cuts the response: the client sees an incomplete download,
            // never a ZIP that looks whole.
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let mut r = Body::from_stream(tokio_stream_of(rx)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"coffre-{b}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[derive(Deserialize)]
struct Recover {
    new_secret: String,
}

async fn recover(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
    ApiJson(r): ApiJson<Recover>,
) -> ApiResult<StatusCode> {
    let b: PrincipalId = id(&b)?;
    state
        .vault
        .recover(&auth.session, b, UserSecret::new(r.new_secret))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Erase {
    secret: String,
}

async fn erase(
    State(state): State<AppState>,
    auth: Auth,
    Path(b): Path<String>,
    ApiJson(e): ApiJson<Erase>,
) -> ApiResult<StatusCode> {
    let b: PrincipalId = id(&b)?;
    state
        .vault
        .erase_vault(&auth.session, b, UserSecret::new(e.secret))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
