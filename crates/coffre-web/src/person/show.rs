//! Montrer un papier (counter mode): the paper full screen, and for the
//! agent a copy through a QR code or a short code typed at `/c`, single
//! use, a few minutes; "Arrêter de montrer" ends it at once. The agent's
//! copy carries the mark "Copie transmise à … le …".

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use coffre_api::{AppState, ClientAddr};
use coffre_crypto::{DocumentId, ShareId};
use coffre_vault::VaultError;
use serde::Deserialize;

use super::papers::{Row, category_name};
use super::{CsrfOnly, PageForm, PagePath};
use crate::ctx::{Ctx, Visitor};
use crate::error::{PageError, PageResult};
use crate::session::{Person, SameSite};
use crate::{ok, page, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/montrer", get(choose))
        .route("/papiers/{id}/montrer", get(show))
        .route("/papiers/{id}/guichet", post(start))
        .route("/guichet/{id}", get(showing))
        .route("/guichet/{id}/arreter", post(stop))
}

/// The agent's side, on a route with a long time limit (marking a large
/// PDF may take seconds, and a code is spent once).
pub fn agent() -> Router<AppState> {
    Router::new()
        .route("/c", get(code_page).post(code_copy))
        .route("/c/{token}", get(token_page).post(token_copy))
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
    /// A PDF of photos: each page's image and its text alternative.
    pages: Vec<(String, String)>,
    markable: bool,
    explain: String,
}

async fn show(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let d = super::own_paper(&state, &p, id).await?;
    let pages = super::papers::page_list(&state, &p, id, &d.title, &d.content_type).await?;
    let c = Ctx::person(&p, &state, "show-title", "papiers").titled(d.title.clone());
    Ok(ok(&ShowPage {
        c,
        id: id.to_string(),
        pages,
        markable: coffre_copies::markable(&d.content_type, d.size),
        image: d.content_type.starts_with("image/"),
        explain: p
            .tr
            .n("counter-give-explain", u64::from(p.web.counter_minutes)),
    }))
}

#[derive(Debug, Deserialize)]
struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pour: String,
}

async fn start(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
    PageForm(f): PageForm<StartForm>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    let recipient = if f.pour.trim().is_empty() {
        p.tr.t("counter-default-recipient")
    } else {
        f.pour
    };
    let made = state
        .vault
        .create_counter_link(&p.session, id, &recipient, p.web.counter_minutes)
        .await?;
    Ok(see_other(&format!("/guichet/{}", made.id)))
}

#[derive(Template)]
#[template(path = "counter.html")]
struct CounterPage {
    c: Ctx,
    id: String,
    document: String,
    image: bool,
    qr: String,
    code: String,
    url: String,
    until: String,
    mark_note: String,
}

async fn showing(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<ShareId>,
) -> PageResult<Response> {
    let link = state
        .vault
        .counter_link(&p.session, id)
        .map_err(|_| PageError::Gone)?;
    let d = super::own_paper(&state, &p, link.document).await?;
    let base = state.config.public_url.trim_end_matches('/');
    let url = format!("{base}/c/{}", link.token.as_str());
    let code = link.code.as_str();
    let c = Ctx::person(&p, &state, "counter-title", "papiers").titled(d.title.clone());
    Ok(ok(&CounterPage {
        c,
        id: id.to_string(),
        document: link.document.to_string(),
        image: d.content_type.starts_with("image/"),
        qr: crate::qr::data_url(&url).unwrap_or_default(),
        code: format!("{}-{}-{}", &code[..3], &code[3..6], &code[6..]),
        url: format!("{base}/c"),
        until: p.tr.moment(link.expires_ms),
        mark_note: p.tr.with("counter-mark", &[("recipient", &link.recipient)]),
    }))
}

async fn stop(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<ShareId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    let document = state.vault.counter_link(&p.session, id).map(|l| l.document);
    match state.vault.stop_counter_link(&p.session, id).await {
        // Already used or ended: nothing left to stop.
        Ok(()) | Err(VaultError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(match document {
        Ok(d) => see_other(&format!("/papiers/{d}")),
        Err(_) => see_other("/papiers"),
    })
}

// --- the agent's side: no account ------------------------------------------

#[derive(Template)]
#[template(path = "counter_code.html")]
struct CodePage {
    c: Ctx,
    error: Option<String>,
}

async fn code_page(v: Visitor) -> Response {
    ok(&CodePage {
        c: Ctx::visitor(&v, "agent-title"),
        error: None,
    })
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

/// The copy, marked, shown in the agent's browser (a PDF it opens).
async fn give(state: &AppState, copy: coffre_vault::CounterCopy) -> PageResult<Response> {
    let mark = coffre_copies::given_mark(Some(&copy.recipient), copy.given_ms);
    let r = coffre_api::marked_response(state, copy.info, copy.stream, mark)
        .await
        .map_err(|_| PageError::Internal("marking a copy"))?;
    // Shown, not saved: the agent looks at it and prints it if needed.
    Ok(super::shown_copy(r))
}

async fn code_copy(
    State(state): State<AppState>,
    _: SameSite,
    ClientAddr(client): ClientAddr,
    v: Visitor,
    PageForm(f): PageForm<CodeForm>,
) -> PageResult<Response> {
    // Each try costs a journal line: limited per address, and in all by
    // the vault (SECURITY.md, "Counter codes").
    super::per_address(&state, client)?;
    match state.vault.redeem_counter_code(&f.code).await {
        Ok(copy) => give(&state, copy).await,
        Err(VaultError::Gone) => Ok(page(
            axum::http::StatusCode::GONE,
            &CodePage {
                c: Ctx::visitor(&v, "agent-title"),
                error: Some(v.tr.t("agent-bad-code")),
            },
        )),
        // Too many codes tried on the whole server this minute.
        Err(VaultError::Busy { retry_after }) => {
            let mut r = page(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                &CodePage {
                    c: Ctx::visitor(&v, "agent-title"),
                    error: Some(v.tr.t("agent-busy")),
                },
            );
            if let Ok(h) =
                axum::http::HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
            {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, h);
            }
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "counter_token.html")]
struct TokenPage {
    c: Ctx,
    until: String,
}

async fn token_page(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    v: Visitor,
    PagePath(token): PagePath<String>,
) -> PageResult<Response> {
    super::per_address(&state, client)?;
    let expires = state.vault.counter_status(&token)?;
    Ok(ok(&TokenPage {
        c: Ctx::visitor(&v, "agent-title"),
        until: v.tr.moment(expires),
    })
    .into_response())
}

async fn token_copy(
    State(state): State<AppState>,
    _: SameSite,
    ClientAddr(client): ClientAddr,
    PagePath(token): PagePath<String>,
) -> PageResult<Response> {
    super::per_address(&state, client)?;
    let copy = state.vault.redeem_counter_token(&token).await?;
    give(&state, copy).await
}
