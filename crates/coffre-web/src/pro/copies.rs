//! Imprimer un duplicata and Envoyer à un organisme, from a person's file:
//! a marked copy to print, or a link for a named recipient whose copy
//! carries "Copie transmise à …". The vault checks the structure may see
//! the paper, and journals both in the person's journal under the
//! caseworker's structure.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use coffre_crypto::DocumentId;
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::ok;
use crate::person::{PageForm, PagePath, shown_copy};
use crate::session::Caseworker;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro/papiers/{id}/duplicata", get(duplicate))
        .route("/pro/papiers/{id}/lien", get(link_page).post(make_link))
}

async fn duplicate(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let (info, stream) = state.vault.download_duplicate(&cw.session, id).await?;
    let mark = coffre_copies::duplicate_mark(state.vault.clock().now_ms());
    let r = coffre_api::marked_response(&state, info, stream, mark)
        .await
        .map_err(|_| PageError::Internal("marking a duplicate"))?;
    Ok(shown_copy(r))
}

#[derive(Template)]
#[template(path = "pro/link.html")]
struct LinkPage {
    c: Ctx,
    action: String,
    back: String,
    paper: String,
    markable: bool,
}

async fn link_page(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let d = state.vault.document_info(&cw.session, id).await?;
    Ok(ok(&LinkPage {
        c: Ctx::caseworker(&cw, &state, "pro-link-title", "accueil"),
        action: format!("/pro/papiers/{id}/lien"),
        back: format!("/pro/personnes/{}", d.beneficiary_id),
        markable: coffre_copies::markable(&d.content_type, d.size),
        paper: d.title,
    }))
}

#[derive(Debug, Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pour: String,
    #[serde(default)]
    duree: String,
}

#[derive(Template)]
#[template(path = "pro/link_made.html")]
struct LinkMade {
    c: Ctx,
    url: String,
    until: String,
    recipient: String,
    back: String,
}

async fn make_link(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<DocumentId>,
    PageForm(f): PageForm<LinkForm>,
) -> PageResult<Response> {
    cw.check_csrf(&f.csrf)?;
    if f.pour.trim().is_empty() {
        return Err(PageError::Invalid("link-for-missing"));
    }
    let days = if f.duree == "1" { 1 } else { 7 };
    let d = state.vault.document_info(&cw.session, id).await?;
    // One download: the organisation saves its copy.
    let made = state
        .vault
        .create_share_to(&cw.session, id, Some(days), 1, &f.pour)
        .await?;
    Ok(ok(&LinkMade {
        c: Ctx::caseworker(&cw, &state, "pro-link-made-title", "accueil"),
        url: format!(
            "{}/s/{}",
            state.config.public_url.trim_end_matches('/'),
            made.token.as_str()
        ),
        until: cw.tr.day(made.expires_ms),
        recipient: f.pour.trim().chars().take(80).collect(),
        back: format!("/pro/personnes/{}", d.beneficiary_id),
    }))
}
