//! Ajouter un papier: "Prendre une photo" (the phone's camera) or "Choisir
//! un fichier"; several photos become one PDF (`photos.rs`), one photo is
//! kept as it is, a file goes straight through encryption to the store.
//! The text fields come first in the form, so the paper's description is
//! known before its bytes arrive.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use coffre_api::AppState;
use coffre_vault::{Category, NewDocument};
use futures_util::StreamExt;
use serde::Deserialize;

use super::Query;
use super::papers::category_name;
use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::session::Person;
use crate::{page, see_other};
use coffre_copies::photos::{self, PhotoError};

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new().route(
        "/ajouter",
        get(form_page)
            .post(add)
            .layer(DefaultBodyLimit::max(max_body_bytes)),
    )
}

/// A category as a choice of the form.
#[derive(Debug)]
pub struct Choice {
    pub slug: &'static str,
    pub name: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "add.html")]
struct AddPage {
    c: Ctx,
    categories: Vec<Choice>,
    suggestions: Vec<String>,
    title: String,
    expires: String,
    private: bool,
    error: Option<String>,
    /// One camera control per page: `(id, label, only if needed)`.
    photo_inputs: Vec<(String, String, bool)>,
    /// The structures that may see papers, today, and of which kinds.
    allowed: String,
}

/// "Aujourd'hui : CCAS de Lyon (Identité, Aides et prestations)."
async fn who_may_see(state: &AppState, p: &Person) -> String {
    let tr = p.tr;
    let now = state.vault.clock().now_ms();
    let grants = state
        .vault
        .list_grants(&p.session, p.id)
        .await
        .unwrap_or_default();
    let lines: Vec<String> = grants
        .iter()
        .filter(|g| g.live(now) && g.permissions.contains(&coffre_vault::Permission::View))
        .map(|g| {
            let name = state
                .vault
                .structure(g.structure)
                .map(|s| s.name)
                .unwrap_or_else(|_| tr.t("someone-structure"));
            let kinds: Vec<String> = g
                .categories
                .iter()
                .map(|c| category_name(&tr, *c))
                .collect();
            format!("{name} ({})", kinds.join(", "))
        })
        .collect();
    if lines.is_empty() {
        tr.t("add-who-none")
    } else {
        tr.with("add-who-today", &[("list", &lines.join(" ; "))])
    }
}

/// Titles people give their papers most, offered as they type.
const SUGGESTIONS: [&str; 12] = [
    "suggest-id-card",
    "suggest-passport",
    "suggest-residence-permit",
    "suggest-receipt",
    "suggest-caf",
    "suggest-vitale",
    "suggest-css",
    "suggest-tax",
    "suggest-rent",
    "suggest-payslip",
    "suggest-france-travail",
    "suggest-birth",
];

