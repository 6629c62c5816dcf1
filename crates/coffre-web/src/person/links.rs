//! Envoyer un lien: a link for someone without an account (a CAF agent, a
//! landlord), shown once; "Arrêter ce lien" ends it.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use coffre_api::AppState;
use coffre_crypto::{DocumentId, ShareId};
use serde::Deserialize;

use super::{CsrfOnly, PageForm, PagePath};
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::session::Person;
use crate::{ok, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/papiers/{id}/lien", get(link_page).post(make_link))
        .route("/liens/{id}/arreter", post(stop_link))
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    c: Ctx,
    id: String,
    paper: String,
    /// The copy will carry its mark (a JPEG or a PDF up to 40 MiB).
    markable: bool,
}

async fn link_page(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let d = super::own_paper(&state, &p, id).await?;
    Ok(ok(&LinkPage {
        c: Ctx::person(&p, &state, "link-title", "papiers"),
        id: id.to_string(),
        markable: coffre_copies::markable(&d.content_type, d.size),
        paper: d.title,
    }))
}

#[derive(Debug, Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    duree: String,
    #[serde(default)]
    fois: String,
    #[serde(default)]
    pour: String,
}

#[derive(Template)]
#[template(path = "link_made.html")]
struct LinkMade {
    c: Ctx,
    url: String,
    until: String,
    uses: String,
    back: String,
}

async fn make_link(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
    PageForm(f): PageForm<LinkForm>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    let days = match f.duree.as_str() {
        "1" => 1,
        "30" => 30,
        _ => 7,
    };
    let uses = match f.fois.as_str() {
        "3" => 3,
        _ => 1,
    };
    if f.pour.trim().is_empty() {
        return Err(PageError::Invalid("link-for-missing"));
    }
    let made = state
        .vault
        .create_share_to(&p.session, id, Some(days), uses, &f.pour)
        .await?;
    let tr = p.tr;
    let until = tr.day(made.expires_ms);
    Ok(ok(&LinkMade {
        c: Ctx::person(&p, &state, "link-made-title", "papiers"),
        url: format!(
            "{}/s/{}",
            state.config.public_url.trim_end_matches('/'),
            made.token.as_str()
        ),
        until,
        uses: tr.n("link-uses", u64::from(uses)),
        back: format!("/papiers/{id}"),
    }))
}

async fn stop_link(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<ShareId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    state.vault.revoke_share(&p.session, id).await?;
    Ok(see_other("/acces"))
}
