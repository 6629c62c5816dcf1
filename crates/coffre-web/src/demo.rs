//! `coffre serve --demo`: a demonstration structure, a caseworker and two
//! people with a few papers, on a throwaway vault. Every page then says
//! "DÉMONSTRATION"; the papers say "sans valeur" on their face.

use bytes::Bytes;
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_vault::{Category, NewBeneficiary, NewDocument, NewGrant, Permission, Vault};
use futures_util::StreamExt;

use coffre_copies::pdf_text::text_pdf;

const ID_CARD: &[u8] = include_bytes!("../demo/carte-identite.jpg");
const RESIDENCE: &[u8] = include_bytes!("../demo/titre-sejour.jpg");

/// What the demonstration prints: who can log in, with what.
#[derive(Debug, Clone)]
pub struct DemoLogins {
    pub structure: String,
    pub caseworker_login: String,
    pub caseworker_password: String,
    /// The caseworker's second factor: the secret to type into an
    /// authenticator app, and recovery codes (each works once).
    pub caseworker_otp_secret: String,
    pub caseworker_recovery_codes: Vec<String>,
    /// Another structure, which none of the people chose: `(its name, its
    /// admin's login, password, one recovery code)`, to see that it sees
    /// nothing of them.
    pub other: (String, String, String, String),
    /// `(name, identifier, secret)` of each person.
    pub people: Vec<(String, String, String)>,
}

/// Demonstration secrets: printed for anyone to try, so never real.
const CASEWORKER_PASSWORD: &str = "demo-ccas-mot-de-passe";
const OTHER_PASSWORD: &str = "demo-relais-mot-de-passe";
const MARIE_SECRET: &str = "cheval bleu jardin soleil";
const KARIM_SECRET: &str = "lune verte piano riviere";

async fn put(
    vault: &Vault,
    session: &coffre_vault::Session,
    b: PrincipalId,
    category: Category,
    title: &str,
    file: (&str, &str, Vec<u8>),
    expires_in_days: Option<i64>,
) -> coffre_vault::Result<()> {
    let expires_on = expires_in_days.map(|days| {
        coffre_vault::Date::from_epoch_ms(
            vault.clock().now_ms() + days * coffre_vault::model::DAY_MS,
        )
    });
    let (filename, content_type, bytes) = file;
    vault
        .upload(
            session,
            b,
            NewDocument {
                category: Some(category),
                title: Some(title.to_owned()),
                filename: filename.to_owned(),
                content_type: Some(content_type.to_owned()),
                expires_on,
                private: Some(false),
                notes: None,
            },
            futures_util::stream::iter([Ok(Bytes::from(bytes))]).boxed(),
        )
        .await
        .map(|_| ())
}

fn pdf(title: &str, lines: &[&str]) -> Vec<u8> {
    let mut all = vec!["DÉMONSTRATION — SANS VALEUR", ""];
    all.extend_from_slice(lines);
    text_pdf(title, &all)
}

