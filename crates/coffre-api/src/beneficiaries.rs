//! `/api/v1/beneficiaries` and everything under one vault.

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_vault::{DocumentInfo, NewBeneficiary, NewDocument};
use futures_util::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, BodyRefusals, ErrorBody, Refusals};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::schema::{
    AddTrusteeRequest, BeneficiaryEnrolled, BeneficiaryList, BeneficiaryView, DocumentList,
    DocumentUploaded, DocumentView, EnrollBeneficiaryRequest, EraseRequest, GrantList,
    GrantRequest, GrantView, JournalQuery, JournalView, ListQuery, NoticeList, NoticeView,
    RecoveryStartedView, TrusteeList, TrusteeView, UploadForm,
};

pub fn router(max_upload: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, documents) = routes!(upload, documents);
    OpenApiRouter::new()
        .routes(routes!(enroll, list))
        .routes(routes!(erase))
        .routes((
            schemas,
            paths,
            documents.layer(axum::extract::DefaultBodyLimit::max(max_upload)),
        ))
        .routes(routes!(create_grant, grants))
        .routes(routes!(journal))
        .routes(routes!(export))
        .routes(routes!(start_recovery))
        .routes(routes!(trustees, add_trustee))
        .routes(routes!(remove_trustee))
        .routes(routes!(leave_structure))
        .routes(routes!(notices))
        .routes(routes!(acknowledge))
}

/// Enroll a person (caseworker, with the person present).
#[utoipa::path(post, path = "/api/v1/beneficiaries", tag = "beneficiaries",
    request_body = EnrollBeneficiaryRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Enrolled", body = BeneficiaryEnrolled),
        (status = 400, description = "Malformed body, weak secret, bad grant", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not a caseworker, or no CSRF token", body = ErrorBody),
        (status = 409, description = "Identifier taken", body = ErrorBody),
        BodyRefusals,
    ))]
async fn enroll(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(e): ApiJson<EnrollBeneficiaryRequest>,
) -> ApiResult<(StatusCode, Json<BeneficiaryEnrolled>)> {
    let out = state
        .vault
        .enroll_beneficiary(
            &auth.session,
            NewBeneficiary {
                identifier: e.identifier,
                display_name: e.display_name,
                secret: UserSecret::new(e.secret),
                recovery_trustee: e.recovery_trustee,
                grant: e.grant.as_ref().map(GrantRequest::new_grant),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BeneficiaryEnrolled {
            beneficiary_id: out.beneficiary_id,
            identifier: out.identifier,
            warning: out.warning.map(str::to_owned),
        }),
    ))
}

/// The beneficiaries linked to the caller's structure.
#[utoipa::path(get, path = "/api/v1/beneficiaries", tag = "beneficiaries",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "People linked to the structure", body = BeneficiaryList),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not a caseworker", body = ErrorBody),
    ))]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<BeneficiaryList>> {
    let list = state.vault.list_beneficiaries(&auth.session).await?;
    Ok(Json(BeneficiaryList {
        beneficiaries: list
            .into_iter()
            .map(|(beneficiary_id, display_name)| BeneficiaryView {
                beneficiary_id,
                display_name,
            })
            .collect(),
    }))
}

/// List documents (optionally those expiring soon).
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary_id}/documents", tag = "documents",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"), ListQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "What this session may see", body = DocumentList),
        Refusals,
    ))]
async fn documents(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<DocumentList>> {
    let docs = match q.expiring_within_days {
        Some(days) => {
            state
                .vault
                .expiring_documents(&auth.session, b, days)
                .await?
        }
        None => state.vault.list_documents(&auth.session, b).await?,
    };
    Ok(Json(DocumentList {
        documents: docs.iter().map(DocumentView::from).collect(),
    }))
}

/// How much of a refused upload is read and dropped before answering.
const DRAIN_AFTER_REFUSAL: u64 = 8 << 20;

/// Reads and drops what is left of a form field, up to `limit` bytes.
async fn drain_field(field: &mut axum::extract::multipart::Field<'_>, limit: u64) {
    let mut read = 0u64;
    while let Ok(Some(chunk)) = field.chunk().await {
        read += chunk.len() as u64;
        if read > limit {
            break;
        }
    }
}

/// Upload a document: multipart, the text fields first, then `file`,
/// whose bytes go straight through encryption to the store.
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary_id}/documents", tag = "documents",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Stored", body = DocumentUploaded),
        (status = 409, description = "Too many documents, or consent changed meanwhile", body = ErrorBody),
        (status = 413, description = "Document too large, or quota exceeded", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data", body = ErrorBody),
        Refusals,
    ))]
