//! Mes papiers (the home page), the papers of one category, one paper (its
//! file, its privacy, its deletion), the notices the person must read.

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use coffre_api::AppState;
use coffre_crypto::DocumentId;
use coffre_vault::{Category, DocumentInfo, NoticeKind};
use serde::Deserialize;

use super::{CsrfOnly, PageForm, PagePath, Query};
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::i18n::Tr;
use crate::session::Person;
use crate::{ok, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/papiers", get(home))
        .route("/papiers/categorie/{category}", get(category))
        .route("/papiers/{id}", get(paper))
        .route("/papiers/{id}/visibilite", post(privacy))
        .route("/papiers/{id}/supprimer", get(delete_page).post(delete))
        .route("/avis/{id}/lu", post(notice_read))
}

/// The paper's file, on a route with a long time limit.
pub fn files() -> Router<AppState> {
    Router::new()
        .route("/papiers/{id}/fichier", get(file))
        .route("/papiers/{id}/duplicata", get(duplicate))
        .route("/papiers/{id}/page/{n}", get(page_image))
}

/// The photos of a PDF made of photos (one JPEG per page), to show its
/// pages as images; `None` for any other PDF (offered as a download).
async fn photo_pages(
    state: &AppState,
    p: &Person,
    id: DocumentId,
) -> PageResult<Option<Vec<Vec<u8>>>> {
    let (info, mut stream) = state.vault.download(&p.session, id).await?;
    if info.beneficiary_id != p.id {
        return Err(PageError::NotFound);
    }
    if info.content_type != "application/pdf"
        || !coffre_copies::markable(&info.content_type, info.size)
    {
        return Ok(None);
    }
    // A PDF read whole and parsed: a few at a time (4 × 40 MiB at most).
    static READING: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    let turn = READING
        .get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(4)))
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| PageError::Internal("reading a PDF"))?;
    let mut whole = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(|_| PageError::Internal("reading a paper"))?;
        if whole.len() + chunk.len() > coffre_copies::MARKABLE_MAX_BYTES {
            return Ok(None);
        }
        whole.extend_from_slice(&chunk);
    }
    let pages = tokio::task::spawn_blocking(move || {
        let pages = coffre_copies::page_photos(&whole);
        drop(turn);
        pages
    })
    .await
    .map_err(|_| PageError::Internal("reading a PDF"))?;
    Ok(pages.ok())
}

/// The pages of a PDF made of photos, as `(image address, text
/// alternative)`; empty for any other paper.
pub(super) async fn page_list(
    state: &AppState,
    p: &Person,
    id: DocumentId,
    title: &str,
    content_type: &str,
) -> PageResult<Vec<(String, String)>> {
    if content_type != "application/pdf" {
        return Ok(Vec::new());
    }
    let Some(photos) = photo_pages(state, p, id).await? else {
        return Ok(Vec::new());
    };
    let total = photos.len() as u64;
    Ok((1..=total)
        .map(|k| {
            (
                format!("/papiers/{id}/page/{k}"),
                p.tr.with_n(
                    "paper-page-alt",
                    k,
                    &[("title", title), ("total", &total.to_string())],
                ),
            )
        })
        .collect())
}

