//! `/api/v1/documents/{id}`, its content and share links; grant and share
//! revocation; `/s/{token}` for third parties.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use coffre_crypto::{DocumentId, GrantId, ShareId};
use coffre_vault::{DocumentInfo, PlaintextStream};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, id};
use crate::{AppState, document_json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/documents/{document_id}",
            get(info).patch(update).delete(remove),
        )
        .route("/api/v1/documents/{document_id}/content", get(content))
        .route("/api/v1/documents/{document_id}/shares", post(share))
        .route("/api/v1/grants/{grant_id}", delete(revoke_grant))
        .route("/api/v1/shares/{share_id}", delete(revoke_share))
        .route("/s/{token}", get(redeem))
}

async fn info(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let d: DocumentId = id(&d)?;
    Ok(Json(document_json(
        &state.vault.document_info(&auth.session, d).await?,
    )))
}

/// RFC 7233 single range `bytes=a-b`, `bytes=a-`, `bytes=-n`.
fn parse_range(h: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.checked_add(1)?.min(size),
        ),
    };
    (start < end && start < size).then_some(start..end)
}

fn disposition(filename: &str) -> String {
    // ASCII fallback plus the UTF-8 name, percent-encoded (RFC 6266).
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.as_bytes() {
        if b.is_ascii_alphanumeric() || b".-_".contains(b) {
            encoded.push(*b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn stream_response(
    state: &AppState,
    status: StatusCode,
    info: &DocumentInfo,
    len: u64,
    stream: PlaintextStream,
) -> Response {
    let metrics = state.metrics.clone();
    let counted = stream.inspect(move |c| {
        if let Ok(b) = c {
            metrics
                .download_bytes
                .fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let mut r = Response::new(Body::from_stream(counted));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let ct = HeaderValue::from_str(&info.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(v) = HeaderValue::from_str(&disposition(&info.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    r
}

async fn content(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let d: DocumentId = id(&d)?;
    // A Range in another unit than bytes is ignored (RFC 9110 §14.2): the
    // whole document is sent.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|r| r.trim_start().starts_with("bytes="));
    if let Some(range) = range {
        let info = state.vault.document_info(&auth.session, d).await?;
        let Some(r) = parse_range(range, info.size) else {
            let mut resp = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "bad_range",
                "unsatisfiable range",
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", info.size)) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        };
        let (info, r, stream) = state.vault.download_range(&auth.session, d, r).await?;
        let mut resp = stream_response(
            &state,
            StatusCode::PARTIAL_CONTENT,
            &info,
            r.end - r.start,
            stream,
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("bytes {}-{}/{}", r.start, r.end - 1, info.size))
        {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(resp);
    }
    let (info, stream) = state.vault.download(&auth.session, d).await?;
    Ok(stream_response(
        &state,
        StatusCode::OK,
        &info,
        info.size,
        stream,
    ))
}

#[derive(Deserialize)]
struct Patch {
    title: Option<String>,
    /// `null` clears the date; absent leaves it.
    #[serde(default, with = "double_option")]
    expires_on: Option<Option<String>>,
    private: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
    ApiJson(p): ApiJson<Patch>,
) -> ApiResult<Json<serde_json::Value>> {
    let d: DocumentId = id(&d)?;
    let mut info = None;
    // Privacy and the other fields are separate acts (and journal entries).
    if p.title.is_some() || p.expires_on.is_some() {
        info = Some(
            state
                .vault
                .update_document(&auth.session, d, p.title, p.expires_on, None)
                .await?,
        );
    }
    if let Some(private) = p.private {
        info = Some(
            state
                .vault
                .update_document(&auth.session, d, None, None, Some(private))
                .await?,
        );
    }
    let info = match info {
        Some(i) => i,
        None => {
            return Err(ApiError::bad_request(
                "nothing to change: give title, expires_on or private",
            ));
        }
    };
    Ok(Json(document_json(&info)))
}

async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
) -> ApiResult<StatusCode> {
    let d: DocumentId = id(&d)?;
    state.vault.delete_document(&auth.session, d).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ShareBody {
    days: Option<u32>,
    max_downloads: Option<u32>,
}

async fn share(
    State(state): State<AppState>,
    auth: Auth,
    Path(d): Path<String>,
    ApiJson(b): ApiJson<ShareBody>,
) -> ApiResult<Response> {
    let d: DocumentId = id(&d)?;
    let created = state
        .vault
        .create_share(&auth.session, d, b.days, b.max_downloads.unwrap_or(5))
        .await?;
    let token: &str = &created.token;
    let url = format!(
        "{}/s/{token}",
        state.config.public_url.trim_end_matches('/')
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({ "share_id": created.share_id, "url": url, "expires_at": created.expires_ms / 1000, "expires_at_ms": created.expires_ms })),
    )
        .into_response())
}

async fn revoke_grant(
    State(state): State<AppState>,
    auth: Auth,
    Path(g): Path<String>,
) -> ApiResult<StatusCode> {
    let g: GrantId = id(&g)?;
    state.vault.revoke_grant(&auth.session, g).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_share(
    State(state): State<AppState>,
    auth: Auth,
    Path(s): Path<String>,
) -> ApiResult<StatusCode> {
    let s: ShareId = id(&s)?;
    state.vault.revoke_share(&auth.session, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn redeem(
    State(state): State<AppState>,
    crate::ClientAddr(client): crate::ClientAddr,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    // Token guessing costs a journal write each: limited per address.
    if !state.limiter.allow(client) {
        return Err(crate::sessions::rate_limited());
    }
    let (info, stream) = state
        .vault
        .redeem_share(&token)
        .await
        .map_err(|e| match e {
            // A link that does not parse is as gone as a revoked one.
            coffre_vault::VaultError::NotFound => coffre_vault::VaultError::Gone,
            e => e,
        })?;
    Ok(stream_response(
        &state,
        StatusCode::OK,
        &info,
        info.size,
        stream,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-0", 10), Some(0..1));
        assert_eq!(parse_range("bytes=5-", 10), Some(5..10));
        assert_eq!(parse_range("bytes=-3", 10), Some(7..10));
        assert_eq!(parse_range("bytes=8-100", 10), Some(8..10));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=3-2", 10), None);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_range("bytes=-18446744073709551615", 10), Some(0..10));
    }

    #[test]
    fn disposition_escapes() {
        let d = disposition("carte d'identité \"x\".pdf");
        assert!(
            d.starts_with("attachment; filename=\"carte d_identit_ _x_.pdf\""),
            "{d}"
        );
        assert!(
            d.contains("UTF-8''carte%20d%27identit%C3%A9%20%22x%22.pdf"),
            "{d}"
        );
    }
}