async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<DocumentUploaded>)> {
    let mut form = form.map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "uploads are multipart/form-data",
        )
    })?;
    let mut meta = NewDocument::default();
    let bad = |_: axum::extract::multipart::MultipartError| {
        ApiError::bad_request("the multipart form is malformed")
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
            let body = stream_of(rx);
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
                                // Refused before the end: the rest is read
                                // and dropped (a little of it), so that the
                                // client gets the answer rather than a
                                // connection cut mid-send.
                                drain_field(&mut field, DRAIN_AFTER_REFUSAL).await;
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
            if res.is_err() {
                while let Ok(Some(mut rest)) = form.next_field().await {
                    drain_field(&mut rest, DRAIN_AFTER_REFUSAL).await;
                }
            }
            let info: DocumentInfo = res?;
            return Ok((
                StatusCode::CREATED,
                Json(DocumentUploaded {
                    document_id: info.document_id,
                    size: info.size,
                    sha256: info.sha256,
                }),
            ));
        }
        let text = crate::form::read_text(field).await.map_err(|p| match p {
            crate::form::TextProblem::TooLong => ApiError::bad_request(format!(
                "a form field is longer than {} bytes",
                crate::form::MAX_TEXT_FIELD
            )),
            crate::form::TextProblem::NotUtf8 => ApiError::bad_request("a form field is not UTF-8"),
            crate::form::TextProblem::Malformed => {
                ApiError::bad_request("the multipart form is malformed")
            }
        })?;
        match name.as_str() {
            "title" => meta.title = Some(text),
            "category" => meta.category = Some(text.parse()?),
            "expires_on" if text.is_empty() => meta.expires_on = None,
            "expires_on" => meta.expires_on = Some(text.parse()?),
            "private" => meta.private = Some(matches!(text.as_str(), "true" | "1" | "on" | "yes")),
            "notes" => meta.notes = Some(text),
            _ => {
                return Err(ApiError::bad_request(
                    "unknown form field (title, category, expires_on, private, notes, file)",
                ));
            }
        }
    }
}

/// The chunks a channel receives, as a plaintext stream (an upload fed
/// from a form, an export written from a task).
pub fn stream_of(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> coffre_vault::PlaintextStream {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Give a structure consent (the person).
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary_id}/grants", tag = "consent",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body = GrantRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Consent given", body = GrantView),
        (status = 409, description = "Consent changed meanwhile; try again", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn create_grant(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
    ApiJson(g): ApiJson<GrantRequest>,
) -> ApiResult<(StatusCode, Json<GrantView>)> {
    let structure = g
        .structure_id
        .ok_or_else(|| ApiError::bad_request("structure_id is required"))?;
    let grant = state
        .vault
        .create_grant(&auth.session, b, structure, g.new_grant())
        .await?;
    Ok((StatusCode::CREATED, Json(GrantView::from(&grant))))
}

/// List consent grants (all for the person, its own for a structure).
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary_id}/grants", tag = "consent",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Grants", body = GrantList),
        Refusals,
    ))]
async fn grants(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
) -> ApiResult<Json<GrantList>> {
    let list = state.vault.list_grants(&auth.session, b).await?;
    Ok(Json(GrantList {
        grants: list.iter().map(GrantView::from).collect(),
    }))
}

/// Who did what in this vault (the person).
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary_id}/journal", tag = "beneficiaries",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"), JournalQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A page of entries, newest first, and the security events kept in view", body = JournalView),
        Refusals,
    ))]
async fn journal(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
    ApiQuery(q): ApiQuery<JournalQuery>,
) -> ApiResult<Json<JournalView>> {
    let limit = match q.limit {
        None => 200,
        Some(n @ 1..=1000) => n as usize,
        Some(_) => {
            return Err(crate::ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_input",
                "limit is 1 to 1000",
            ));
        }
    };
    let journal = state
        .vault
        .vault_journal_page(&auth.session, b, q.before, limit)
        .await?;
    Ok(Json(JournalView {
        kept_in_view: journal.kept_in_view.into_iter().map(Into::into).collect(),
        entries: journal.entries.into_iter().map(Into::into).collect(),
        next_before: journal.next_before,
    }))
}

/// Every document and manifest.json as a ZIP, streamed (the person).
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary_id}/export", tag = "beneficiaries",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A ZIP", content_type = "application/zip", body = Vec<u8>),
        Refusals,
    ))]