/// One page of a PDF made of photos, as the photo it holds.
async fn page_image(
    State(state): State<AppState>,
    p: Person,
    PagePath((id, n)): PagePath<(DocumentId, usize)>,
) -> PageResult<Response> {
    let pages = photo_pages(&state, &p, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let photo = n
        .checked_sub(1)
        .and_then(|i| pages.into_iter().nth(i))
        .ok_or(PageError::NotFound)?;
    let mut r = Body::from(photo).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(r)
}

/// "Imprimer un duplicata": the paper as a PDF marked "Duplicata imprimé
/// le …", shown for the browser to print; journaled as such.
async fn duplicate(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let (info, stream) = state.vault.download_duplicate(&p.session, id).await?;
    if info.beneficiary_id != p.id {
        return Err(PageError::NotFound);
    }
    let mark = coffre_copies::duplicate_mark(state.vault.clock().now_ms());
    let r = coffre_api::marked_response(&state, info, stream, mark)
        .await
        .map_err(|_| PageError::Internal("marking a duplicate"))?;
    Ok(super::shown_copy(r))
}

/// Papers whose validity ends within this many days get a banner.
const SOON_DAYS: i64 = 90;

/// A category as a tile.
#[derive(Debug)]
pub struct Tile {
    pub slug: &'static str,
    pub name: String,
    pub count: String,
}

/// A banner of the home page.
#[derive(Debug)]
pub struct Banner {
    pub text: String,
    pub href: Option<String>,
    /// A notice the person must acknowledge (its id).
    pub notice: Option<u32>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Ctx,
    tiles: Vec<Tile>,
    banners: Vec<Banner>,
    total: String,
}

/// The category's name in words.
pub fn category_name(tr: &Tr, c: Category) -> String {
    tr.t(&format!("cat-{}", c.as_str()))
}

/// Days from today (in France) to a paper's validity date.
fn days_left(today: jiff::civil::Date, until: coffre_vault::Date) -> i64 {
    i64::from(until.civil().since(today).map_or(0, |s| s.get_days()))
}

fn today(state: &AppState) -> jiff::civil::Date {
    Tr::local_day(state.vault.clock().now_ms()).unwrap_or(jiff::civil::date(2026, 1, 1))
}

/// The sentence about a paper's validity, if it ends soon or has ended.
pub fn validity_words(tr: &Tr, today: jiff::civil::Date, d: &DocumentInfo) -> Option<String> {
    let until = d.expires_on?;
    let left = days_left(today, until);
    let title = d.title.as_str();
    if left < 0 {
        Some(tr.with(
            "validity-ended",
            &[("title", title), ("date", &tr.date(until))],
        ))
    } else if left <= SOON_DAYS {
        Some(tr.with_n(
            "validity-soon",
            u64::try_from(left).unwrap_or(0),
            &[("title", title)],
        ))
    } else {
        None
    }
}

async fn home(State(state): State<AppState>, p: Person) -> PageResult<Response> {
    let docs = state.vault.list_documents(&p.session, p.id).await?;
    let tr = p.tr;
    let tiles = Category::ALL
        .into_iter()
        .map(|cat| {
            let n = docs.iter().filter(|d| d.category == cat).count() as u64;
            Tile {
                slug: cat.as_str(),
                name: category_name(&tr, cat),
                count: tr.n("papers-count", n),
            }
        })
        .collect();
    let mut banners = Vec::new();
    let failures = p.session.take_failures_to_tell();
    if failures > 0 {
        banners.push(Banner {
            text: tr.n("banner-failures", u64::from(failures)),
            href: Some("/journal".into()),
            notice: None,
        });
    }
    for n in state.vault.notices(&p.session, p.id).await? {
        let NoticeKind::Recovery { structure, .. } = n.kind;
        let name = state
            .vault
            .structure(structure)
            .map(|s| s.name)
            .unwrap_or_default();
        banners.push(Banner {
            text: tr.with(
                "banner-recovery",
                &[("structure", &name), ("date", &tr.moment(n.created_ms))],
            ),
            href: None,
            notice: Some(n.id),
        });
    }
    // Papers a structure added since the last visit (all of them, on a
    // first visit).
    let since = p.session.previous_login().unwrap_or(i64::MIN);
    let added: Vec<&DocumentInfo> = docs
        .iter()
        .filter(|d| d.uploaded_at_ms > since && d.uploaded_by.starts_with("caseworker:"))
        .collect();
    if let Some(first) = added.first() {
        let structure = who_added(&state, &tr, first);
        banners.push(Banner {
            text: tr.with_n(
                "banner-added",
                added.len() as u64,
                &[("structure", &structure), ("title", &first.title)],
            ),
            href: Some(format!("/papiers/{}", first.document_id)),
            notice: None,
        });
    }
    let today = today(&state);
    let mut soon: Vec<&DocumentInfo> = docs
        .iter()
        .filter(|d| {
            d.expires_on
                .is_some_and(|e| days_left(today, e) <= SOON_DAYS)
        })
        .collect();
    soon.sort_by_key(|d| d.expires_on);
    for d in soon.into_iter().take(5) {
        if let Some(text) = validity_words(&tr, today, d) {
            banners.push(Banner {
                text,
                href: Some(format!("/papiers/{}", d.document_id)),
                notice: None,
            });
        }
    }
    Ok(ok(&HomePage {
        c: Ctx::person(&p, &state, "home-title", "papiers"),
        tiles,
        banners,
        total: tr.n("papers-count", docs.len() as u64),
    }))
}

/// A paper in a list.
#[derive(Debug)]
pub struct Row {
    pub href: String,
    pub title: String,
    pub meta: String,
    pub validity: Option<String>,
}

#[derive(Template)]
#[template(path = "category.html")]
struct CategoryPage {
    c: Ctx,
    slug: &'static str,
    rows: Vec<Row>,
}

async fn category(
    State(state): State<AppState>,
    p: Person,
    PagePath(slug): PagePath<String>,
) -> PageResult<Response> {
    let cat: Category = slug.parse().map_err(|_| PageError::NotFound)?;
    let docs = state.vault.list_documents(&p.session, p.id).await?;
    let tr = p.tr;
    let today = today(&state);
    let rows = docs
        .iter()
        .filter(|d| d.category == cat)
        .map(|d| Row {
            href: format!("/papiers/{}", d.document_id),
            title: d.title.clone(),
            meta: tr.with("paper-added-on", &[("date", &tr.moment(d.uploaded_at_ms))]),
            validity: validity_words(&tr, today, d),
        })
        .collect();
    let c = Ctx::person(&p, &state, "home-title", "papiers").titled(category_name(&tr, cat));
    Ok(ok(&CategoryPage {
        c,
        slug: cat.as_str(),
        rows,
    }))
}

/// Types a browser shows by itself; anything else is only downloaded.
fn shown_inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "application/pdf"
    )
}

fn is_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp"
    )
}

