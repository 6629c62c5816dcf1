//! Who is looking at a page: the page cookie (a vault session token),
//! HttpOnly and SameSite=Strict, `Secure` with a `__Host-` name when the
//! site is reached over TLS; the CSRF token of a form (a hidden field,
//! derived from the session token); the `Origin` / `Sec-Fetch-Site` check
//! every POST passes, logged in or not.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use coffre_api::{AppState, cookie};
use coffre_crypto::PrincipalId;
use coffre_vault::{Principal, Session};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::PageError;
use crate::i18n::{Lang, Tr};

/// The cookie's name over plain HTTP (a try on one's own machine).
const COOKIE_PLAIN: &str = "coffre_page";
/// Over TLS: a `__Host-` cookie is bound to this exact host, path `/`,
/// and cannot be set by a sibling domain.
const COOKIE_TLS: &str = "__Host-coffre_page";
/// The desk's cookie (`/pro`): a caseworker's session apart from a
/// person's, so one browser at a desk never mixes the two.
const PRO_PLAIN: &str = "coffre_pro";
const PRO_TLS: &str = "__Host-coffre_pro";
/// The language chosen (not a secret).
pub const LANG_COOKIE: &str = "coffre_lang";

/// Whether the site is served over TLS (its public address, or a proxy
/// that terminates TLS in front of it).
pub fn over_tls(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://") || !state.config.trusted_proxies.is_empty()
}

fn cookie_name(state: &AppState) -> &'static str {
    if over_tls(state) {
        COOKIE_TLS
    } else {
        COOKIE_PLAIN
    }
}

fn pro_cookie_name(state: &AppState) -> &'static str {
    if over_tls(state) { PRO_TLS } else { PRO_PLAIN }
}

/// The `Set-Cookie` value that opens a desk session.
pub fn pro_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    let secure = if over_tls(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/{secure}",
        pro_cookie_name(state)
    ))
    .ok()
}

/// The `Set-Cookie` value that deletes the desk's cookie.
pub fn cleared_pro_cookie(state: &AppState) -> HeaderValue {
    if over_tls(state) {
        HeaderValue::from_static(
            "__Host-coffre_pro=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("coffre_pro=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

/// The `Set-Cookie` value that opens a page session.
pub fn session_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    let secure = if over_tls(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/{secure}",
        cookie_name(state)
    ))
    .ok()
}

/// The `Set-Cookie` value that deletes it.
pub fn cleared_cookie(state: &AppState) -> HeaderValue {
    let v = if over_tls(state) {
        "__Host-coffre_page=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
    } else {
        "coffre_page=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    };
    HeaderValue::from_static(v)
}

/// The language of this request: the cookie, else French.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::from_code)
        .unwrap_or(Lang::Fr)
}

/// The words of this request.
#[derive(Debug, Clone, Copy)]
pub struct Words(pub Tr);

impl<S: Send + Sync> FromRequestParts<S> for Words {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Words(Tr::new(lang_of(&parts.headers))))
    }
}

/// A POST from another site is refused before anything else: browsers say
/// where a request comes from (`Sec-Fetch-Site`, else `Origin`). Neither
/// header (an old browser, a script) leaves the CSRF token as the guard.
pub fn same_origin(state: &AppState, parts: &Parts) -> bool {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return true;
    }
    if let Some(site) = parts.headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let public = state.config.public_url.trim_end_matches('/');
    if origin == public {
        return true;
    }
    // The address the browser used (a try on localhost, a LAN address).
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}

/// The session token in the cookie `name`, after the origin check.
fn token_of(state: &AppState, parts: &Parts, name: &str) -> Result<Zeroizing<String>, PageError> {
    if !same_origin(state, parts) {
        return Err(PageError::OtherSite);
    }
    match cookie(&parts.headers, name) {
        Some(token) => Ok(Zeroizing::new(token.to_owned())),
        None => Err(PageError::NotLoggedIn { ended: false }),
    }
}

/// The desk's session token in a request's cookies.
pub fn pro_token(state: &AppState, headers: &HeaderMap) -> Option<Zeroizing<String>> {
    cookie(headers, pro_cookie_name(state)).map(|t| Zeroizing::new(t.to_owned()))
}

