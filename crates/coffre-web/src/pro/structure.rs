//! Ma structure (structure admins): the members, with their state and
//! second factor; inviting one (the one-time code shown as text, with the
//! activation page's address as a QR code, printable); deactivating one
//! (the structure's key is replaced at once) and resetting a second factor,
//! each behind a confirmation page; the structure's phone and address, as
//! access cards and people's pages show them.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use coffre_api::AppState;
use coffre_crypto::PrincipalId;
use coffre_vault::VaultError;
use serde::Deserialize;

use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::person::{PageForm, PagePath};
use crate::session::Caseworker;
use crate::{ok, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro/structure", get(page).post(contact))
        .route("/pro/structure/inviter", get(page).post(invite))
        .route(
            "/pro/structure/membres/{id}/desactiver",
            get(confirm_deactivate).post(deactivate),
        )
        .route(
            "/pro/structure/membres/{id}/second-facteur",
            get(confirm_reset).post(reset),
        )
}

/// Only a structure's admins manage it; to anyone else the pages do not
/// exist.
fn admin(cw: &Caseworker) -> PageResult<()> {
    if cw.admin {
        Ok(())
    } else {
        Err(PageError::NotFound)
    }
}

struct Member {
    id: String,
    login: String,
    role: String,
    state: String,
    factor: String,
    /// Active and not the admin looking: can be deactivated, reset.
    actions: bool,
    can_reset: bool,
}

#[derive(Template)]
#[template(path = "pro/structure.html")]
struct StructurePage {
    c: Ctx,
    name: String,
    phone: String,
    address: String,
    members: Vec<Member>,
    saved: bool,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Saved {
    enregistre: Option<String>,
}

async fn render(
    state: &AppState,
    cw: &Caseworker,
    saved: bool,
    error: Option<String>,
) -> PageResult<Response> {
    let tr = cw.tr;
    let s = state.vault.structure(cw.structure)?;
    let mut list = state
        .vault
        .list_caseworkers(&cw.session, cw.structure)
        .await?;
    list.sort_by(|a, b| b.active.cmp(&a.active).then(a.login.cmp(&b.login)));
    let members = list
        .into_iter()
        .map(|m| {
            let state = if m.active {
                "pro-member-active"
            } else if m.pending {
                "pro-member-pending"
            } else {
                "pro-member-gone"
            };
            Member {
                id: m.caseworker_id.to_string(),
                role: tr.t(if m.admin {
                    "pro-role-admin"
                } else {
                    "pro-role-agent"
                }),
                state: tr.t(state),
                factor: tr.t(match (m.active, m.second_factor) {
                    (false, _) => "pro-factor-none",
                    (true, true) => "pro-factor-set",
                    (true, false) => "pro-factor-unset",
                }),
                actions: (m.active || m.pending) && m.caseworker_id != cw.id,
                // A lost phone, or an account made before second factors.
                can_reset: m.active && m.caseworker_id != cw.id,
                login: m.login,
            }
        })
        .collect();
    Ok(ok(&StructurePage {
        c: Ctx::caseworker(cw, state, "pro-structure-title", "structure"),
        name: s.name,
        phone: s.phone.unwrap_or_default(),
        address: s.address.unwrap_or_default(),
        members,
        saved,
        error,
    }))
}

async fn page(
    State(state): State<AppState>,
    cw: Caseworker,
    crate::person::Query(q): crate::person::Query<Saved>,
) -> PageResult<Response> {
    admin(&cw)?;
    render(&state, &cw, q.enregistre.is_some(), None).await
}

#[derive(Debug, Deserialize)]
struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    telephone: String,
    #[serde(default)]
    adresse: String,
}

