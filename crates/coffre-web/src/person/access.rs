//! Qui voit mes papiers: each structure's consent in sentences, withdrawn
//! from a confirmation page; the live links, each stopped in one tap.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use coffre_crypto::GrantId;
use coffre_vault::{GrantRecord, Permission};

use super::papers::{ConfirmPage, category_name};
use super::{CsrfOnly, PageForm, PagePath};
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::i18n::Tr;
use crate::session::Person;
use crate::{ok, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/acces", get(access))
        .route("/acces/{id}/retirer", get(withdraw_page).post(withdraw))
}

/// A structure's consent, in a sentence.
#[derive(Debug)]
pub struct GrantLine {
    pub sentence: String,
    pub withdraw: String,
}

/// A live link.
#[derive(Debug)]
pub struct LinkLine {
    pub sentence: String,
    pub stop: String,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    c: Ctx,
    grants: Vec<GrantLine>,
    links: Vec<LinkLine>,
}

/// "Le CCAS de Lyon peut voir vos papiers d'identité et de prestations
/// sociales jusqu'au 3 avril 2026."
pub fn grant_sentence(state: &AppState, tr: &Tr, g: &GrantRecord) -> String {
    let structure = state
        .vault
        .structure(g.structure)
        .map(|s| s.name)
        .unwrap_or_else(|_| tr.t("someone-structure"));
    let names: Vec<String> = g.categories.iter().map(|c| category_name(tr, *c)).collect();
    let list = join_words(tr, &names);
    let view = g.permissions.contains(&Permission::View);
    let upload = g.permissions.contains(&Permission::Upload);
    let key = match (view, upload) {
        (true, true) => "grant-view-upload",
        (false, true) => "grant-upload",
        _ => "grant-view",
    };
    tr.with(
        key,
        &[
            ("structure", &structure),
            ("categories", &list),
            ("date", &tr.day(g.expires_ms)),
        ],
    )
}

/// "a, b et c".
pub fn join_words(tr: &Tr, words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {} {}", rest.join(", "), tr.t("and"), last),
    }
}

async fn access(State(state): State<AppState>, p: Person) -> PageResult<Response> {
    let tr = p.tr;
    let now = state.vault.clock().now_ms();
    let grants = state
        .vault
        .list_grants(&p.session, p.id)
        .await?
        .into_iter()
        .filter(|g| g.live(now))
        .map(|g| GrantLine {
            sentence: grant_sentence(&state, &tr, &g),
            withdraw: format!("/acces/{}/retirer", g.id),
        })
        .collect();
    let shares = state.vault.vault_shares(&p.session, p.id).await?;
    let counters = state.vault.counter_links(&p.session)?;
    let titles: HashMap<_, _> = if shares.is_empty() && counters.is_empty() {
        HashMap::new()
    } else {
        state
            .vault
            .list_documents(&p.session, p.id)
            .await?
            .into_iter()
            .map(|d| (d.document_id, d.title))
            .collect()
    };
    let mut links: Vec<LinkLine> = counters
        .into_iter()
        .map(|c| LinkLine {
            sentence: tr.with(
                "counter-line",
                &[
                    (
                        "title",
                        &titles.get(&c.document).cloned().unwrap_or_default(),
                    ),
                    ("recipient", &c.recipient),
                    ("time", &tr.moment(c.expires_ms)),
                ],
            ),
            stop: format!("/guichet/{}/arreter", c.id),
        })
        .collect();
    let shares: Vec<LinkLine> = shares
        .into_iter()
        .map(|s| {
            let title = titles.get(&s.document_id).cloned().unwrap_or_default();
            LinkLine {
                sentence: tr.with_n(
                    "link-line",
                    u64::from(s.max_downloads.saturating_sub(s.downloads)),
                    &[("title", &title), ("date", &tr.day(s.expires_ms))],
                ),
                stop: format!("/liens/{}/arreter", s.share_id),
            }
        })
        .collect();
    links.extend(shares);
    Ok(ok(&AccessPage {
        c: Ctx::person(&p, &state, "access-title", "acces"),
        grants,
        links,
    }))
}

async fn grant_of(state: &AppState, p: &Person, id: GrantId) -> PageResult<GrantRecord> {
    state
        .vault
        .list_grants(&p.session, p.id)
        .await?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or(PageError::NotFound)
}

async fn withdraw_page(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<GrantId>,
) -> PageResult<Response> {
    let g = grant_of(&state, &p, id).await?;
    let tr = p.tr;
    Ok(ok(&ConfirmPage {
        c: Ctx::person(&p, &state, "withdraw-title", "acces"),
        lines: vec![
            grant_sentence(&state, &tr, &g),
            tr.t("withdraw-consequence"),
        ],
        action: format!("/acces/{id}/retirer"),
        button: tr.t("withdraw-button"),
        back: "/acces".into(),
        ask_secret: false,
        error: None,
    }))
}

async fn withdraw(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<GrantId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    state.vault.revoke_grant(&p.session, id).await?;
    Ok(see_other("/acces"))
}
