//! Connexion pro: login, password and a code of the second factor (TOTP)
//! on one form; activating an account with an invitation code (the second
//! factor is set up there: a QR code to scan, recovery codes to print);
//! setting one up again after an admin reset; logout.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use coffre_api::{AppState, ClientAddr};
use coffre_crypto::UserSecret;
use coffre_crypto::otp::OtpSecret;
use coffre_vault::{SecondFactorStage, VaultError};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::ctx::{Ctx, Visitor, local_path};
use crate::error::{PageError, PageResult};
use crate::person::{CsrfOnly, PageForm, Query, per_address};
use crate::session::{Caseworker, SameSite, SettingUp, cleared_pro_cookie, pro_cookie};
use crate::{ok, page, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro/connexion", get(login_page).post(login))
        .route("/pro/activer", get(activate_page).post(activate))
        .route("/pro/double-facteur", get(setup_page).post(setup))
        .route("/pro/deconnexion", post(logout))
        .route("/pro/continuer", post(keep_going))
}

#[derive(Template)]
#[template(path = "pro/login.html")]
struct LoginPage {
    c: Ctx,
    ended: bool,
    error: Option<String>,
    login: String,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    fin: Option<String>,
}

async fn login_page(v: Visitor, Query(q): Query<LoginQuery>) -> Response {
    ok(&LoginPage {
        c: Ctx::visitor(&v, "pro-login-title"),
        ended: q.fin.is_some(),
        error: None,
        login: String::new(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").finish_non_exhaustive()
    }
}

async fn login(
    State(state): State<AppState>,
    _: SameSite,
    ClientAddr(client): ClientAddr,
    v: Visitor,
    PageForm(form): PageForm<LoginForm>,
) -> PageResult<Response> {
    per_address(&state, client)?;
    let code = Zeroizing::new(form.code);
    let again = |key: &str| {
        page(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                c: Ctx::visitor(&v, "pro-login-title"),
                ended: false,
                error: Some(v.tr.t(key)),
                login: form.login.chars().take(100).collect(),
            },
        )
    };
    if form.login.trim().is_empty() || form.password.is_empty() {
        return Ok(again("pro-login-missing"));
    }
    let outcome = match state
        .vault
        .login_caseworker_from(&form.login, UserSecret::new(form.password), &code, client)
        .await
    {
        Ok(o) => o,
        // One message for a wrong login, password or code: which one was
        // wrong is not said to whoever tries.
        Err(VaultError::Unauthenticated) => return Ok(again("pro-login-wrong")),
        Err(e) => return Err(e.into()),
    };
    if let Ok(session) = state.vault.session(&outcome.token) {
        session.tell_failures(outcome.failed_attempts);
    }
    let to = match outcome.second_factor {
        SecondFactorStage::Passed => "/pro",
        SecondFactorStage::SetupRequired => "/pro/double-facteur",
    };
    let mut r = see_other(to);
    if let Some(c) = pro_cookie(&state, &outcome.token) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

#[derive(Template)]
#[template(path = "pro/activate.html")]
struct ActivatePage {
    c: Ctx,
    error: Option<String>,
    code: String,
}

async fn activate_page(v: Visitor) -> Response {
    ok(&ActivatePage {
        c: Ctx::visitor(&v, "pro-activate-title"),
        error: None,
        code: String::new(),
    })
}

#[derive(Deserialize)]
struct ActivateForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

impl std::fmt::Debug for ActivateForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivateForm").finish_non_exhaustive()
    }
}

/// What a caseworker sees once, when their second factor is set up: the
/// QR code for their app, the key typed by hand, the recovery codes.
#[derive(Template)]
#[template(path = "pro/second_factor.html")]
struct SecondFactorShown {
    c: Ctx,
    qr: String,
    key: String,
    recovery: Vec<String>,
}

async fn activate(
    State(state): State<AppState>,
    _: SameSite,
    ClientAddr(client): ClientAddr,
    v: Visitor,
    PageForm(form): PageForm<ActivateForm>,
) -> PageResult<Response> {
    per_address(&state, client)?;
    let again = |key: &str| {
        page(
            StatusCode::BAD_REQUEST,
            &ActivatePage {
                c: Ctx::visitor(&v, "pro-activate-title"),
                error: Some(v.tr.t(key)),
                code: String::new(),
            },
        )
    };
    if form.password != form.password2 {
        return Ok(again("pro-activate-mismatch"));
    }
    let activated = match state
        .vault
        .enroll_caseworker(form.code.trim(), UserSecret::new(form.password))
        .await
    {
        Ok(a) => a,
        Err(VaultError::Unauthenticated | VaultError::Gone) => {
            return Ok(again("pro-activate-bad-code"));
        }
        Err(VaultError::Invalid(_)) => return Ok(again("pro-activate-short")),
        Err(e) => return Err(e.into()),
    };
    let login = state
        .vault
        .caseworker_login(activated.caseworker_id)
        .unwrap_or_default();
    let secret = &activated.second_factor.secret;
    let uri = secret
        .otpauth_uri("Coffre", &login)
        .map_err(|_| PageError::Internal("second factor"))?;
    Ok(ok(&SecondFactorShown {
        c: Ctx::visitor(&v, "pro-factor-title"),
        qr: crate::qr::data_url(&uri).unwrap_or_default(),
        key: spaced(&secret.to_base32()),
        recovery: activated
            .second_factor
            .recovery_codes
            .iter()
            .map(|c| c.to_string())
            .collect(),
    }))
}