/// Fills an empty vault with the demonstration.
pub async fn seed(vault: &Vault) -> coffre_vault::Result<DemoLogins> {
    let structure_name = "CCAS de Démo-sur-Loire";
    let created = vault
        .create_structure(structure_name, "demo.accueil")
        .await?;
    let activated = vault
        .enroll_caseworker(
            &created.enrollment_code,
            UserSecret::new(CASEWORKER_PASSWORD.to_owned()),
        )
        .await?;
    let mut recovery: Vec<String> = activated
        .second_factor
        .recovery_codes
        .iter()
        .map(|c| c.to_string())
        .collect();
    // The seeding logs in with one recovery code; the others are printed.
    let first = recovery.remove(0);
    let cw = vault
        .login_caseworker(
            "demo.accueil",
            UserSecret::new(CASEWORKER_PASSWORD.to_owned()),
            &first,
        )
        .await?;
    let cw = vault.session(&cw.token)?;
    vault
        .set_structure_contact(
            &cw,
            created.structure_id,
            Some("01 23 45 67 89".into()),
            Some("1 place de la Mairie, Démo-sur-Loire".into()),
        )
        .await?;
    let marie = vault
        .enroll_beneficiary(
            &cw,
            NewBeneficiary {
                identifier: "marie".into(),
                display_name: "Marie Démo".into(),
                secret: UserSecret::new(MARIE_SECRET.to_owned()),
                recovery_trustee: true,
                grant: Some(NewGrant {
                    categories: vec![Category::Identity, Category::SocialBenefits],
                    permissions: vec![Permission::View, Permission::Upload],
                    days: 31,
                }),
            },
        )
        .await?;
    let karim = vault
        .enroll_beneficiary(
            &cw,
            NewBeneficiary {
                identifier: "karim".into(),
                display_name: "Karim Démo".into(),
                secret: UserSecret::new(KARIM_SECRET.to_owned()),
                recovery_trustee: true,
                grant: None,
            },
        )
        .await?;
    let m = vault
        .login_beneficiary(&marie.identifier, UserSecret::new(MARIE_SECRET.to_owned()))
        .await?;
    let m = vault.session(&m.token)?;
    put(
        vault,
        &m,
        marie.beneficiary_id,
        Category::Identity,
        "Carte d'identité",
        ("carte-identite.jpg", "image/jpeg", ID_CARD.to_vec()),
        Some(58),
    )
    .await?;
    put(
        vault,
        &m,
        marie.beneficiary_id,
        Category::Housing,
        "Quittance de loyer",
        (
            "quittance.pdf",
            "application/pdf",
            pdf(
                "Quittance de loyer",
                &["Logement : 1 rue de la Démo", "Loyer : 0 €"],
            ),
        ),
        None,
    )
    .await?;
    vault.logout(&m);
    // The structure scans one paper for Marie, within her consent, after
    // her last visit (her pages say so).
    put(
        vault,
        &cw,
        marie.beneficiary_id,
        Category::SocialBenefits,
        "Attestation CAF",
        (
            "attestation-caf.pdf",
            "application/pdf",
            pdf(
                "Attestation de paiement",
                &[
                    "Caisse d'allocations familiales (démonstration)",
                    "Montant : 0 €",
                ],
            ),
        ),
        None,
    )
    .await?;
    vault.logout(&cw);
    let k = vault
        .login_beneficiary(&karim.identifier, UserSecret::new(KARIM_SECRET.to_owned()))
        .await?;
    let k = vault.session(&k.token)?;
    put(
        vault,
        &k,
        karim.beneficiary_id,
        Category::Residence,
        "Titre de séjour",
        ("titre-sejour.jpg", "image/jpeg", RESIDENCE.to_vec()),
        Some(40),
    )
    .await?;
    vault.logout(&k);
    let other_name = "Relais de Démo-les-Bains";
    let other = vault.create_structure(other_name, "demo.relais").await?;
    let other_activated = vault
        .enroll_caseworker(
            &other.enrollment_code,
            UserSecret::new(OTHER_PASSWORD.to_owned()),
        )
        .await?;
    let other_code = other_activated
        .second_factor
        .recovery_codes
        .first()
        .map(|c| c.to_string())
        .unwrap_or_default();
    Ok(DemoLogins {
        other: (
            other_name.into(),
            "demo.relais".into(),
            OTHER_PASSWORD.into(),
            other_code,
        ),
        structure: structure_name.into(),
        caseworker_login: "demo.accueil".into(),
        caseworker_password: CASEWORKER_PASSWORD.into(),
        caseworker_otp_secret: activated.second_factor.secret.to_base32().to_string(),
        caseworker_recovery_codes: recovery,
        people: vec![
            ("Marie Démo".into(), marie.identifier, MARIE_SECRET.into()),
            ("Karim Démo".into(), karim.identifier, KARIM_SECRET.into()),
        ],
    })
}
