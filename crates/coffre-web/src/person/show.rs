//! Montrer un papier (counter mode): the paper full screen, so an agent at
//! a counter can read it without taking the phone.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use coffre_crypto::DocumentId;

use super::PagePath;
use super::papers::{Row, category_name};
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::ok;
use crate::session::Person;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/montrer", get(choose))
        .route("/papiers/{id}/montrer", get(show))
}

#[derive(Template)]
#[template(path = "show_choose.html")]
struct ChoosePage {
    c: Ctx,
    rows: Vec<Row>,
}

async fn choose(State(state): State<AppState>, p: Person) -> PageResult<Response> {
    let tr = p.tr;
    let rows = state
        .vault
        .list_documents(&p.session, p.id)
        .await?
        .into_iter()
        .map(|d| Row {
            href: format!("/papiers/{}/montrer", d.document_id),
            meta: category_name(&tr, d.category),
            title: d.title,
            validity: None,
        })
        .collect();
    Ok(ok(&ChoosePage {
        c: Ctx::person(&p, &state, "show-title", "papiers"),
        rows,
    }))
}

#[derive(Template)]
#[template(path = "show.html")]
struct ShowPage {
    c: Ctx,
    id: String,
    image: bool,
}

async fn show(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let d = state.vault.document_info(&p.session, id).await?;
    if d.beneficiary_id != p.id {
        return Err(PageError::NotFound);
    }
    let c = Ctx::person(&p, &state, "show-title", "papiers").titled(d.title.clone());
    Ok(ok(&ShowPage {
        c,
        id: id.to_string(),
        image: d.content_type.starts_with("image/"),
    }))
}
