//! `/api/v1/structures/{id}/…`: a structure's caseworkers, for its admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use coffre_crypto::PrincipalId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiResult, BodyRefusals, ErrorBody, Refusals};
use crate::extract::{ApiJson, ApiPath};
use crate::schema::{CaseworkerList, CaseworkerView, Invitation, InviteRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite, caseworkers))
        .routes(routes!(deactivate))
}

/// Invite a caseworker (structure admin).
#[utoipa::path(post, path = "/api/v1/structures/{structure_id}/caseworkers", tag = "structures",
    params(("structure_id" = String, Path, description = "The structure (32 hex digits)")),
    request_body = InviteRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Invited; the code is shown once", body = Invitation),
        (status = 409, description = "Login taken", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(structure): ApiPath<PrincipalId>,
    ApiJson(i): ApiJson<InviteRequest>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    let (caseworker_id, code) = state
        .vault
        .invite_caseworker(&auth.session, structure, &i.login, i.admin)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Invitation {
            caseworker_id,
            enrollment_code: code.to_string(),
        }),
    ))
}

/// The structure's caseworkers (structure admin).
#[utoipa::path(get, path = "/api/v1/structures/{structure_id}/caseworkers", tag = "structures",
    params(("structure_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Every caseworker, active or not", body = CaseworkerList), Refusals))]
async fn caseworkers(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(structure): ApiPath<PrincipalId>,
) -> ApiResult<Json<CaseworkerList>> {
    let list = state
        .vault
        .list_caseworkers(&auth.session, structure)
        .await?;
    Ok(Json(CaseworkerList {
        caseworkers: list
            .into_iter()
            .map(|c| CaseworkerView {
                caseworker_id: c.caseworker_id,
                login: c.login,
                admin: c.admin,
                active: c.active,
                pending: c.pending,
                created_at_ms: c.created_ms,
            })
            .collect(),
    }))
}

/// Deactivate a caseworker (structure admin): their sessions end at once
/// and the structure's key is rotated.
#[utoipa::path(post, path = "/api/v1/structures/{structure_id}/caseworkers/{caseworker_id}/deactivation", tag = "structures",
    params(
        ("structure_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
        ("caseworker_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deactivated; the structure's key rotated"),
        (status = 409, description = "The structure's key changed meanwhile; log in again", body = ErrorBody),
        Refusals,
    ))]
async fn deactivate(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((structure, caseworker)): ApiPath<(PrincipalId, PrincipalId)>,
) -> ApiResult<StatusCode> {
    let cw = state
        .vault
        .list_caseworkers(&auth.session, structure)
        .await?;
    if !cw.iter().any(|c| c.caseworker_id == caseworker) {
        return Err(crate::ApiError::not_found());
    }
    state
        .vault
        .deactivate_caseworker(&auth.session, caseworker)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
