//! `/api/v1/sessions`, `/api/v1/enrollments`, `/api/v1/structures/{id}/caseworkers`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_vault::{Principal, VaultError};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Auth, COOKIE, csrf_token};
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, id};
use crate::{AppState, ClientAddr, now_secs};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(create_session))
        .route("/api/v1/sessions/current", delete(delete_session))
        .route("/api/v1/enrollments", post(enroll))
        .route(
            "/api/v1/structures/{structure_id}/caseworkers",
            post(invite),
        )
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Login {
    Caseworker { login: String, password: String },
    Beneficiary { identifier: String, secret: String },
}

pub fn principal_json(p: &Principal) -> serde_json::Value {
    match p {
        Principal::Beneficiary { id } => json!({ "kind": "beneficiary", "beneficiary_id": id }),
        Principal::Caseworker {
            id,
            structure,
            admin,
        } => {
            json!({ "kind": "caseworker", "caseworker_id": id, "structure_id": structure, "admin": admin })
        }
    }
}

async fn create_session(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(login): ApiJson<Login>,
) -> ApiResult<Response> {
    if !state.limiter.allow(client) {
        return Err(rate_limited());
    }
    let outcome = match login {
        Login::Caseworker { login, password } => {
            state
                .vault
                .login_caseworker(&login, UserSecret::new(password))
                .await
        }
        Login::Beneficiary { identifier, secret } => {
            state
                .vault
                .login_beneficiary(&identifier, UserSecret::new(secret))
                .await
        }
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e @ VaultError::LockedOut { .. }) => {
            state
                .metrics
                .lockouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let token: &str = &outcome.token;
    let body = json!({
        "token": token,
        "csrf_token": csrf_token(token),
        "expires_at": now_secs() + outcome.expires_in.as_secs(),
        "principal": principal_json(&outcome.principal),
        "notices": outcome.notices,
    });
    let mut headers = HeaderMap::new();
    let cookie = format!("{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

async fn delete_session(State(state): State<AppState>, auth: Auth) -> Response {
    state.vault.logout(&auth.session);
    let mut headers = HeaderMap::new();
    let cookie = format!("{COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

#[derive(Deserialize)]
struct Enroll {
    code: String,
    password: String,
}

async fn enroll(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(e): ApiJson<Enroll>,
) -> ApiResult<Response> {
    // Code guessing costs a journal write each: limited like logins.
    if !state.limiter.allow(client) {
        return Err(rate_limited());
    }
    let id = state
        .vault
        .enrol_caseworker(&e.code, UserSecret::new(e.password))
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "caseworker_id": id }))).into_response())
}

#[derive(Deserialize)]
struct Invite {
    login: String,
    #[serde(default)]
    admin: bool,
}

async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    Path(structure): Path<String>,
    ApiJson(i): ApiJson<Invite>,
) -> ApiResult<Response> {
    let structure: PrincipalId = id(&structure)?;
    let (cw, code) = state
        .vault
        .invite_caseworker(&auth.session, structure, &i.login, i.admin)
        .await?;
    let code: &str = &code;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "caseworker_id": cw, "enrollment_code": code })),
    )
        .into_response())
}

pub(crate) fn rate_limited() -> ApiError {
    ApiError {
        retry_after: Some(60),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many attempts from this address; retry in a minute",
        )
    }
}
