//! Tableau de bord (the people linked to the caseworker's structure, found
//! by name) and Fiche personne (what the structure may see and add, until
//! when; the papers it may see; those whose validity ends soon). Only what
//! the vault lets this session see: a person not linked to the structure
//! does not exist here.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use coffre_crypto::PrincipalId;
use coffre_vault::{Category, Permission};
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::error::PageResult;
use crate::i18n::Tr;
use crate::ok;
use crate::person::papers::category_name;
use crate::person::{PageForm, PagePath, Query};
use crate::session::Caseworker;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro", get(dashboard).post(search))
        .route("/pro/personnes/{id}", get(person))
}

/// People shown at once on the dashboard (the search finds the others).
const SHOWN: usize = 100;
/// Papers whose validity ends within this many days are pointed out.
const SOON_DAYS: i64 = 60;

struct PersonRow {
    id: String,
    name: String,
}

/// A line of the dashboard's lists: a person, a paper or a grant, a date.
struct Line {
    href: String,
    name: String,
    what: String,
    when: String,
}

#[derive(Template)]
#[template(path = "pro/home.html")]
struct Dashboard {
    c: Ctx,
    /// Failed logins on this account since the last one.
    failures: Option<String>,
    q: String,
    people: Vec<PersonRow>,
    count: String,
    more: Option<String>,
    expiring: Vec<Line>,
    ending: Vec<Line>,
    recent: Vec<Line>,
}

/// Lines shown in each of the dashboard's lists.
const LINES: usize = 50;
/// How far back "added lately" goes.
const RECENT_DAYS: i64 = 14;

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
}

