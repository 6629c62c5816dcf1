//! Se connecter, se déconnecter, continuer une session, changer de
//! langue; the pages anyone may read (help, accessibility).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use coffre_api::{AppState, ClientAddr};
use coffre_crypto::UserSecret;
use coffre_vault::VaultError;
use serde::Deserialize;

use super::{CsrfOnly, PageForm, Query};
use crate::ctx::{Ctx, Visitor, local_path};
use crate::error::{PageError, PageResult};
use crate::session::{LANG_COOKIE, Person, SameSite, cleared_cookie, session_cookie};
use crate::{ok, page, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/connexion", get(login_page).post(login))
        .route("/deconnexion", post(logout))
        .route("/continuer", post(keep_going))
        .route("/langue/{code}", get(language))
        .route("/aide", get(help))
        .route("/accessibilite", get(accessibility))
}

async fn root(headers: axum::http::HeaderMap) -> Response {
    // With a cookie, the papers' page decides (it sends to the login page
    // when the session has ended).
    if headers.contains_key(header::COOKIE) {
        see_other("/papiers")
    } else {
        see_other("/connexion")
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    /// The session ended (idle, or logged out).
    ended: bool,
    /// The secret is a code of digits (the field asks for digits).
    digits: bool,
    error: Option<String>,
    identifier: String,
    shared: bool,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    fin: Option<String>,
    chiffres: Option<String>,
}

async fn login_page(v: Visitor, Query(q): Query<LoginQuery>) -> Response {
    ok(&LoginPage {
        c: Ctx::visitor(&v, "login-title"),
        ended: q.fin.is_some(),
        digits: q.chiffres.is_some(),
        error: None,
        identifier: String::new(),
        shared: true,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    appareil: String,
    #[serde(default)]
    chiffres: String,
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
    super::per_address(&state, client)?;
    let shared = form.appareil != "telephone";
    let again = |message: String| {
        page(
            axum::http::StatusCode::UNAUTHORIZED,
            &LoginPage {
                c: Ctx::visitor(&v, "login-title"),
                ended: false,
                digits: !form.chiffres.is_empty(),
                error: Some(message),
                // The identifier is given back (it is the person's own, typed
                // a second ago); the secret never is.
                identifier: form.identifier.chars().take(200).collect(),
                shared,
            },
        )
    };
    if form.identifier.trim().is_empty() || form.secret.is_empty() {
        return Ok(again(v.tr.t("login-missing")));
    }
    let outcome = match state
        .vault
        .login_beneficiary_from(&form.identifier, UserSecret::new(form.secret), client)
        .await
    {
        Ok(o) => o,
        Err(VaultError::Unauthenticated) => {
            // How many tries remain, for this identifier from here (an
            // identifier that names nobody counts the same way).
            let left = state
                .vault
                .login_tries_left(&form.identifier, client)
                .unwrap_or(0);
            return Ok(again(v.tr.n("login-wrong-left", u64::from(left))));
        }
        Err(e) => return Err(e.into()),
    };
    let session = state.vault.session(&outcome.token)?;
    if shared {
        session.shorten_idle(v.web.shared_idle);
    }
    session.tell_failures(outcome.failed_attempts);
    session.set_previous_login(outcome.previous_login_ms);
    let mut r = see_other("/papiers");
    if let Some(c) = session_cookie(&state, &outcome.token) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// Logging out: the session ends, the cookie goes, and the browser is
/// told to forget what it kept (Back shows nothing).
async fn logout(
    State(state): State<AppState>,
    p: Person,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    state.vault.logout(&p.session);
    Ok(crate::logged_out(
        "/connexion?fin=1",
        cleared_cookie(&state),
    ))
}

#[derive(Debug, Deserialize)]
struct KeepGoing {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    retour: String,
}

/// "Continuer": any request keeps a session open; this one only goes back.
async fn keep_going(p: Person, PageForm(f): PageForm<KeepGoing>) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    Ok(see_other(local_path(&f.retour)))
}

#[derive(Debug, Deserialize)]
struct Back {
    retour: Option<String>,
}

async fn language(
    super::PagePath(code): super::PagePath<String>,
    Query(b): Query<Back>,
) -> PageResult<Response> {
    let lang = crate::i18n::Lang::from_code(&code).ok_or(PageError::NotFound)?;
    let mut r = see_other(local_path(b.retour.as_deref().unwrap_or("/")));
    let cookie = format!(
        "{LANG_COOKIE}={}; SameSite=Lax; Path=/; Max-Age=31536000",
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    c: Ctx,
}

async fn help(v: Visitor) -> Response {
    ok(&HelpPage {
        c: Ctx::visitor(&v, "help-title"),
    })
}

#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    c: Ctx,
}

async fn accessibility(v: Visitor) -> Response {
    ok(&AccessibilityPage {
        c: Ctx::visitor(&v, "a11y-title"),
    })
}
