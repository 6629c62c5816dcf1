//! Numériser pour la personne: the person's "add a paper" form (photos or
//! files, several pages made into one PDF, category, validity date), into
//! the categories the structure may add to. Upload-only consent is enough
//! (the person need not be there); the vault refuses anything else.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use coffre_crypto::PrincipalId;
use coffre_vault::{Category, Permission};

use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::person::PagePath;
use crate::person::add::{Adder, Choice, Described, receive};
use crate::person::papers::category_name;
use crate::session::Caseworker;
use crate::{ok, page};

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new().route(
        "/pro/personnes/{id}/numeriser",
        get(form_page)
            .post(scan)
            .layer(DefaultBodyLimit::max(max_body_bytes)),
    )
}

#[derive(Template)]
#[template(path = "pro/scan.html")]
struct ScanPage {
    c: Ctx,
    name: String,
    action: String,
    back: String,
    categories: Vec<Choice>,
    title: String,
    expires: String,
    error: Option<String>,
}

/// A caseworker adding to a person's vault.
struct ForPerson<'a> {
    cw: &'a Caseworker,
    state: &'a AppState,
    person: PrincipalId,
    name: String,
    /// The categories the structure may add to, today.
    open: Vec<Category>,
}

impl ForPerson<'_> {
    fn render(
        &self,
        chosen: Option<Category>,
        title: String,
        expires: String,
        error: Option<String>,
    ) -> Response {
        let tr = self.cw.tr;
        let status = if error.is_some() {
            axum::http::StatusCode::BAD_REQUEST
        } else {
            axum::http::StatusCode::OK
        };
        let p = ScanPage {
            c: Ctx::caseworker(self.cw, self.state, "pro-scan-title", "accueil"),
            name: self.name.clone(),
            action: format!("/pro/personnes/{}/numeriser", self.person),
            back: format!("/pro/personnes/{}", self.person),
            categories: self
                .open
                .iter()
                .map(|c| Choice {
                    slug: c.as_str(),
                    name: category_name(&tr, *c),
                    checked: Some(*c) == chosen || self.open.len() == 1,
                })
                .collect(),
            title,
            expires,
            error,
        };
        if status.is_success() {
            ok(&p)
        } else {
            page(status, &p)
        }
    }
}

impl Adder for ForPerson<'_> {
    fn session(&self) -> &coffre_vault::Session {
        &self.cw.session
    }
    fn vault(&self) -> PrincipalId {
        self.person
    }
    fn check_csrf(&self, sent: &str) -> PageResult<()> {
        self.cw.check_csrf(sent)
    }
    fn again(&self, d: &Described, key: &str) -> Response {
        self.render(
            d.category,
            d.title.clone(),
            d.expires.clone(),
            Some(self.cw.tr.t(key)),
        )
    }
    fn stored_at(&self, _: &coffre_vault::DocumentInfo) -> String {
        format!("/pro/personnes/{}?ajoute=1", self.person)
    }
}

async fn for_person<'a>(
    state: &'a AppState,
    cw: &'a Caseworker,
    person: PrincipalId,
) -> PageResult<ForPerson<'a>> {
    let name = state.vault.beneficiary_name(&cw.session, person).await?;
    let now = state.vault.clock().now_ms();
    let grants = state.vault.list_grants(&cw.session, person).await?;
    let open: Vec<Category> = Category::ALL
        .into_iter()
        .filter(|c| {
            grants.iter().any(|g| {
                g.live(now)
                    && g.categories.contains(c)
                    && g.permissions.contains(&Permission::Upload)
            })
        })
        .collect();
    Ok(ForPerson {
        cw,
        state,
        person,
        name,
        open,
    })
}

async fn form_page(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
) -> PageResult<Response> {
    let f = for_person(&state, &cw, id).await?;
    if f.open.is_empty() {
        return Err(PageError::Invalid("pro-scan-no-access"));
    }
    Ok(f.render(None, String::new(), String::new(), None))
}

async fn scan(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult<Response> {
    let form = form.map_err(|_| PageError::Invalid("err-form"))?;
    let f = for_person(&state, &cw, id).await?;
    receive(&state, &f, form).await
}