/// Lower case without accents: "Élodie" is found by "elodie".
fn folded(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

async fn dashboard(State(state): State<AppState>, cw: Caseworker) -> PageResult<Response> {
    dashboard_for(&state, &cw, String::new()).await
}

/// A search by name is posted: a name in an address would stay in the
/// browser's history and the proxies' logs.
async fn search(
    State(state): State<AppState>,
    cw: Caseworker,
    PageForm(f): PageForm<Search>,
) -> PageResult<Response> {
    cw.check_csrf(&f.csrf)?;
    let q: String = f.q.trim().chars().take(100).collect();
    dashboard_for(&state, &cw, q).await
}

async fn dashboard_for(state: &AppState, cw: &Caseworker, q: String) -> PageResult<Response> {
    let now = state.vault.clock().now_ms();
    let o = state
        .vault
        .desk_overview(
            &cw.session,
            SOON_DAYS as u32,
            now - RECENT_DAYS * 86_400_000,
        )
        .await?;
    let mut all = o.people.clone();
    all.sort_by_cached_key(|p| folded(&p.1));
    let wanted = folded(&q);
    let found: Vec<_> = all
        .into_iter()
        .filter(|(_, name)| wanted.is_empty() || folded(name).contains(&wanted))
        .collect();
    let tr = cw.tr;
    let more = (found.len() > SHOWN).then(|| tr.n("pro-more", (found.len() - SHOWN) as u64));
    let paper =
        |(b, name, d): &(PrincipalId, String, coffre_vault::DeskPaper), when: String| Line {
            href: format!("/pro/personnes/{b}"),
            name: name.clone(),
            what: category_name(&tr, d.category),
            when,
        };
    let expiring = o
        .expiring
        .iter()
        .take(LINES)
        .map(|x| paper(x, x.2.expires_on.map(|e| tr.date(e)).unwrap_or_default()))
        .collect();
    let recent = o
        .recent
        .iter()
        .take(LINES)
        .map(|x| paper(x, tr.day(x.2.uploaded_at_ms)))
        .collect();
    let ending = o
        .grants_ending
        .iter()
        .take(LINES)
        .map(|(b, name, g)| Line {
            href: format!("/pro/personnes/{b}"),
            name: name.clone(),
            what: g
                .categories
                .iter()
                .map(|c| category_name(&tr, *c))
                .collect::<Vec<_>>()
                .join(", "),
            when: tr.day(g.expires_ms),
        })
        .collect();
    let failed = cw.session.take_failures_to_tell();
    Ok(ok(&Dashboard {
        failures: (failed > 0).then(|| tr.n("pro-failures", u64::from(failed))),
        expiring,
        ending,
        recent,
        c: Ctx::caseworker(cw, state, "pro-home-title", "accueil"),
        count: tr.n("pro-people-count", found.len() as u64),
        people: found
            .into_iter()
            .take(SHOWN)
            .map(|(id, name)| PersonRow {
                id: id.to_string(),
                name,
            })
            .collect(),
        more,
        q,
    }))
}

/// A category as the structure may use it.
struct Access {
    name: String,
    words: String,
    open: bool,
}

struct PaperRow {
    id: String,
    title: String,
    category: String,
    added: String,
    validity: Option<String>,
    soon: bool,
}

#[derive(Template)]
#[template(path = "pro/person.html")]
struct PersonPage {
    c: Ctx,
    name: String,
    /// The structure may add papers (a link to "Numériser").
    scan: Option<String>,
    more: String,
    /// What happened: a paper added, a consent given or refused.
    said: Option<String>,
    /// The person's failed logins before the desk's, to tell them.
    failures: Option<String>,
    access: Vec<Access>,
    papers: Vec<PaperRow>,
    soon: Option<String>,
    sees: bool,
}

fn access_words(tr: &Tr, view: Option<i64>, upload: Option<i64>) -> (String, bool) {
    match (view, upload) {
        (Some(v), Some(u)) if v == u => (tr.with("pro-access-both", &[("date", &tr.day(v))]), true),
        (Some(v), _) => (tr.with("pro-access-view", &[("date", &tr.day(v))]), true),
        (None, Some(u)) => (tr.with("pro-access-upload", &[("date", &tr.day(u))]), true),
        (None, None) => (tr.t("pro-access-none"), false),
    }
}

#[derive(Debug, Deserialize)]
struct Added {
    ajoute: Option<String>,
    accord: Option<String>,
    refuse: Option<String>,
    echecs: Option<u32>,
}

async fn person(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
    Query(q): Query<Added>,
) -> PageResult<Response> {
    let tr = cw.tr;
    // Not linked to this structure: the vault refuses, and the page says
    // "not found" (the same as an id that names nobody).
    let name = state.vault.beneficiary_name(&cw.session, id).await?;
    let now = state.vault.clock().now_ms();
    let grants = state.vault.list_grants(&cw.session, id).await?;
    let until = |cat: Category, perm: Permission| {
        grants
            .iter()
            .filter(|g| g.live(now) && g.categories.contains(&cat) && g.permissions.contains(&perm))
            .map(|g| g.expires_ms)
            .max()
    };
    let mut sees = false;
    let mut adds = false;
    let access = Category::ALL
        .into_iter()
        .map(|cat| {
            let view = until(cat, Permission::View);
            let upload = until(cat, Permission::Upload);
            sees |= view.is_some();
            adds |= upload.is_some();
            let (words, open) = access_words(&tr, view, upload);
            Access {
                name: category_name(&tr, cat),
                words,
                open,
            }
        })
        .collect();
    // Listing only with a view grant: without one, there is nothing to
    // see, and the person's journal need not show a refused attempt.
    let docs = if sees {
        state.vault.list_documents(&cw.session, id).await?
    } else {
        Vec::new()
    };
    let today = Tr::local_day(now).unwrap_or(jiff::civil::date(2026, 1, 1));
    let papers: Vec<PaperRow> = docs
        .iter()
        .map(|d| {
            let left = d
                .expires_on
                .map(|until| i64::from(until.civil().since(today).map_or(0, |s| s.get_days())));
            PaperRow {
                id: d.document_id.to_string(),
                title: d.title.clone(),
                category: category_name(&tr, d.category),
                added: tr.day(d.uploaded_at_ms),
                validity: d.expires_on.map(|e| tr.date(e)),
                soon: left.is_some_and(|l| l <= SOON_DAYS),
            }
        })
        .collect();
    let soon = match papers.iter().filter(|p| p.soon).count() {
        0 => None,
        n => Some(tr.n("pro-papers-soon", n as u64)),
    };
    Ok(ok(&PersonPage {
        c: Ctx::caseworker(&cw, &state, "pro-person-title", "accueil").titled(name.clone()),
        name,
        scan: adds.then(|| format!("/pro/personnes/{id}/numeriser")),
        more: format!("/pro/personnes/{id}/demander"),
        failures: q
            .echecs
            .filter(|n| *n > 0)
            .map(|n| tr.n("pro-person-failures", u64::from(n))),
        said: if q.ajoute.is_some() {
            Some(tr.t("pro-scan-done"))
        } else if q.accord.is_some() {
            Some(tr.t("pro-more-accepted"))
        } else if q.refuse.is_some() {
            Some(tr.t("pro-more-refused"))
        } else {
            None
        },
        access,
        papers,
        soon,
        sees,
    }))
}