#[derive(Debug, Deserialize)]
struct AddQuery {
    categorie: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn render(
    p: &Person,
    state: &AppState,
    allowed: &str,
    chosen: Option<Category>,
    title: String,
    expires: String,
    private: bool,
    error: Option<String>,
) -> Response {
    let tr = p.tr;
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    page(
        status,
        &AddPage {
            c: Ctx::person(p, state, "add-title", "papiers"),
            categories: Category::ALL
                .into_iter()
                .map(|c| Choice {
                    slug: c.as_str(),
                    name: category_name(&tr, c),
                    checked: Some(c) == chosen,
                })
                .collect(),
            suggestions: SUGGESTIONS.iter().map(|k| tr.t(k)).collect(),
            title,
            expires,
            private,
            error,
            photo_inputs: (1..=3u64)
                .map(|n| (format!("photo{n}"), tr.n("add-photo", n), n > 1))
                .collect(),
            allowed: allowed.to_owned(),
        },
    )
}

async fn form_page(
    State(state): State<AppState>,
    p: Person,
    Query(q): Query<AddQuery>,
) -> Response {
    let chosen = q.categorie.and_then(|c| c.parse().ok());
    let allowed = who_may_see(&state, &p).await;
    render(
        &p,
        &state,
        &allowed,
        chosen,
        String::new(),
        String::new(),
        false,
        None,
    )
}

/// HEIC (iPhones' default) is refused with the way to send a JPEG.
fn is_heic(filename: &str, content_type: &str) -> bool {
    let lower = filename.to_ascii_lowercase();
    lower.ends_with(".heic")
        || lower.ends_with(".heif")
        || content_type.eq_ignore_ascii_case("image/heic")
        || content_type.eq_ignore_ascii_case("image/heif")
}

/// What the form said before its files.
#[derive(Debug, Default)]
pub(crate) struct Described {
    csrf_ok: bool,
    pub category: Option<Category>,
    pub title: String,
    pub expires: String,
    pub private: bool,
}

impl Described {
    fn meta(&self, filename: String, content_type: Option<String>) -> PageResult<NewDocument> {
        let expires_on = if self.expires.trim().is_empty() {
            None
        } else {
            Some(
                self.expires
                    .trim()
                    .parse()
                    .map_err(|_| PageError::Invalid("add-bad-date"))?,
            )
        };
        Ok(NewDocument {
            category: Some(self.category.ok_or(PageError::Invalid("add-no-category"))?),
            title: Some(self.title.trim().to_owned()),
            filename,
            content_type,
            expires_on,
            private: Some(self.private),
            notes: None,
        })
    }
}

/// How long an upload waits for its turn to hold photos.
const PHOTO_TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a photo may stop arriving before its upload is given up.
const PHOTO_IDLE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long the rest of a form may take once its photos are held (a
/// 60 MiB form over a slow phone link is about two minutes).
const PHOTOS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(180);

/// Who adds a paper, and to whose vault: the person to their own, or a
/// caseworker to the vault of a person they accompany (`pro/scan.rs`).
/// The form's reading (photos made into one PDF, a file streamed through
/// encryption) is the same; what differs is here.
pub(crate) trait Adder: Sync {
    fn session(&self) -> &coffre_vault::Session;
    /// The vault the paper goes to.
    fn vault(&self) -> coffre_crypto::PrincipalId;
    fn check_csrf(&self, sent: &str) -> PageResult<()>;
    /// The form again, with what was typed and why it was refused (a
    /// Fluent key).
    fn again(&self, d: &Described, key: &str) -> Response;
    /// Where to go once the paper is stored.
    fn stored_at(&self, info: &coffre_vault::DocumentInfo) -> String;
}

/// The person adding to their own vault.
struct Own<'a> {
    p: &'a Person,
    state: &'a AppState,
    allowed: String,
}

impl Adder for Own<'_> {
    fn session(&self) -> &coffre_vault::Session {
        &self.p.session
    }
    fn vault(&self) -> coffre_crypto::PrincipalId {
        self.p.id
    }
    fn check_csrf(&self, sent: &str) -> PageResult<()> {
        self.p.check_csrf(sent)
    }
    fn again(&self, d: &Described, key: &str) -> Response {
        render(
            self.p,
            self.state,
            &self.allowed,
            d.category,
            d.title.clone(),
            d.expires.clone(),
            d.private,
            Some(self.p.tr.t(key)),
        )
    }
    fn stored_at(&self, info: &coffre_vault::DocumentInfo) -> String {
        format!("/papiers/{}", info.document_id)
    }
}

/// Uploads holding photos in memory at once.
fn photo_turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| tokio::sync::Semaphore::new(4))
}