/// A form's CSRF token against its session's, in constant time.
pub fn csrf_matches(sent: &str, expected: &str) -> Result<(), PageError> {
    if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

/// A logged-in person on their pages.
pub struct Person {
    pub session: Arc<Session>,
    pub id: PrincipalId,
    /// The token of the forms of this session (hidden field `csrf`).
    pub csrf: String,
    pub tr: Tr,
    pub web: Arc<crate::WebConfig>,
    /// The path of the page asked for.
    pub path: String,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Person {
    /// Checks a form's CSRF token (constant time).
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        csrf_matches(sent, &self.csrf)
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(state, parts, cookie_name(state))?;
        let session = state
            .vault
            .session(&token)
            .map_err(|_| PageError::NotLoggedIn { ended: true })?;
        let Principal::Beneficiary { id } = session.principal else {
            return Err(PageError::NotForCaseworkers);
        };
        state
            .per_account(id)
            .map_err(|_| PageError::TooManyRequests)?;
        Ok(Person {
            csrf: coffre_api::csrf_token(&token),
            session,
            id,
            tr: Tr::new(lang_of(&parts.headers)),
            web: crate::ctx::web_config(parts),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// A logged-in caseworker at the desk (`/pro`), past their second factor.
/// A deactivated caseworker's sessions are gone from the vault: their
/// next request lands on the login page.
pub struct Caseworker {
    pub session: Arc<Session>,
    pub id: PrincipalId,
    pub structure: PrincipalId,
    pub admin: bool,
    pub csrf: String,
    pub tr: Tr,
    pub web: Arc<crate::WebConfig>,
    pub path: String,
}

impl std::fmt::Debug for Caseworker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caseworker")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Caseworker {
    /// Checks a form's CSRF token (constant time).
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        csrf_matches(sent, &self.csrf)
    }
}

impl FromRequestParts<AppState> for Caseworker {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(state, parts, pro_cookie_name(state))?;
        let session = state
            .vault
            .session(&token)
            .map_err(|_| PageError::NotLoggedIn { ended: true })?;
        let Principal::Caseworker {
            id,
            structure,
            admin,
        } = session.principal
        else {
            return Err(PageError::NotLoggedIn { ended: true });
        };
        state
            .per_account(id)
            .map_err(|_| PageError::TooManyRequests)?;
        Ok(Caseworker {
            csrf: coffre_api::csrf_token(&token),
            session,
            id,
            structure,
            admin,
            tr: Tr::new(lang_of(&parts.headers)),
            web: crate::ctx::web_config(parts),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// A caseworker whose login opened a session that can only set up a
/// second factor (theirs was reset).
pub struct SettingUp {
    pub session: Arc<Session>,
    pub login: String,
    pub csrf: String,
    pub tr: Tr,
    pub web: Arc<crate::WebConfig>,
    pub path: String,
}

impl std::fmt::Debug for SettingUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingUp").finish_non_exhaustive()
    }
}

impl SettingUp {
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        csrf_matches(sent, &self.csrf)
    }
}

impl FromRequestParts<AppState> for SettingUp {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = token_of(state, parts, pro_cookie_name(state))?;
        let session = state
            .vault
            .session_awaiting_second_factor(&token)
            .map_err(|_| PageError::NotLoggedIn { ended: true })?;
        let login = state
            .vault
            .caseworker_login(session.principal.id())
            .unwrap_or_default();
        Ok(SettingUp {
            csrf: coffre_api::csrf_token(&token),
            session,
            login,
            tr: Tr::new(lang_of(&parts.headers)),
            web: crate::ctx::web_config(parts),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// A POST that needs no session (logging in): only the origin check.
#[derive(Debug)]
pub struct SameSite;

impl FromRequestParts<AppState> for SameSite {
    type Rejection = PageError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if same_origin(state, parts) {
            Ok(SameSite)
        } else {
            Err(PageError::OtherSite)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffre_api::ApiConfig;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder().method(method).uri("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).map(|r| r.into_parts().0).unwrap()
    }

    async fn state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::testing::vault(dir.path()).await;
        (AppState::new(vault, ApiConfig::default()), dir)
    }

    #[tokio::test]
    async fn posts_from_another_site_are_refused() {
        let (state, _dir) = state().await;
        let cross = parts(Method::POST, &[("sec-fetch-site", "cross-site")]);
        assert!(!same_origin(&state, &cross));
        let sibling = parts(Method::POST, &[("sec-fetch-site", "same-site")]);
        assert!(!same_origin(&state, &sibling));
        let evil = parts(
            Method::POST,
            &[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8080"),
            ],
        );
        assert!(!same_origin(&state, &evil));
        let ours = parts(
            Method::POST,
            &[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080"),
            ],
        );
        assert!(same_origin(&state, &ours));
        let fetch_same = parts(Method::POST, &[("sec-fetch-site", "same-origin")]);
        assert!(same_origin(&state, &fetch_same));
        // A GET is never refused here (links from elsewhere are normal).
        let get = parts(Method::GET, &[("sec-fetch-site", "cross-site")]);
        assert!(same_origin(&state, &get));
    }

    #[tokio::test]
    async fn the_cookie_is_secure_and_host_bound_over_tls() {
        let (plain, _d1) = state().await;
        let c = session_cookie(&plain, "tok").unwrap();
        assert_eq!(c, "coffre_page=tok; HttpOnly; SameSite=Strict; Path=/");
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::testing::vault(dir.path()).await;
        let tls = AppState::new(
            vault,
            ApiConfig {
                public_url: "https://coffre.example.org".into(),
                ..ApiConfig::default()
            },
        );
        let c = session_cookie(&tls, "tok").unwrap();
        assert_eq!(
            c,
            "__Host-coffre_page=tok; HttpOnly; SameSite=Strict; Path=/; Secure"
        );
        assert!(
            cleared_cookie(&tls)
                .to_str()
                .unwrap_or("")
                .contains("Max-Age=0")
        );
    }
}
