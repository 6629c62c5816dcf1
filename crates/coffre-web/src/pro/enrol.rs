//! Inscrire une personne à l'accueil. Three steps, each a page:
//! 1. what to read aloud with the person (what the vault is, who sees
//!    what, getting everything back, deleting) and what the caseworker
//!    proposes: name, the first part of the identifier, a first consent;
//! 2. the hand-over: the screen says it is the person's turn; they read the
//!    consent as a sentence and accept it or not, choose the structure as
//!    trustee or not (the consequence said plainly), choose their secret (a
//!    passphrase of easy words proposed), and "Rendre la main" creates the
//!    account — the secret goes to the vault operation and nowhere else;
//! 3. the caseworker's turn again: the identifier, the access card and the
//!    consent receipt, to print (no secret on either).
//!
//! The proposal travels between steps as form fields (nothing secret, and
//! nothing stored before the person says yes).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use coffre_api::AppState;
use coffre_crypto::UserSecret;
use coffre_vault::{Category, NewBeneficiary, NewGrant, Permission, VaultError};
use zeroize::Zeroizing;

use crate::ctx::Ctx;
use crate::error::{PageError, PageResult};
use crate::i18n::Tr;
pub(super) use crate::person::add::Choice;
use crate::person::papers::category_name;
use crate::session::Caseworker;
use crate::{ok, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/pro/inscrire", get(start).post(propose))
        .route("/pro/inscrire/main", post(hand_back))
}

/// The durations a first consent may have, in days.
pub(super) const DAYS: [u32; 3] = [31, 182, 365];

pub(super) fn choices(tr: &Tr, chosen: &[Category]) -> Vec<Choice> {
    Category::ALL
        .into_iter()
        .map(|c| Choice {
            slug: c.as_str(),
            name: category_name(tr, c),
            checked: chosen.contains(&c),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "pro/enrol.html")]
struct StartPage {
    c: Ctx,
    read_who: String,
    categories: Vec<Choice>,
    name: String,
    identifier: String,
    days: u32,
    upload_only: bool,
    error: Option<String>,
}

async fn start(State(state): State<AppState>, cw: Caseworker) -> PageResult<Response> {
    let s = state.vault.structure(cw.structure)?;
    Ok(ok(&StartPage {
        c: Ctx::caseworker(&cw, &state, "pro-enrol-title", "inscrire"),
        read_who: cw.tr.with("pro-enrol-read-who", &[("structure", &s.name)]),
        categories: choices(&cw.tr, &[Category::Identity, Category::SocialBenefits]),
        name: String::new(),
        identifier: String::new(),
        days: 31,
        upload_only: false,
        error: None,
    }))
}

/// What the caseworker proposes (step 1), carried to the hand-over.
#[derive(Debug, Default)]
pub(super) struct Proposal {
    pub name: String,
    pub identifier: String,
    pub categories: Vec<Category>,
    pub days: u32,
    pub upload_only: bool,
}

impl Proposal {
    /// Reads the proposal's fields from a form's pairs (categories repeat).
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut p = Proposal {
            days: 31,
            ..Proposal::default()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "nom" => p.name = v.trim().chars().take(200).collect(),
                "identifiant" => p.identifier = v.trim().chars().take(60).collect(),
                "categorie" => {
                    if let Ok(c) = v.parse::<Category>()
                        && !p.categories.contains(&c)
                    {
                        p.categories.push(c);
                    }
                }
                "jours" => p.days = v.parse().unwrap_or(31),
                "droits" => p.upload_only = v == "ajouter",
                _ => {}
            }
        }
        p
    }

    /// The Fluent key of what is wrong with it, if anything.
    fn problem(&self) -> Option<&'static str> {
        if self.name.is_empty() {
            return Some("pro-enrol-need-name");
        }
        let id_ok = !self.identifier.is_empty()
            && self.identifier.chars().count() <= 40
            && self
                .identifier
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if !id_ok {
            return Some("pro-enrol-bad-identifier");
        }
        if !DAYS.contains(&self.days) {
            return Some("err-form");
        }
        None
    }

    pub(super) fn permissions(&self) -> Vec<Permission> {
        if self.upload_only {
            vec![Permission::Upload]
        } else {
            vec![Permission::View, Permission::Upload]
        }
    }

    /// The consent as the person reads it.
    pub(super) fn sentence(&self, tr: &Tr, structure: &str, until: &str) -> String {
        let names: Vec<String> = self
            .categories
            .iter()
            .map(|c| category_name(tr, *c))
            .collect();
        let key = if self.upload_only {
            "pro-consent-sentence-upload"
        } else {
            "pro-consent-sentence"
        };
        tr.with_n(
            key,
            u64::from(self.days),
            &[
                ("structure", structure),
                ("categories", &names.join(", ")),
                ("until", until),
            ],
        )
    }
}