async fn export(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
) -> ApiResult<Response> {
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
            tracing::warn!(kind = e.kind(), "export cut short");
            let _ = tx
                .send(Err(std::io::Error::other("export interrupted")))
                .await;
        }
    });
    let mut r = Body::from_stream(stream_of(rx)).into_response();
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

/// Start a recovery of the person's access (an admin of their trustee
/// structure); a second member confirms it.
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary_id}/recoveries", tag = "recovery",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Started; confirm within 15 minutes", body = RecoveryStartedView),
        (status = 409, description = "This person chose no trustee, or not this structure", body = ErrorBody),
        Refusals,
    ))]
async fn start_recovery(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
) -> ApiResult<(StatusCode, Json<RecoveryStartedView>)> {
    let r = state.vault.start_recovery(&auth.session, b).await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryStartedView {
            recovery_id: r.recovery_id,
            expires_at_ms: r.expires_ms,
        }),
    ))
}

/// The person's trustee structures (the person).
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary_id}/trustees", tag = "recovery",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The trustees", body = TrusteeList),
        Refusals,
    ))]
async fn trustees(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
) -> ApiResult<Json<TrusteeList>> {
    let list = state.vault.trustees(&auth.session, b).await?;
    Ok(Json(TrusteeList {
        trustees: list
            .into_iter()
            .map(|t| TrusteeView {
                structure_id: t.structure_id,
                name: t.name,
            })
            .collect(),
        what_it_means: coffre_vault::TRUSTEE_MEANS.to_owned(),
    }))
}

/// Make a structure a trustee (the person, typing their secret again).
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary_id}/trustees", tag = "recovery",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body = AddTrusteeRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "The structure holds a copy of the person's key"),
        (status = 429, description = "Locked after repeated wrong secrets", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn add_trustee(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
    ApiJson(t): ApiJson<AddTrusteeRequest>,
) -> ApiResult<StatusCode> {
    state
        .vault
        .add_trustee(&auth.session, b, t.structure_id, UserSecret::new(t.secret))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop a structure being a trustee (the person).
#[utoipa::path(delete, path = "/api/v1/beneficiaries/{beneficiary_id}/trustees/{structure_id}", tag = "recovery",
    params(
        ("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
        ("structure_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Its copy of the key is gone"), Refusals))]
async fn remove_trustee(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((b, s)): ApiPath<(PrincipalId, PrincipalId)>,
) -> ApiResult<StatusCode> {
    state.vault.remove_trustee(&auth.session, b, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a structure from the vault (the person): its grants end, it is
/// no longer a trustee, it no longer finds the person.
#[utoipa::path(delete, path = "/api/v1/beneficiaries/{beneficiary_id}/structures/{structure_id}", tag = "consent",
    params(
        ("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
        ("structure_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "The structure is gone from the vault"),
        (status = 409, description = "The vault changed meanwhile; try again", body = ErrorBody),
        Refusals,
    ))]
async fn leave_structure(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((b, s)): ApiPath<(PrincipalId, PrincipalId)>,
) -> ApiResult<StatusCode> {
    state.vault.leave_structure(&auth.session, b, s).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the person has not acknowledged yet (the person).
#[utoipa::path(get, path = "/api/v1/beneficiaries/{beneficiary_id}/notices", tag = "beneficiaries",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Open notices", body = NoticeList), Refusals))]
async fn notices(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
) -> ApiResult<Json<NoticeList>> {
    let list = state.vault.notices(&auth.session, b).await?;
    Ok(Json(NoticeList {
        notices: list.iter().map(NoticeView::from).collect(),
    }))
}

/// The person has read a notice.
#[utoipa::path(post, path = "/api/v1/beneficiaries/{beneficiary_id}/notices/{notice_id}/acknowledgement", tag = "beneficiaries",
    params(
        ("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
        ("notice_id" = u32, Path, description = "The notice's number"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Not shown again"), Refusals))]
async fn acknowledge(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((b, n)): ApiPath<(PrincipalId, u32)>,
) -> ApiResult<StatusCode> {
    state.vault.acknowledge_notice(&auth.session, b, n).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Erase the whole vault (the person, re-typing their secret).
#[utoipa::path(delete, path = "/api/v1/beneficiaries/{beneficiary_id}", tag = "beneficiaries",
    params(("beneficiary_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body = EraseRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Erased"),
        (status = 429, description = "Locked after repeated failures", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn erase(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(b): ApiPath<PrincipalId>,
    ApiJson(e): ApiJson<EraseRequest>,
) -> ApiResult<StatusCode> {
    state
        .vault
        .erase_vault(&auth.session, b, UserSecret::new(e.secret))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