async fn add(
    State(state): State<AppState>,
    p: Person,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult<Response> {
    let form = form.map_err(|_| PageError::Invalid("err-form"))?;
    let allowed = who_may_see(&state, &p).await;
    let own = Own {
        p: &p,
        state: &state,
        allowed,
    };
    receive(&state, &own, form).await
}

/// Reads an "add a paper" form and stores the paper in `a`'s vault.
pub(crate) async fn receive<A: Adder>(
    state: &AppState,
    a: &A,
    mut form: Multipart,
) -> PageResult<Response> {
    let mut d = Described::default();
    let mut photos: Vec<Vec<u8>> = Vec::new();
    let mut photos_bytes = 0usize;
    // Photos are held in memory until the PDF is made: a few uploads at a
    // time do it (4 × 60 MiB at most), whoever sends how many.
    let mut buffering: Option<tokio::sync::SemaphorePermit<'static>> = None;
    let fail = |d: &Described, key: &str| a.again(d, key);
    // Once photos are held, the rest of the form has this long to arrive.
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            Some(d) => tokio::time::timeout_at(d, form.next_field())
                .await
                .map_err(|_| PageError::TimedOut)?,
            None => form.next_field().await,
        };
        let field = match next {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Ok(fail(&d, "add-too-large")),
        };
        let name = field.name().unwrap_or("").to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().unwrap_or("").to_owned();
        if name != "csrf" && !d.csrf_ok {
            return Err(PageError::Csrf);
        }
        match (name.as_str(), filename) {
            ("photos" | "fichier", Some(f)) if f.is_empty() => {
                // A control left empty: browsers send it without a name.
            }
            (_, Some(f)) if is_heic(&f, &content_type) => return Ok(fail(&d, "add-heic")),
            ("photos", Some(_)) | ("fichier", Some(_))
                if name == "photos" || content_type == "image/jpeg" =>
            {
                if photos.len() == photos::MAX_PHOTOS {
                    return Ok(fail(&d, "add-too-many-photos"));
                }
                if buffering.is_none() {
                    // A few seconds' wait at most: past it, "busy", so slow
                    // senders cannot hold everyone's photos back.
                    match tokio::time::timeout(PHOTO_TURN_WAIT, photo_turns().acquire()).await {
                        Ok(Ok(turn)) => {
                            buffering = Some(turn);
                            deadline = Some(tokio::time::Instant::now() + PHOTOS_DEADLINE);
                        }
                        Ok(Err(_)) => return Err(PageError::Internal("photo turns")),
                        // Said on the form itself, what was typed kept.
                        Err(_) => return Ok(fail(&d, "add-busy")),
                    }
                }
                let mut field = field;
                let mut data = Vec::new();
                loop {
                    // A photo that stops arriving gives its turn back.
                    let until = deadline
                        .unwrap_or_else(tokio::time::Instant::now)
                        .min(tokio::time::Instant::now() + PHOTO_IDLE);
                    let Ok(next) = tokio::time::timeout_at(until, field.chunk()).await else {
                        return Err(PageError::TimedOut);
                    };
                    match next {
                        Ok(Some(chunk)) => {
                            photos_bytes += chunk.len();
                            if data.len() + chunk.len() > photos::MAX_PHOTO_BYTES
                                || photos_bytes > photos::MAX_PHOTOS_BYTES
                            {
                                return Ok(fail(&d, "add-photo-too-large"));
                            }
                            data.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(_) => return Ok(fail(&d, "add-too-large")),
                    }
                }
                if photos::jpeg_facts(&data).is_err() {
                    return Ok(fail(&d, "add-photo-not-jpeg"));
                }
                photos.push(data);
            }
            ("fichier", Some(f)) => {
                if !photos.is_empty() {
                    return Ok(fail(&d, "add-both"));
                }
                let meta = match d.meta(f, Some(content_type).filter(|c| !c.is_empty())) {
                    Ok(m) => m,
                    Err(PageError::Invalid(key)) => return Ok(fail(&d, key)),
                    Err(e) => return Err(e),
                };
                let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
                let mut field = field;
                let feed = async move {
                    loop {
                        match field.chunk().await {
                            Ok(Some(chunk)) => {
                                if tx.send(Ok(chunk)).await.is_err() {
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                let _ = tx.send(Err(std::io::Error::other(e.body_text()))).await;
                                break;
                            }
                        }
                    }
                };
                let (res, ()) = tokio::join!(
                    state
                        .vault
                        .upload(a.session(), a.vault(), meta, coffre_api::stream_of(rx)),
                    feed
                );
                return stored(a, &d, res);
            }
            (_, Some(_)) => return Err(PageError::Invalid("err-form")),
            (_, None) => {
                let read = coffre_api::form::read_text(field);
                let text = match deadline {
                    Some(d) => tokio::time::timeout_at(d, read)
                        .await
                        .map_err(|_| PageError::TimedOut)?,
                    None => read.await,
                }
                .map_err(|_| PageError::Invalid("err-form"))?;
                match name.as_str() {
                    "csrf" => {
                        a.check_csrf(&text)?;
                        d.csrf_ok = true;
                    }
                    "categorie" => d.category = text.parse().ok(),
                    "titre" => d.title = text,
                    "valable" => d.expires = text,
                    "visibilite" => d.private = text == "moi",
                    _ => return Err(PageError::Invalid("err-form")),
                }
            }
        }
    }
    if !d.csrf_ok {
        return Err(PageError::Csrf);
    }
    let (bytes, filename, content_type) = match photos.len() {
        0 => return Ok(fail(&d, "add-no-file")),
        1 => (
            photos.pop().unwrap_or_default(),
            "photo.jpg".to_owned(),
            "image/jpeg",
        ),
        _ => {
            // Made off the async workers: a few milliseconds per photo.
            let pdf = tokio::task::spawn_blocking(move || photos::photos_to_pdf(&photos))
                .await
                .map_err(|_| PageError::Internal("photos_to_pdf"))?;
            match pdf {
                Ok(pdf) => (pdf, "photos.pdf".to_owned(), "application/pdf"),
                Err(PhotoError::NotJpeg) => return Ok(fail(&d, "add-photo-not-jpeg")),
                Err(PhotoError::TooMany) => return Ok(fail(&d, "add-too-many-photos")),
                Err(PhotoError::TooLarge) => return Ok(fail(&d, "add-photo-too-large")),
                Err(PhotoError::None) => return Ok(fail(&d, "add-no-file")),
            }
        }
    };
    let meta = match d.meta(filename, Some(content_type.to_owned())) {
        Ok(m) => m,
        Err(PageError::Invalid(key)) => return Ok(fail(&d, key)),
        Err(e) => return Err(e),
    };
    let body = futures_util::stream::iter([Ok(Bytes::from(bytes))]).boxed();
    let res = state.vault.upload(a.session(), a.vault(), meta, body).await;
    stored(a, &d, res)
}

/// The answer to a stored (or refused) upload.
fn stored<A: Adder>(
    a: &A,
    d: &Described,
    res: coffre_vault::Result<coffre_vault::DocumentInfo>,
) -> PageResult<Response> {
    let key = match res {
        Ok(info) => return Ok(see_other(&a.stored_at(&info))),
        Err(coffre_vault::VaultError::TooLarge { .. }) => "add-too-large",
        Err(coffre_vault::VaultError::QuotaExceeded { .. }) => "err-quota-text",
        Err(coffre_vault::VaultError::Invalid(_)) => "add-invalid",
        Err(e) => return Err(e.into()),
    };
    Ok(a.again(d, key))
}