async fn contact(
    State(state): State<AppState>,
    cw: Caseworker,
    PageForm(f): PageForm<ContactForm>,
) -> PageResult<Response> {
    admin(&cw)?;
    cw.check_csrf(&f.csrf)?;
    match state
        .vault
        .set_structure_contact(
            &cw.session,
            cw.structure,
            Some(f.telephone),
            Some(f.adresse),
        )
        .await
    {
        Ok(_) => Ok(see_other("/pro/structure?enregistre=1")),
        Err(VaultError::Invalid(_)) => {
            render(&state, &cw, false, Some(cw.tr.t("pro-contact-too-long"))).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "pro/invited.html")]
struct InvitedPage {
    c: Ctx,
    intro: String,
    step_open: String,
    code: String,
    qr: String,
    qr_alt: String,
}

async fn invite(
    State(state): State<AppState>,
    cw: Caseworker,
    PageForm(f): PageForm<InviteForm>,
) -> PageResult<Response> {
    admin(&cw)?;
    cw.check_csrf(&f.csrf)?;
    let login = f.login.trim().to_owned();
    let (_, code) = match state
        .vault
        .invite_caseworker(&cw.session, cw.structure, &login, f.role == "admin")
        .await
    {
        Ok(x) => x,
        Err(VaultError::Invalid(_)) => {
            return render(&state, &cw, false, Some(cw.tr.t("pro-invite-bad-login"))).await;
        }
        Err(VaultError::Conflict(_)) => {
            return render(&state, &cw, false, Some(cw.tr.t("pro-invite-taken"))).await;
        }
        Err(e) => return Err(e.into()),
    };
    // The QR code carries the activation page's address only: the code is
    // a secret, and an address ends up in histories and logs.
    let address = format!(
        "{}/pro/activer",
        state.config.public_url.trim_end_matches('/')
    );
    let s = state.vault.structure(cw.structure)?;
    let tr = cw.tr;
    Ok(ok(&InvitedPage {
        c: Ctx::caseworker(&cw, &state, "pro-invited-title", "structure"),
        intro: tr.with(
            "pro-invited-for",
            &[("login", &login), ("structure", &s.name)],
        ),
        step_open: tr.with("pro-invited-step-open", &[("address", &address)]),
        code: code.to_string(),
        qr: crate::qr::data_url(&address).unwrap_or_default(),
        qr_alt: tr.with("pro-invited-qr-alt", &[("address", &address)]),
    }))
}

/// A member of this structure (another one names nothing here).
fn member(state: &AppState, cw: &Caseworker, id: PrincipalId) -> PageResult<String> {
    state
        .vault
        .caseworkers_of(cw.structure)?
        .into_iter()
        .find(|m| m.caseworker_id == id && m.caseworker_id != cw.id)
        .map(|m| m.login)
        .ok_or(PageError::NotFound)
}

#[derive(Template)]
#[template(path = "pro/confirm.html")]
struct ConfirmPage {
    c: Ctx,
    text: String,
    action: String,
    button: String,
}

/// What an admin does to a member, behind a confirmation page.
#[derive(Debug, Clone, Copy)]
enum MemberAct {
    Deactivate,
    ResetSecondFactor,
}

impl MemberAct {
    /// The Fluent keys of the page's title, text and button.
    fn keys(self) -> (&'static str, &'static str, &'static str) {
        match self {
            MemberAct::Deactivate => (
                "pro-deactivate-title",
                "pro-deactivate-text",
                "pro-deactivate-button",
            ),
            MemberAct::ResetSecondFactor => {
                ("pro-reset-title", "pro-reset-text", "pro-reset-button")
            }
        }
    }

    fn path(self, id: PrincipalId) -> String {
        match self {
            MemberAct::Deactivate => format!("/pro/structure/membres/{id}/desactiver"),
            MemberAct::ResetSecondFactor => format!("/pro/structure/membres/{id}/second-facteur"),
        }
    }
}

async fn confirm(
    state: &AppState,
    cw: &Caseworker,
    id: PrincipalId,
    act: MemberAct,
) -> PageResult<Response> {
    admin(cw)?;
    let login = member(state, cw, id)?;
    let (title, text, button) = act.keys();
    Ok(ok(&ConfirmPage {
        c: Ctx::caseworker(cw, state, title, "structure"),
        text: cw.tr.with(text, &[("login", &login)]),
        action: act.path(id),
        button: cw.tr.t(button),
    }))
}

#[derive(Debug, Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn act(
    state: &AppState,
    cw: &Caseworker,
    id: PrincipalId,
    form: &CsrfOnly,
    act: MemberAct,
) -> PageResult<Response> {
    admin(cw)?;
    cw.check_csrf(&form.csrf)?;
    let login = member(state, cw, id)?;
    match act {
        MemberAct::Deactivate => {
            state.vault.deactivate_caseworker(&cw.session, id).await?;
            Ok(see_other("/pro/structure?enregistre=1"))
        }
        MemberAct::ResetSecondFactor => {
            let code = state.vault.reset_second_factor(&cw.session, id).await?;
            Ok(ok(&SetupCodePage {
                c: Ctx::caseworker(cw, state, "pro-reset-done-title", "structure"),
                text: cw.tr.with("pro-reset-done-text", &[("login", &login)]),
                code: code.to_string(),
            }))
        }
    }
}

/// The set-up code of a reset second factor, shown once.
#[derive(Template)]
#[template(path = "pro/setup_code.html")]
struct SetupCodePage {
    c: Ctx,
    text: String,
    code: String,
}

async fn confirm_deactivate(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
) -> PageResult<Response> {
    confirm(&state, &cw, id, MemberAct::Deactivate).await
}

async fn deactivate(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    act(&state, &cw, id, &f, MemberAct::Deactivate).await
}

async fn confirm_reset(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
) -> PageResult<Response> {
    confirm(&state, &cw, id, MemberAct::ResetSecondFactor).await
}

async fn reset(
    State(state): State<AppState>,
    cw: Caseworker,
    PagePath(id): PagePath<PrincipalId>,
    PageForm(f): PageForm<CsrfOnly>,
) -> PageResult<Response> {
    act(&state, &cw, id, &f, MemberAct::ResetSecondFactor).await
}
