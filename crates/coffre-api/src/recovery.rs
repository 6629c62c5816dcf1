//! `/api/v1/recoveries/{id}/…`: the second member's confirmation and the
//! completion of a recovery, with the new secret the person types.

use axum::extract::State;
use axum::http::StatusCode;
use coffre_crypto::{RecoveryId, UserSecret};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Auth;
use crate::error::{ApiResult, BodyRefusals, ErrorBody, Refusals};
use crate::extract::{ApiJson, ApiPath};
use crate::schema::CompleteRecoveryRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(confirm))
        .routes(routes!(complete))
}

/// A second member of the trustee structure confirms a recovery.
#[utoipa::path(post, path = "/api/v1/recoveries/{recovery_id}/confirmation", tag = "recovery",
    params(("recovery_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Confirmed"),
        (status = 410, description = "Expired", body = ErrorBody),
        Refusals,
    ))]
async fn confirm(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(r): ApiPath<RecoveryId>,
) -> ApiResult<StatusCode> {
    state.vault.confirm_recovery(&auth.session, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Completes a confirmed recovery with the new secret the person types.
#[utoipa::path(post, path = "/api/v1/recoveries/{recovery_id}/completion", tag = "recovery",
    params(("recovery_id" = String, Path, description = "32 hex digits", pattern = "^[0-9a-f]{32}$")),
    request_body = CompleteRecoveryRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "The new secret is set; the person is told at every login until they acknowledge it"),
        (status = 410, description = "Expired", body = ErrorBody),
        Refusals,
        BodyRefusals,
    ))]
async fn complete(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(r): ApiPath<RecoveryId>,
    ApiJson(c): ApiJson<CompleteRecoveryRequest>,
) -> ApiResult<StatusCode> {
    state
        .vault
        .complete_recovery(&auth.session, r, UserSecret::new(c.new_secret))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
