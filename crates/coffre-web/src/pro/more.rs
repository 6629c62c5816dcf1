//! Demander plus d'accès: from a person's file, the caseworker proposes
//! categories, rights and a duration; the screen is handed over to the
//! person, who reads the consent as a sentence and accepts it by typing
//! their identifier and secret (the consent needs their key), or refuses.
//! The session their secret opens serves this one consent and ends at
//! once; the journal names the person as the actor, the caseworker as
//! present.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use coffre_api::{AppState, ClientAddr};
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_vault::{Category, NewGrant, Permission, VaultError};
use zeroize::Zeroizing;

use super::enrol::{Choice, DAYS, Pairs, Proposal, carried, choices};
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::person::{PagePath, per_address};
use crate::session::Caseworker;
use crate::{ok, page, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro/personnes/{id}/demander", get(start).post(propose))
        .route("/pro/personnes/{id}/demander/main", post(hand_back))
}

#[derive(Template)]
#[template(path = "pro/more.html")]
struct MorePage {
    c: Ctx,
    name: String,
    action: String,
    back: String,
    categories: Vec<Choice>,
    days: u32,
    upload_only: bool,
    error: Option<String>,
}

/// The categories the structure may not see today (what it would ask).
async fn unseen(state: &AppState, cw: &Caseworker, b: PrincipalId) -> PageResult<Vec<Category>> {
    let now = state.vault.clock().now_ms();
    let grants = state.vault.list_grants(&cw.session, b).await?;
    Ok(Category::ALL
        .into_iter()
        .filter(|c| {
            !grants.iter().any(|g| {
                g.live(now) && g.categories.contains(c) && g.permissions.contains(&Permission::View)
            })
        })
        .collect())
}

async fn start(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
) -> PageResult<Response> {
    let name = state.vault.beneficiary_name(&cw.session, id).await?;
    let open = unseen(&state, &cw, id).await?;
    Ok(ok(&MorePage {
        c: Ctx::caseworker(&cw, &state, "pro-more-title", "accueil"),
        name,
        action: format!("/pro/personnes/{id}/demander"),
        back: format!("/pro/personnes/{id}"),
        categories: choices(&cw.tr, &open[..open.len().min(1)]),
        days: 31,
        upload_only: false,
        error: None,
    }))
}

#[derive(Template)]
#[template(path = "pro/more_handover.html")]
struct HandOver {
    c: Ctx,
    heading: String,
    sentence: String,
    action: String,
    carried: Vec<(&'static str, String)>,
    error: Option<String>,
}

async fn hand_over(
    state: &AppState,
    cw: &Caseworker,
    id: PrincipalId,
    p: &Proposal,
    error: Option<String>,
) -> PageResult<HandOver> {
    let name = state.vault.beneficiary_name(&cw.session, id).await?;
    let s = state.vault.structure(cw.structure)?;
    let until = cw
        .tr
        .day(state.vault.clock().now_ms() + i64::from(p.days) * 86_400_000);
    let first = name.split_whitespace().next().unwrap_or("").to_owned();
    Ok(HandOver {
        c: Ctx::caseworker(cw, state, "pro-handover-title", "accueil"),
        heading: cw.tr.with("pro-handover-heading", &[("name", &first)]),
        sentence: p.sentence(&cw.tr, &s.name, &until),
        action: format!("/pro/personnes/{id}/demander/main"),
        carried: carried(p),
        error,
    })
}

fn proposal(form: &Pairs) -> PageResult<Proposal> {
    let mut p = Proposal::from_pairs(&form.0);
    // Only the consent's fields: what the person types (their identifier)
    // is theirs, never carried back into the page.
    p.name.clear();
    p.identifier.clear();
    if p.categories.is_empty() || !DAYS.contains(&p.days) {
        return Err(PageError::Invalid("pro-more-none"));
    }
    Ok(p)
}

async fn propose(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
    form: Pairs,
) -> PageResult<Response> {
    cw.check_csrf(form.get("csrf"))?;
    let p = proposal(&form)?;
    Ok(ok(&hand_over(&state, &cw, id, &p, None).await?))
}

async fn hand_back(
    State(state): State<AppState>,
    cw: Caseworker,
    ClientAddr(client): ClientAddr,
    PagePath(id): PagePath<PrincipalId>,
    form: Pairs,
) -> PageResult<Response> {
    cw.check_csrf(form.get("csrf"))?;
    let p = proposal(&form)?;
    if form.get("accord") != "oui" {
        return Ok(see_other(&format!("/pro/personnes/{id}?refuse=1")));
    }
    per_address(&state, client)?;
    let again = async |key: &str| -> PageResult<Response> {
        let h = hand_over(&state, &cw, id, &p, Some(cw.tr.t(key))).await?;
        Ok(page(StatusCode::BAD_REQUEST, &h))
    };
    let secret = Zeroizing::new(form.get("secret").to_owned());
    let identifier = form.get("identifiant").trim().to_owned();
    if identifier.is_empty() || secret.is_empty() {
        return again("pro-more-need-secret").await;
    }
    // The person's own login (counted like any other), for this consent.
    let outcome = match state
        .vault
        .login_beneficiary_from(&identifier, UserSecret::new(secret.to_string()), client)
        .await
    {
        Ok(o) => o,
        Err(VaultError::Unauthenticated) => return again("pro-more-wrong").await,
        Err(e) => return Err(e.into()),
    };
    drop(secret);
    let person = state.vault.session(&outcome.token)?;
    let result = if person.principal.id() == id {
        state
            .vault
            .create_grant_with_presence(
                &person,
                id,
                cw.structure,
                NewGrant {
                    categories: p.categories.clone(),
                    permissions: p.permissions(),
                    days: p.days,
                },
                Some(cw.id),
            )
            .await
            .map(|_| ())
    } else {
        Err(VaultError::Forbidden("another person's vault"))
    };
    state.vault.logout(&person);
    match result {
        // Failed attempts before this login: the person is told now, while
        // the screen is theirs (the login just reset the count).
        Ok(()) if outcome.failed_attempts > 0 => Ok(see_other(&format!(
            "/pro/personnes/{id}?accord=1&echecs={}",
            outcome.failed_attempts.min(999)
        ))),
        Ok(()) => Ok(see_other(&format!("/pro/personnes/{id}?accord=1"))),
        // Someone else's identifier typed: said so, nothing given.
        Err(VaultError::Forbidden(_)) => again("pro-more-not-them").await,
        Err(e) => Err(e.into()),
    }
}
