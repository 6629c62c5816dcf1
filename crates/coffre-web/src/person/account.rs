//! Mon compte: change the secret, the trustee structures, "Tout récupérer"
//! (the ZIP of every paper and the journal), delete the account.

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use coffre_api::AppState;
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_vault::VaultError;
use serde::Deserialize;

use super::papers::ConfirmPage;
use super::{CsrfOnly, PageForm, PagePath, Query};
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::session::{Person, cleared_cookie};
use crate::{ok, page, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compte", get(account))
        .route("/compte/code", axum::routing::post(change_secret))
        .route(
            "/compte/confiance/{id}/retirer",
            get(remove_trustee_page).post(remove_trustee),
        )
        .route("/compte/supprimer", get(erase_page).post(erase))
}

/// The ZIP, on a route with a long time limit.
pub fn files() -> Router<AppState> {
    Router::new().route("/compte/tout.zip", get(export))
}

/// A trustee structure, listed.
#[derive(Debug)]
pub struct TrusteeLine {
    pub name: String,
    pub remove: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Ctx,
    changed: bool,
    error: Option<String>,
    suggestion: String,
    trustees: Vec<TrusteeLine>,
}

#[derive(Debug, Deserialize)]
struct AccountQuery {
    fait: Option<String>,
}

async fn render(
    state: &AppState,
    p: &Person,
    changed: bool,
    error: Option<&str>,
) -> PageResult<Response> {
    let trustees = state
        .vault
        .trustees(&p.session, p.id)
        .await?
        .into_iter()
        .map(|t| TrusteeLine {
            name: t.name,
            remove: format!("/compte/confiance/{}/retirer", t.structure_id),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(page(
        status,
        &AccountPage {
            c: Ctx::person(p, state, "account-title", "compte"),
            changed,
            error: error.map(|k| p.tr.t(k)),
            suggestion: coffre_vault::suggest_passphrase().unwrap_or_default(),
            trustees,
        },
    ))
}

async fn account(
    State(state): State<AppState>,
    p: Person,
    Query(q): Query<AccountQuery>,
) -> PageResult<Response> {
    render(&state, &p, q.fait.is_some(), None).await
}

#[derive(Deserialize)]
struct SecretForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    actuel: String,
    #[serde(default)]
    nouveau: String,
    #[serde(default)]
    encore: String,
}

impl std::fmt::Debug for SecretForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretForm").finish_non_exhaustive()
    }
}

async fn change_secret(
    State(state): State<AppState>,
    p: Person,
    PageForm(f): PageForm<SecretForm>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    if f.nouveau != f.encore {
        return render(&state, &p, false, Some("secret-mismatch")).await;
    }
    match state
        .vault
        .change_secret(
            &p.session,
            UserSecret::new(f.actuel),
            UserSecret::new(f.nouveau),
        )
        .await
    {
        Ok(()) => Ok(see_other("/compte?fait=1")),
        Err(VaultError::Unauthenticated) => {
            render(&state, &p, false, Some("secret-wrong-current")).await
        }
        Err(VaultError::WeakSecret(_)) => render(&state, &p, false, Some("err-weak-secret")).await,
        Err(e) => Err(e.into()),
    }
}

async fn remove_trustee_page(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<PrincipalId>,
) -> PageResult<Response> {
    let t = state
        .vault
        .trustees(&p.session, p.id)
        .await?
        .into_iter()
        .find(|t| t.structure_id == id)
        .ok_or(PageError::NotFound)?;
    let tr = p.tr;
    Ok(ok(&ConfirmPage {
        c: Ctx::person(&p, &state, "trustee-remove-title", "compte"),
        lines: vec![
            tr.with("trustee-remove-what", &[("structure", &t.name)]),
            tr.t("trustee-remove-consequence"),
        ],
        action: format!("/compte/confiance/{id}/retirer"),
        button: tr.t("trustee-remove-button"),
        back: "/compte".into(),
        ask_secret: false,
        error: None,
    }))
}

async fn remove_trustee(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<PrincipalId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    state.vault.remove_trustee(&p.session, p.id, id).await?;
    Ok(see_other("/compte"))
}

/// "Tout récupérer": every paper and the journal, as a ZIP, streamed.
async fn export(State(state): State<AppState>, p: Person) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let vault = state.vault.clone();
    let session = p.session.clone();
    let id = p.id;
    tokio::spawn(async move {
        if let Err(e) = vault.export_to_channel(&session, id, &tx).await {
            // Cuts the download: never a ZIP that looks whole.
            tracing::warn!(kind = e.kind(), "export cut short");
            let _ = tx
                .send(Err(std::io::Error::other("export interrupted")))
                .await;
        }
    });
    let mut r = Body::from_stream(coffre_api::stream_of(rx)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"mes-papiers-coffre.zip\""),
    );
    r
}

fn erase_confirm(p: &Person, state: &AppState, error: Option<String>) -> Response {
    let tr = p.tr;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ConfirmPage {
            c: Ctx::person(p, state, "erase-title", "compte"),
            lines: vec![
                tr.t("erase-what"),
                tr.t("erase-consequence"),
                tr.t("erase-before"),
            ],
            action: "/compte/supprimer".into(),
            button: tr.t("erase-button"),
            back: "/compte".into(),
            ask_secret: true,
            error,
        },
    )
}

async fn erase_page(State(state): State<AppState>, p: Person) -> Response {
    erase_confirm(&p, &state, None)
}

#[derive(Deserialize)]
struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
}

impl std::fmt::Debug for EraseForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EraseForm").finish_non_exhaustive()
    }
}

#[derive(Template)]
#[template(path = "erased.html")]
struct ErasedPage {
    c: Ctx,
}

async fn erase(
    State(state): State<AppState>,
    p: Person,
    PageForm(f): PageForm<EraseForm>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    match state
        .vault
        .erase_vault(&p.session, p.id, UserSecret::new(f.secret))
        .await
    {
        Ok(()) => {}
        Err(VaultError::Unauthenticated) => {
            return Ok(erase_confirm(
                &p,
                &state,
                Some(p.tr.t("secret-wrong-current")),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.vault.logout(&p.session);
    let mut c = Ctx::person(&p, &state, "erased-title", "");
    c.csrf = None;
    c.idle_secs = 0;
    let mut r = ok(&ErasedPage { c });
    r.headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie(&state));
    r.headers_mut().insert(
        "clear-site-data",
        HeaderValue::from_static("\"cache\", \"storage\""),
    );
    Ok(r)
}
