//! `/api/v1/sessions`, `/api/v1/enrollments`, `/api/v1/structures/{id}/caseworkers`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffre_crypto::UserSecret;
use coffre_vault::{SecondFactorStage, VaultError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Auth, COOKIE, csrf_token};
use crate::error::{ApiResult, BodyRefusals, ErrorBody};
use crate::extract::ApiJson;
use crate::schema::{
    CaseworkerEnrolled, EnrollRequest, LoginRequest, NoticeView, PassphraseSuggestion,
    SecretChangeRequest, SessionCreated,
};
use crate::{AppState, ClientAddr, now_secs};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(delete_session))
        .routes(routes!(enroll))
        .routes(routes!(change_secret))
        .routes(routes!(passphrase))
}

/// Log in (caseworker or beneficiary).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Logged in; the token is also set as a cookie", body = SessionCreated),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong identifier, secret or second-factor code", body = ErrorBody),
        (status = 403, description = "A caseworker without a second factor (reset by an admin): set one up on the pages", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures, or too many attempts from this address", body = ErrorBody),
        (status = 503, description = "Too many logins under way; retry after the time given", body = ErrorBody),
        BodyRefusals,
    ))]
async fn create_session(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(login): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    state.per_address(client)?;
    let outcome = match login {
        LoginRequest::Caseworker {
            login,
            password,
            code,
        } => {
            let code = zeroize::Zeroizing::new(code);
            match state
                .vault
                .login_caseworker_from(&login, UserSecret::new(password), &code, client)
                .await
            {
                // Setting a second factor up is done on the pages (a QR
                // code to scan); the session that login opened ends here.
                Ok(o) if o.second_factor == SecondFactorStage::SetupRequired => {
                    if let Ok(s) = state.vault.session_awaiting_second_factor(&o.token) {
                        state.vault.logout(&s);
                    }
                    return Err(VaultError::Forbidden(
                        "no second factor set up: log in once on the pages at /pro to set one up",
                    )
                    .into());
                }
                other => other,
            }
        }
        LoginRequest::Beneficiary { identifier, secret } => {
            state
                .vault
                .login_beneficiary_from(&identifier, UserSecret::new(secret), client)
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
    let body = SessionCreated {
        token: token.to_owned(),
        csrf_token: csrf_token(token),
        expires_at: now_secs() + outcome.expires_in.as_secs(),
        principal: (&outcome.principal).into(),
        notices: outcome.notices,
        open_notices: outcome.open_notices.iter().map(NoticeView::from).collect(),
    };
    let mut headers = HeaderMap::new();
    let cookie = format!("{COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((StatusCode::CREATED, headers, Json(body)).into_response())
}

/// Log out.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Cookie without its CSRF token", body = ErrorBody),
    ))]
async fn delete_session(State(state): State<AppState>, auth: Auth) -> Response {
    state.vault.logout(&auth.session);
    let mut headers = HeaderMap::new();
    let cookie = format!("{COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// A caseworker activates their account with a one-time code.
#[utoipa::path(post, path = "/api/v1/enrollments", tag = "sessions",
    request_body = EnrollRequest,
    responses(
        (status = 201, description = "Account active", body = CaseworkerEnrolled),
        (status = 400, description = "Malformed body or password too short", body = ErrorBody),
        (status = 401, description = "Unknown code", body = ErrorBody),
        (status = 410, description = "Expired code", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody),
        BodyRefusals,
    ))]
async fn enroll(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(e): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<CaseworkerEnrolled>)> {
    // Code guessing costs a journal write each: limited like logins.
    state.per_address(client)?;
    let activated = state
        .vault
        .enroll_caseworker(&e.code, UserSecret::new(e.password))
        .await?;
    let secret = &activated.second_factor.secret;
    let login = state
        .vault
        .caseworker_login(activated.caseworker_id)
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(CaseworkerEnrolled {
            caseworker_id: activated.caseworker_id,
            second_factor_secret: secret.to_base32().to_string(),
            second_factor_uri: secret
                .otpauth_uri("Coffre", &login)
                .map(|u| u.to_string())
                .unwrap_or_default(),
            recovery_codes: activated
                .second_factor
                .recovery_codes
                .iter()
                .map(|c| c.to_string())
                .collect(),
        }),
    ))
}

/// Change one's own password (caseworker) or secret (person), typing the
/// current one. Other sessions of the same account end.
#[utoipa::path(put, path = "/api/v1/sessions/current/secret", tag = "sessions",
    request_body = SecretChangeRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Malformed body, or the new secret is too easy to guess", body = ErrorBody),
        (status = 401, description = "Not logged in, or the current secret is wrong", body = ErrorBody),
        (status = 403, description = "A cookie without its CSRF token", body = ErrorBody),
        (status = 429, description = "Locked after repeated wrong secrets", body = ErrorBody),
        BodyRefusals,
    ))]
async fn change_secret(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(c): ApiJson<SecretChangeRequest>,
) -> ApiResult<StatusCode> {
    state
        .vault
        .change_secret(
            &auth.session,
            UserSecret::new(c.current),
            UserSecret::new(c.new),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A passphrase of easy words, to propose to a person choosing a secret.
#[utoipa::path(get, path = "/api/v1/passphrase", tag = "sessions",
    responses((status = 200, description = "Drawn at random, never stored", body = PassphraseSuggestion)))]
async fn passphrase() -> ApiResult<Json<PassphraseSuggestion>> {
    Ok(Json(PassphraseSuggestion {
        passphrase: coffre_vault::suggest_passphrase()?,
        words: coffre_vault::SUGGESTED_WORDS,
        bits: coffre_vault::passphrase_bits(coffre_vault::SUGGESTED_WORDS),
    }))
}