/// A key typed by hand reads better in groups of four.
fn spaced(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + key.len() / 4);
    for (i, ch) in key.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

#[derive(Template)]
#[template(path = "pro/setup.html")]
struct SetupPage {
    c: Ctx,
    qr: String,
    key: String,
    key_raw: String,
    error: Option<String>,
}

fn setup_ctx(s: &SettingUp) -> Ctx {
    let v = Visitor {
        tr: s.tr,
        web: s.web.clone(),
        path: s.path.clone(),
    };
    let mut c = Ctx::visitor(&v, "pro-setup-title");
    c.csrf = Some(s.csrf.clone());
    c
}

fn setup_with(s: &SettingUp, secret: &OtpSecret, error: Option<String>) -> PageResult<SetupPage> {
    let uri = secret
        .otpauth_uri("Coffre", &s.login)
        .map_err(|_| PageError::Internal("second factor"))?;
    let key = secret.to_base32();
    Ok(SetupPage {
        c: setup_ctx(s),
        qr: crate::qr::data_url(&uri).unwrap_or_default(),
        key: spaced(&key),
        key_raw: key.to_string(),
        error,
    })
}

/// A new secret, shown; nothing is stored until a code from the app
/// proves it reads it.
async fn setup_page(s: SettingUp) -> PageResult<Response> {
    let secret = OtpSecret::generate().map_err(|_| PageError::Internal("randomness"))?;
    Ok(ok(&setup_with(&s, &secret, None)?))
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    /// The one-time set-up code an admin handed over.
    #[serde(default)]
    remise: String,
    #[serde(default)]
    code: String,
}

impl std::fmt::Debug for SetupForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupForm").finish_non_exhaustive()
    }
}

async fn setup(
    State(state): State<AppState>,
    s: SettingUp,
    PageForm(form): PageForm<SetupForm>,
) -> PageResult<Response> {
    s.check_csrf(&form.csrf)?;
    let key = Zeroizing::new(form.key);
    let secret = OtpSecret::from_base32(&key).map_err(|_| PageError::Invalid("err-form"))?;
    let shown = OtpSecret::from_base32(&key).map_err(|_| PageError::Invalid("err-form"))?;
    let codes = match state
        .vault
        .set_up_second_factor(&s.session, &Zeroizing::new(form.remise), secret, &form.code)
        .await
    {
        Ok(c) => c,
        Err(VaultError::Invalid(_)) => {
            let p = setup_with(&s, &shown, Some(s.tr.t("pro-setup-wrong")))?;
            return Ok(page(StatusCode::BAD_REQUEST, &p));
        }
        Err(VaultError::Forbidden(_)) => {
            let p = setup_with(&s, &shown, Some(s.tr.t("pro-setup-bad-remise")))?;
            return Ok(page(StatusCode::BAD_REQUEST, &p));
        }
        Err(e) => return Err(e.into()),
    };
    let mut c = setup_ctx(&s);
    c.title = s.tr.t("pro-factor-title");
    Ok(ok(&SecondFactorShown {
        c,
        qr: String::new(),
        key: String::new(),
        recovery: codes.iter().map(|c| c.to_string()).collect(),
    }))
}

/// Logging out, from a session or from one setting up a second factor
/// (a caseworker who gives up on it must be able to leave too).
async fn logout(
    State(state): State<AppState>,
    _: SameSite,
    headers: axum::http::HeaderMap,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    let Some(token) = crate::session::pro_token(&state, &headers) else {
        return Err(PageError::NotLoggedIn { ended: false });
    };
    crate::session::csrf_matches(&f.csrf, &coffre_api::csrf_token(&token))?;
    let session = state
        .vault
        .session(&token)
        .or_else(|_| state.vault.session_awaiting_second_factor(&token))
        .map_err(|_| PageError::NotLoggedIn { ended: true })?;
    state.vault.logout(&session);
    Ok(crate::logged_out(
        "/pro/connexion?fin=1",
        cleared_pro_cookie(&state),
    ))
}

#[derive(Debug, Deserialize)]
struct KeepGoing {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    retour: String,
}

async fn keep_going(cw: Caseworker, PageForm(f): PageForm<KeepGoing>) -> PageResult<Response> {
    cw.check_csrf(&f.csrf)?;
    Ok(see_other(local_path(&f.retour)))
}