/// The pairs of an urlencoded form (a category may come several times).
/// The form may carry a secret: zeroized when dropped, never printed.
pub(super) struct Pairs(pub Vec<(String, String)>);

impl std::fmt::Debug for Pairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pairs([redacted])")
    }
}

impl Drop for Pairs {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (k, v) in &mut self.0 {
            k.zeroize();
            v.zeroize();
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Pairs {
    type Rejection = PageError;
    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = Zeroizing::new(
            axum::body::to_bytes(req.into_body(), 64 * 1024)
                .await
                .map_err(|_| PageError::Invalid("err-form"))?
                .to_vec(),
        );
        let pairs = Pairs(
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .map_err(|_| PageError::Invalid("err-form"))?,
        );
        // A field given twice (but the categories) is a form tampered
        // with: which one counts would be a guess.
        let mut seen = std::collections::HashSet::new();
        if pairs
            .0
            .iter()
            .any(|(k, _)| k != "categorie" && !seen.insert(k.as_str()))
        {
            return Err(PageError::Invalid("err-form"));
        }
        Ok(pairs)
    }
}

impl Pairs {
    pub(super) fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Template)]
#[template(path = "pro/handover.html")]
struct HandOver {
    c: Ctx,
    heading: String,
    trustee_legend: String,
    trustee_what: String,
    /// The consent in a sentence (none: the caseworker proposed none).
    consent: Option<String>,
    suggestion: String,
    /// The proposal's fields, to carry on.
    carried: Vec<(&'static str, String)>,
    error: Option<String>,
}

/// The proposal's fields, to carry to the next step (the name and the
/// identifier only when there are some: asking for more access has none).
pub(super) fn carried(p: &Proposal) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if !p.name.is_empty() {
        out.push(("nom", p.name.clone()));
    }
    if !p.identifier.is_empty() {
        out.push(("identifiant", p.identifier.clone()));
    }
    out.push(("jours", p.days.to_string()));
    out.push((
        "droits",
        if p.upload_only { "ajouter" } else { "voir" }.to_owned(),
    ));
    for c in &p.categories {
        out.push(("categorie", c.as_str().to_owned()));
    }
    out
}

async fn hand_over_page(
    state: &AppState,
    cw: &Caseworker,
    p: &Proposal,
    error: Option<String>,
) -> PageResult<HandOver> {
    let s = state.vault.structure(cw.structure)?;
    let until_ms = state.vault.clock().now_ms() + i64::from(p.days) * 86_400_000;
    let consent =
        (!p.categories.is_empty()).then(|| p.sentence(&cw.tr, &s.name, &cw.tr.day(until_ms)));
    let tr = cw.tr;
    let first_name = p.name.split_whitespace().next().unwrap_or("");
    Ok(HandOver {
        c: Ctx::caseworker(cw, state, "pro-handover-title", "inscrire"),
        heading: tr.with("pro-handover-heading", &[("name", first_name)]),
        trustee_legend: tr.with("pro-handover-trustee", &[("structure", &s.name)]),
        trustee_what: tr.with("pro-handover-trustee-what", &[("structure", &s.name)]),
        consent,
        suggestion: coffre_vault::suggest_passphrase()?,
        carried: carried(p),
        error,
    })
}

