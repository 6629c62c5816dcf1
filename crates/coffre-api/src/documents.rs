//! `/api/v1/documents/{id}`, its content and share links; grant and share
//! revocation; `/s/{token}` for third parties.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffre_crypto::{DocumentId, GrantId, ShareId};
use coffre_vault::{DocumentInfo, PlaintextStream};
use futures_util::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, BodyRefusals, ErrorBody, Refusals};
use crate::extract::{ApiJson, ApiPath};
use crate::schema::{DocumentPatch, DocumentView, ShareCreatedView, ShareRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info, update, remove))
        .routes(routes!(content))
        .routes(routes!(share))
        .routes(routes!(revoke_grant))
        .routes(routes!(revoke_share))
        .routes(routes!(link_page, redeem))
}

/// A document's description.
#[utoipa::path(get, path = "/api/v1/documents/{document_id}", tag = "documents",
    params(("document_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The description", body = DocumentView),
        Refusals,
    ))]
async fn info(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(d): ApiPath<DocumentId>,
) -> ApiResult<Json<DocumentView>> {
    Ok(Json(DocumentView::from(
        &state.vault.document_info(&auth.session, d).await?,
    )))
}

/// `Content-Disposition: attachment` with the file name, ASCII and UTF-8.
pub fn disposition(filename: &str) -> String {
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

/// The document's bytes (a single `Range` of bytes is supported).
#[utoipa::path(get, path = "/api/v1/documents/{document_id}/content", tag = "documents",
    params(
        ("document_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
        ("range" = Option<String>, Header, description = "`bytes=a-b`, `bytes=a-` or `bytes=-n`"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The whole document, in its own content type", content_type = "*/*", body = Vec<u8>),
        (status = 206, description = "The range asked", content_type = "*/*", body = Vec<u8>),
        (status = 416, description = "Unsatisfiable range", body = ErrorBody),
        Refusals,
    ))]
async fn content(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(d): ApiPath<DocumentId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // A Range in another unit than bytes is ignored (RFC 9110 §14.2): the
    // whole document is sent.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|r| r.trim_start().starts_with("bytes="));
    if let Some(range) = range {
        let info = state.vault.document_info(&auth.session, d).await?;
        let Some(r) = crate::range::parse(range, info.size) else {
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

/// Edit title, validity date, privacy (the person).
#[utoipa::path(patch, path = "/api/v1/documents/{document_id}", tag = "documents",
    params(("document_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body = DocumentPatch,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The new description", body = DocumentView),
        (status = 409, description = "Consent changed meanwhile; try again", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(d): ApiPath<DocumentId>,
    ApiJson(p): ApiJson<DocumentPatch>,
) -> ApiResult<Json<DocumentView>> {
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
    let info = info.ok_or_else(|| {
        ApiError::bad_request("nothing to change: give title, expires_on or private")
    })?;
    Ok(Json(DocumentView::from(&info)))
}

/// Delete a document (the person).
#[utoipa::path(delete, path = "/api/v1/documents/{document_id}", tag = "documents",
    params(("document_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
    ))]
async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(d): ApiPath<DocumentId>,
) -> ApiResult<StatusCode> {
    state.vault.delete_document(&auth.session, d).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a share link.
#[utoipa::path(post, path = "/api/v1/documents/{document_id}/shares", tag = "shares",
    params(("document_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body = ShareRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "The link, shown once", body = ShareCreatedView),
        (status = 409, description = "Too many links in this vault", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn share(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(d): ApiPath<DocumentId>,
    ApiJson(b): ApiJson<ShareRequest>,
) -> ApiResult<(StatusCode, Json<ShareCreatedView>)> {
    let max = b.max_downloads.unwrap_or(5);
    let created = match b.recipient.as_deref() {
        Some(r) => {
            state
                .vault
                .create_share_to(&auth.session, d, b.days, max, r)
                .await?
        }
        None => {
            state
                .vault
                .create_share(&auth.session, d, b.days, max)
                .await?
        }
    };
    let token: &str = &created.token;
    let url = format!(
        "{}/s/{token}",
        state.config.public_url.trim_end_matches('/')
    );
    Ok((
        StatusCode::CREATED,
        Json(ShareCreatedView {
            share_id: created.share_id,
            url,
            expires_at: created.expires_ms / 1000,
            expires_at_ms: created.expires_ms,
        }),
    ))
}

/// Revoke consent (the person).
#[utoipa::path(delete, path = "/api/v1/grants/{grant_id}", tag = "consent",
    params(("grant_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Revoked (or already)"),
        (status = 409, description = "The vault changed meanwhile; try again", body = ErrorBody),
        Refusals,
    ))]
async fn revoke_grant(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(g): ApiPath<GrantId>,
) -> ApiResult<StatusCode> {
    state.vault.revoke_grant(&auth.session, g).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke a share link.
#[utoipa::path(delete, path = "/api/v1/shares/{share_id}", tag = "shares",
    params(("share_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Revoked"),
        Refusals,
    ))]
async fn revoke_share(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(s): ApiPath<ShareId>,
) -> ApiResult<StatusCode> {
    state.vault.revoke_share(&auth.session, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The page of a share link: until when it works and how many downloads
/// are left, and a button that downloads. Opening it (or `HEAD`, or a
/// messaging app's preview) counts nothing and tells nothing of the paper.
#[utoipa::path(get, path = "/s/{token}", tag = "shares",
    params(("token" = String, Path, description = "The link's secret")),
    responses(
        (status = 200, description = "The link's page", content_type = "text/html", body = String),
        (status = 410, description = "Expired, used up, revoked or unknown (a page saying so)", content_type = "text/html", body = String),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
    ))]
async fn link_page(
    State(state): State<AppState>,
    crate::ClientAddr(client): crate::ClientAddr,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Response> {
    state.per_address(client)?;
    let (status, body) = match state.vault.share_status(&token) {
        Ok(s) => (StatusCode::OK, link_page_html(&s)),
        Err(coffre_vault::VaultError::Gone | coffre_vault::VaultError::NotFound) => {
            (StatusCode::GONE, GONE_PAGE.to_owned())
        }
        Err(e) => return Err(e.into()),
    };
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The page's one form posts back here; nothing else is allowed.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    Ok(r)
}

const GONE_PAGE: &str = "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Lien expiré — Coffre</title>\
<h1>Ce lien ne marche plus</h1>\
<p>Il a expiré, il a déjà servi autant de fois que prévu, ou la personne l'a retiré.</p>\
<p>Demandez-lui de vous en envoyer un nouveau.</p></html>";

fn link_page_html(s: &coffre_vault::ShareStatus) -> String {
    let d = coffre_vault::Date::from_epoch_ms(s.expires_ms);
    let until = format!("{:02}/{:02}/{}", d.day(), d.month(), d.year());
    let left = match s.downloads_left {
        1 => "Il ne peut servir qu'une fois.".to_owned(),
        n => format!("Il peut servir encore {n} fois."),
    };
    format!(
        "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Document transmis — Coffre</title>\
<h1>Un document vous a été transmis</h1>\
<p>Quelqu'un vous a envoyé la copie d'un papier par Coffre. Ce lien marche jusqu'au {until}. {left}</p>\
<form method=\"post\"><button type=\"submit\">Télécharger le document</button></form></html>"
    )
}

/// Download through a share link (no account): counted, journaled for the
/// person. A JPEG or a PDF comes as a PDF with the mark "Copie transmise
/// à {recipient} le {date} — Coffre" on each page; other files as they are.
#[utoipa::path(post, path = "/s/{token}", tag = "shares",
    params(("token" = String, Path, description = "The link's secret")),
    responses(
        (status = 200, description = "The document", content_type = "*/*", body = Vec<u8>),
        (status = 410, description = "Expired, used up, revoked or unknown", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
    ))]
async fn redeem(
    State(state): State<AppState>,
    crate::ClientAddr(client): crate::ClientAddr,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Response> {
    // Token guessing costs a journal write each: limited per address.
    state.per_address(client)?;
    let copy = state
        .vault
        .redeem_share_copy(&token)
        .await
        .map_err(|e| match e {
            // A link that does not parse is as gone as a revoked one.
            coffre_vault::VaultError::NotFound => coffre_vault::VaultError::Gone,
            e => e,
        })?;
    let mark = coffre_copies::given_mark(copy.recipient.as_deref(), copy.given_ms);
    marked_response(&state, copy.info, copy.stream, mark).await
}

/// Set on a copy's response when it carries its mark (what the pages use
/// to decide whether a browser may show it).
#[derive(Debug, Clone, Copy)]
pub struct CopyMarked;

/// A copy leaving the vault: marked when it can be (a JPEG or a PDF up to
/// 40 MiB, read whole), else as it is, with [`CopyMarked`] only on the
/// first.
pub async fn marked_response(
    state: &AppState,
    info: DocumentInfo,
    stream: PlaintextStream,
    mark: String,
) -> ApiResult<Response> {
    if !coffre_copies::markable(&info.content_type, info.size) {
        return Ok(stream_response(
            state,
            StatusCode::OK,
            &info,
            info.size,
            stream,
        ));
    }
    // Marking reads the whole paper: a few at a time bound the memory
    // (4 × 40 MiB), whoever sends how many link downloads.
    // The turn is held by the work itself: a client that goes away does
    // not free it while the marking still runs.
    static MARKING: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let turn = MARKING
        .get_or_init(|| Arc::new(tokio::sync::Semaphore::new(4)))
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::from(coffre_vault::VaultError::Internal("marking a copy")))?;
    let whole = read_whole(stream, coffre_copies::MARKABLE_MAX_BYTES).await?;
    let content_type = info.content_type.clone();
    let marked = tokio::task::spawn_blocking(move || {
        let copy = coffre_copies::marked_copy(&whole, &content_type, &mark);
        drop(turn);
        (whole, copy)
    })
    .await
    .map_err(|_| ApiError::from(coffre_vault::VaultError::Internal("marking a copy")))?;
    let (original, copy) = marked;
    let marked = copy.is_ok();
    let (body, content_type, filename) = match copy {
        Ok(pdf) => (pdf, "application/pdf".to_owned(), copy_name(&info.filename)),
        // A PDF Coffre cannot read leaves as it is (the person chose to
        // send it; SECURITY.md says so).
        Err(_) => (original, info.content_type.clone(), info.filename.clone()),
    };
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition(&filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if marked {
        r.extensions_mut().insert(CopyMarked);
    }
    Ok(r)
}

/// "copie-carte.pdf" for "carte.jpg".
fn copy_name(filename: &str) -> String {
    let stem = filename.rsplit_once('.').map_or(filename, |(s, _)| s);
    format!("copie-{stem}.pdf")
}

/// The whole plaintext of a paper, at most `max` bytes.
async fn read_whole(mut stream: PlaintextStream, max: usize) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::from(coffre_vault::VaultError::Integrity))?;
        if out.len() + chunk.len() > max {
            return Err(coffre_vault::VaultError::TooLarge { limit: max as u64 }.into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