#[derive(Template)]
#[template(path = "paper.html")]
struct PaperPage {
    c: Ctx,
    id: String,
    /// A PDF of photos: each page's image and its text alternative.
    pages: Vec<(String, String)>,
    image: bool,
    facts: Vec<(String, String)>,
    private: bool,
    category_slug: &'static str,
    category: String,
}

async fn paper(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let d = super::own_paper(&state, &p, id).await?;
    let tr = p.tr;
    let mut facts = vec![
        (tr.t("paper-category"), category_name(&tr, d.category)),
        (tr.t("paper-added"), tr.moment(d.uploaded_at_ms)),
        (tr.t("paper-added-by"), who_added(&state, &tr, &d)),
        (
            tr.t("paper-file"),
            format!("{} ({})", d.filename, size_words(&tr, d.size)),
        ),
    ];
    if let Some(e) = d.expires_on {
        facts.push((tr.t("paper-valid-until"), tr.date(e)));
    }
    facts.push((
        tr.t("paper-who-sees"),
        tr.t(if d.private {
            "paper-private"
        } else {
            "paper-shared"
        }),
    ));
    // A PDF made of photos is shown page by page, as its photos.
    let pages = page_list(&state, &p, id, &d.title, &d.content_type).await?;
    let c = Ctx::person(&p, &state, "home-title", "papiers").titled(d.title.clone());
    Ok(ok(&PaperPage {
        c,
        id: d.document_id.to_string(),
        pages,
        image: is_image(&d.content_type),
        facts,
        private: d.private,
        category_slug: d.category.as_str(),
        category: category_name(&tr, d.category),
    }))
}

/// Who added a paper, in words: "vous", or the structure's name.
pub fn who_added(state: &AppState, tr: &Tr, d: &DocumentInfo) -> String {
    match coffre_vault::Who::parse(&d.uploaded_by) {
        Some(coffre_vault::Who::Caseworker(id)) => state
            .vault
            .structure_name_of_caseworker(id)
            .unwrap_or_else(|| tr.t("someone-structure")),
        _ => tr.t("you"),
    }
}

/// A size in words ("2,4 Mo").
pub fn size_words(tr: &Tr, bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        tr.n("size-kb", bytes.div_ceil(1024).max(1))
    } else {
        let tenths = (bytes * 10).div_ceil(1024 * 1024);
        tr.with(
            "size-mb",
            &[("mb", &format!("{},{}", tenths / 10, tenths % 10))],
        )
    }
}

#[derive(Debug, Deserialize)]
struct FileQuery {
    telecharger: Option<String>,
}

/// The paper's file, as it was given: shown in the page (an image) or
/// downloaded. Never cached; sandboxed if a browser opens it by itself.
async fn file(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
    Query(q): Query<FileQuery>,
) -> PageResult<Response> {
    let (info, stream) = state.vault.download(&p.session, id).await?;
    if info.beneficiary_id != p.id {
        return Err(PageError::NotFound);
    }
    let inline = q.telecharger.is_none() && shown_inline(&info.content_type);
    let content_type = if shown_inline(&info.content_type) {
        info.content_type.clone()
    } else {
        "application/octet-stream".to_owned()
    };
    let mut disposition = coffre_api::disposition(&info.filename);
    if inline {
        disposition = disposition.replacen("attachment", "inline", 1);
    }
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    // `sandbox` would stop the browser's PDF viewer; a PDF gets the rest.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        if content_type == "application/pdf" {
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
        } else {
            HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox")
        },
    );
    Ok(r)
}

#[derive(Debug, Deserialize)]
struct PrivacyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    prive: String,
}

async fn privacy(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
    PageForm(f): PageForm<PrivacyForm>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    let private = f.prive == "1";
    state
        .vault
        .update_document(&p.session, id, None, None, Some(private))
        .await?;
    Ok(see_other(&format!("/papiers/{id}")))
}

/// A confirmation page: what will happen, one button to do it, one link
/// to go back.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub c: Ctx,
    pub lines: Vec<String>,
    pub action: String,
    pub button: String,
    pub back: String,
    /// The action needs the person's secret typed again.
    pub ask_secret: bool,
    pub error: Option<String>,
}

async fn delete_page(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
) -> PageResult<Response> {
    let d = super::own_paper(&state, &p, id).await?;
    let tr = p.tr;
    Ok(ok(&ConfirmPage {
        c: Ctx::person(&p, &state, "delete-title", "papiers"),
        lines: vec![
            tr.with("delete-what", &[("title", &d.title)]),
            tr.t("delete-consequence"),
        ],
        action: format!("/papiers/{id}/supprimer"),
        button: tr.t("delete-button"),
        back: format!("/papiers/{id}"),
        ask_secret: false,
        error: None,
    }))
}

async fn delete(
    State(state): State<AppState>,
    p: Person,
    PagePath(id): PagePath<DocumentId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    state.vault.delete_document(&p.session, id).await?;
    Ok(see_other("/papiers"))
}

async fn notice_read(
    State(state): State<AppState>,
    p: Person,
    PagePath(notice): PagePath<u32>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    p.check_csrf(&f.csrf)?;
    state
        .vault
        .acknowledge_notice(&p.session, p.id, notice)
        .await?;
    Ok(see_other("/papiers"))
}
