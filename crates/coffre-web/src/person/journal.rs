//! Ce qui s'est passé: the journal as sentences, newest first, refused
//! attempts included; the security events kept in view on top.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use serde::Deserialize;

use super::Query;
use crate::ctx::Ctx;
use crate::error::PageResult;
use crate::journal_words::{Names, own_read};
use crate::ok;
use crate::session::Person;

pub fn router() -> Router<AppState> {
    Router::new().route("/journal", get(journal))
}

/// Entries per page.
const PAGE: usize = 50;

/// One line of the journal.
#[derive(Debug)]
pub struct Line {
    pub when: String,
    pub sentence: String,
    pub refused: bool,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    c: Ctx,
    kept: Vec<Line>,
    lines: Vec<Line>,
    all: bool,
    older: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JournalQuery {
    avant: Option<u64>,
    tout: Option<String>,
}

async fn journal(
    State(state): State<AppState>,
    p: Person,
    Query(q): Query<JournalQuery>,
) -> PageResult<Response> {
    let all = q.tout.is_some();
    let page = state
        .vault
        .vault_journal_page(&p.session, p.id, q.avant, PAGE)
        .await?;
    let titles: HashMap<String, String> = state
        .vault
        .list_documents(&p.session, p.id)
        .await?
        .into_iter()
        .map(|d| (d.document_id.to_string(), d.title))
        .collect();
    let tr = p.tr;
    let mut names = Names::new(&state, p.id, titles);
    let mut line = |e: &coffre_crypto::audit::Entry| Line {
        when: tr.moment(e.time_ms),
        sentence: names.sentence(&tr, e),
        // Refusals only: a failure (the store down, a damaged paper) was
        // not refused, and its sentence says what happened.
        refused: e.outcome == "denied",
    };
    let kept = if q.avant.is_none() {
        page.kept_in_view.iter().take(10).map(&mut line).collect()
    } else {
        Vec::new()
    };
    let lines = page
        .entries
        .iter()
        .filter(|e| all || !own_read(e, p.id))
        .map(&mut line)
        .collect();
    let older = page.next_before.map(|seq| {
        if all {
            format!("/journal?avant={seq}&tout=1")
        } else {
            format!("/journal?avant={seq}")
        }
    });
    Ok(ok(&JournalPage {
        c: Ctx::person(&p, &state, "journal-title", "journal"),
        kept,
        lines,
        all,
        older,
    }))
}