async fn propose(
    State(state): State<AppState>,
    cw: Caseworker,
    form: Pairs,
) -> PageResult<Response> {
    cw.check_csrf(form.get("csrf"))?;
    let p = Proposal::from_pairs(&form.0);
    if let Some(key) = p.problem() {
        let s = state.vault.structure(cw.structure)?;
        return Ok(page(
            StatusCode::BAD_REQUEST,
            &StartPage {
                c: Ctx::caseworker(&cw, &state, "pro-enrol-title", "inscrire"),
                read_who: cw.tr.with("pro-enrol-read-who", &[("structure", &s.name)]),
                categories: choices(&cw.tr, &p.categories),
                error: Some(cw.tr.t(key)),
                name: p.name,
                identifier: p.identifier,
                days: p.days,
                upload_only: p.upload_only,
            },
        ));
    }
    Ok(ok(&hand_over_page(&state, &cw, &p, None).await?))
}

/// The caseworker's turn again: the identifier, the card, the receipt.
#[derive(Template)]
#[template(path = "pro/enrolled.html")]
struct Enrolled {
    c: Ctx,
    intro: String,
    identifier: String,
    structure: String,
    phone: String,
    address: String,
    site: String,
    qr: String,
    qr_alt: String,
    receipt_date: String,
    receipt_consent: String,
    receipt_trustee: String,
    warning: Option<String>,
    file: String,
}

async fn hand_back(
    State(state): State<AppState>,
    cw: Caseworker,
    form: Pairs,
) -> PageResult<Response> {
    cw.check_csrf(form.get("csrf"))?;
    let p = Proposal::from_pairs(&form.0);
    if p.problem().is_some() {
        return Err(PageError::Invalid("err-form"));
    }
    let secret = Zeroizing::new(form.get("secret").to_owned());
    let again = async |key: &str| -> PageResult<Response> {
        let h = hand_over_page(&state, &cw, &p, Some(cw.tr.t(key))).await?;
        Ok(page(StatusCode::BAD_REQUEST, &h))
    };
    if secret.is_empty() {
        return again("pro-handover-need-secret").await;
    }
    if secret.as_str() != form.get("secret2") {
        return again("secret-mismatch").await;
    }
    let consents = form.get("accord") == "oui" && !p.categories.is_empty();
    let trustee = form.get("confiance") == "oui";
    let grant = consents.then(|| NewGrant {
        categories: p.categories.clone(),
        permissions: p.permissions(),
        days: p.days,
    });
    let enrolled = match state
        .vault
        .enroll_beneficiary(
            &cw.session,
            NewBeneficiary {
                identifier: p.identifier.clone(),
                display_name: p.name.clone(),
                secret: UserSecret::new(secret.to_string()),
                recovery_trustee: trustee,
                grant,
            },
        )
        .await
    {
        Ok(e) => e,
        Err(VaultError::WeakSecret(_)) => return again("err-weak-secret").await,
        Err(VaultError::Invalid(_)) => return again("pro-enrol-bad-identifier").await,
        Err(e) => return Err(e.into()),
    };
    drop(secret);
    let s = state.vault.structure(cw.structure)?;
    let now = state.vault.clock().now_ms();
    let until = cw.tr.day(now + i64::from(p.days) * 86_400_000);
    let site = state.config.public_url.trim_end_matches('/').to_owned();
    let tr = cw.tr;
    let named = [("structure", s.name.as_str())];
    Ok(ok(&Enrolled {
        c: Ctx::caseworker(&cw, &state, "pro-enrolled-title", "inscrire"),
        intro: tr.with("pro-enrolled-intro", &[("name", &p.name)]),
        identifier: enrolled.identifier,
        receipt_date: tr.with(
            "pro-receipt-date",
            &[("date", &tr.day(now)), ("name", &p.name)],
        ),
        receipt_consent: if consents {
            p.sentence(&tr, &s.name, &until)
        } else {
            tr.with("pro-receipt-no-consent", &named)
        },
        receipt_trustee: if trustee {
            tr.with("pro-receipt-trustee", &named)
        } else {
            tr.t("pro-receipt-no-trustee")
        },
        warning: (!trustee).then(|| tr.t("pro-trustee-none-consequence")),
        qr: crate::qr::data_url(&format!("{site}/")).unwrap_or_default(),
        qr_alt: tr.with("pro-card-qr-alt", &[("site", &site)]),
        site,
        structure: s.name.clone(),
        phone: s.phone.clone().unwrap_or_default(),
        address: s.address.clone().unwrap_or_default(),
        file: format!("/pro/personnes/{}", enrolled.beneficiary_id),
    }))
}
