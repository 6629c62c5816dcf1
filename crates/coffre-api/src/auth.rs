//! Who is calling: `Authorization: Bearer <token>`, or the session cookie
//! with a CSRF token header on state-changing requests.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use coffre_vault::Session;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

pub const COOKIE: &str = "coffre_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: derived from its token, so nothing more is
/// stored; compared in constant time.
pub fn csrf_token(session_token: &str) -> String {
    let mut input = b"coffre.org/csrf@v1\x00".to_vec();
    input.extend_from_slice(session_token.as_bytes());
    hex::encode(digest(&SHA256, &input).as_ref())
}

/// The value of the cookie `name`, if the request carries it.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == name
            {
                return Some(val);
            }
        }
    }
    None
}

fn cookie_token(parts: &Parts) -> Option<String> {
    cookie(&parts.headers, COOKIE).map(str::to_owned)
}

/// An authenticated session.
pub struct Auth {
    pub session: Arc<Session>,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned());
        let (token, from_cookie) = match bearer {
            Some(t) => (t, false),
            None => (
                cookie_token(parts).ok_or_else(ApiError::unauthenticated)?,
                true,
            ),
        };
        // Who first (an expired cookie is a 401), then the CSRF check.
        let session = state
            .vault
            .session(&token)
            .map_err(|_| ApiError::unauthenticated())?;
        state.per_account(session.principal.id())?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if from_cookie && !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let expected = csrf_token(&token);
            if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "csrf",
                    "cookie-authenticated changes need the X-CSRF-Token header",
                ));
            }
        }
        Ok(Auth { session })
    }
}
