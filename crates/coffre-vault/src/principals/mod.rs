//! Principals: structures and their caseworkers, beneficiaries; enrollment,
//! login, deactivation, recovery. Login attempts are `lockout`'s.

mod beneficiaries;
mod caseworkers;
mod recovery;
mod second_factor;
mod secrets;
mod structures;

pub use caseworkers::CaseworkerActivated;
pub use recovery::{RecoveryStarted, TRUSTEE_MEANS, Trustee};
pub use second_factor::{RECOVERY_CODES, SecondFactorSetUp, SecondFactorStage};
pub use secrets::{
    SUGGESTED_WORDS, SecretProblem, check_person_secret, passphrase_bits, suggest_passphrase,
};
pub use structures::CaseworkerInfo;

use std::time::Duration;

use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{Identity, PrincipalId, UserSecret};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::journal::{Event, NewEntry, Who};
use crate::lockout::{Account, Source};
use crate::model::{Category, GRANT_DAYS, Permission};
use crate::policy::{self, Decision, StructureAction};
use crate::records::{Login, LoginKind};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

const MAX_NAME: usize = 200;
const MAX_PASSWORD: usize = 256;

/// A new structure and the one-time code its first admin enrolls with.
#[derive(Debug, Serialize)]
pub struct StructureCreated {
    pub structure_id: PrincipalId,
    pub admin_id: PrincipalId,
    /// One-time code the admin enrolls with. Shown once, never stored.
    #[serde(skip)]
    pub enrollment_code: Zeroizing<String>,
}

/// A session opened by a login.
#[derive(Debug)]
pub struct LoginOutcome {
    pub token: Zeroizing<String>,
    pub principal: Principal,
    pub expires_in: Duration,
    /// What the person must be told (failed attempts, a recovery), in
    /// words.
    pub notices: Vec<String>,
    /// The notices kept until the person acknowledges them.
    pub open_notices: Vec<crate::Notice>,
    /// Failed attempts on this account since its last login.
    pub failed_attempts: u32,
    /// When this account last logged in before (people only).
    pub previous_login_ms: Option<i64>,
    /// Whether the session is open, or can only set up a second factor
    /// (then [`Vault::session`] does not know its token).
    pub second_factor: second_factor::SecondFactorStage,
}

/// A consent grant, as asked.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub categories: Vec<Category>,
    pub permissions: Vec<Permission>,
    pub days: u32,
}

/// What the person types at the desk.
#[derive(Debug)]
pub struct NewBeneficiary {
    /// The part of the identifier the person chooses (their first name, a
    /// nickname); the server adds a number to it (see
    /// [`EnrolledBeneficiary::identifier`]).
    pub identifier: String,
    pub display_name: String,
    pub secret: UserSecret,
    /// Make the enrolling structure the recovery trustee.
    pub recovery_trustee: bool,
    /// Consent for the enrolling structure, given in the same step.
    pub grant: Option<NewGrant>,
}

/// A person enrolled.
#[derive(Debug)]
pub struct EnrolledBeneficiary {
    pub beneficiary_id: PrincipalId,
    /// The identifier the person logs in with: what they chose, a dash and
    /// four digits the server drew (`marie-4821`). Drawn, never checked
    /// against what exists: a caseworker learns nothing about who else
    /// has an account here.
    pub identifier: String,
    /// Said to the person at enrollment when no trustee was chosen.
    pub warning: Option<&'static str>,
}

/// A login identifier as it is indexed: Unicode NFC (an "é" typed as one
/// character or as "e" and an accent is one identifier), trimmed, lower
/// case.
pub(crate) fn normalize_login(s: &str) -> Result<String> {
    use unicode_normalization::UnicodeNormalization;
    let s: String = s.trim().nfc().collect::<String>().to_lowercase();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(VaultError::Invalid(
            "identifiers are 1 to 100 printable characters".into(),
        ));
    }
    Ok(s)
}

fn check_password(s: &UserSecret) -> Result<()> {
    let n = s.expose().chars().count();
    if !(10..=MAX_PASSWORD).contains(&n) {
        return Err(VaultError::Invalid(
            "passwords have 10 to 256 characters".into(),
        ));
    }
    Ok(())
}

fn check_name(s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(VaultError::Invalid(
            "names are 1 to 200 printable characters".into(),
        ));
    }
    Ok(s.to_owned())
}

pub(crate) fn check_grant(g: &NewGrant) -> Result<()> {
    if !GRANT_DAYS.contains(&g.days) {
        return Err(VaultError::Invalid(
            "grant durations are 1, 31, 182 or 365 days".into(),
        ));
    }
    if g.categories.is_empty() || g.permissions.is_empty() {
        return Err(VaultError::Invalid(
            "a grant names at least one category and one permission".into(),
        ));
    }
    Ok(())
}

fn new_token() -> Result<Zeroizing<String>> {
    Ok(ShareSecret::generate()?.to_token())
}

impl Vault {
    /// The blind index of a login identifier, by kind of account.
    fn login_index(&self, kind: LoginKind, login: &str) -> String {
        let domain = match kind {
            LoginKind::Beneficiary => "beneficiary",
            LoginKind::Caseworker => "caseworker",
        };
        hex::encode(self.inner.blind.index(domain, login))
    }

    /// Refuses a person's new secret that is their own identifier (the
    /// identifier is not stored, only its blind index: compared through it).
    fn not_the_identifier(&self, secret: &UserSecret, login_index: &str) -> Result<()> {
        let same = normalize_login(secret.expose())
            .is_ok_and(|l| self.login_index(LoginKind::Beneficiary, &l) == login_index);
        if same {
            return Err(VaultError::WeakSecret(SecretProblem::SameAsIdentifier));
        }
        Ok(())
    }

    /// The blind index of a typed identifier (of `kind`), and the account
    /// it names, if any.
    pub(crate) fn account(
        &self,
        kind: LoginKind,
        identifier: &str,
    ) -> Result<(String, Option<Login>)> {
        // One that cannot be an identifier is still counted like one.
        let login = normalize_login(identifier).unwrap_or_else(|_| identifier.to_owned());
        let index = self.login_index(kind, &login);
        let account = self
            .records()
            .read()
            .logins()
            .get(&index)?
            .filter(|a| a.kind == kind);
        Ok((index, account))
    }

    /// A login that names no account goes through the same counters (kept
    /// under the identifier's blind index), costs what a wrong secret
    /// costs, is journaled, and is refused alike: 401, then 429 at the same
    /// attempt as a real account.
    async fn unknown_account(&self, index: &str, source: Source, secret: UserSecret) -> VaultError {
        let mut key = b"?".to_vec();
        key.extend_from_slice(index.as_bytes());
        let attempt = Account {
            key: &key,
            who: Who::Anonymous,
            vault: None,
            source,
        };
        let res = async {
            // As for a real account.
            let turn = self.counted_attempt(&attempt).await?;
            self.decoy_check(turn, secret).await
        }
        .await;
        match res {
            Ok(()) => self.attempt_failed(&attempt).await,
            Err(e) => e,
        }
    }

    /// Asks the policy about a structure-level action; journals a refusal.
    pub(crate) async fn authorize_structure(
        &self,
        session: &Session,
        action: StructureAction,
        structure: PrincipalId,
        event: Event,
    ) -> Result<()> {
        match policy::decide_structure(&session.principal.actor(), action, structure) {
            Decision::Allow => Ok(()),
            refusal => Err(self
                .refuse(refusal, NewEntry::denied(session.principal.who(), event))
                .await),
        }
    }

    /// A caseworker's login without a second factor: a session that can
    /// only set one up, journaled as such.
    async fn start_session_awaiting_second_factor(
        &self,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
    ) -> Result<LoginOutcome> {
        let token = new_token()?;
        self.inner
            .sessions
            .insert_awaiting(&token, principal, identity, structure_identity);
        self.journal(
            NewEntry::ok(principal.who(), Event::SessionCreate).detail("second factor to set up"),
        )
        .await?;
        Ok(LoginOutcome {
            token,
            principal,
            expires_in: self.limits().session_idle,
            notices: Vec::new(),
            open_notices: Vec::new(),
            failed_attempts: 0,
            previous_login_ms: None,
            second_factor: second_factor::SecondFactorStage::SetupRequired,
        })
    }

    /// Registers a session for an unlocked principal and journals the login.
    async fn start_session(
        &self,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
        notices: Vec<String>,
    ) -> Result<LoginOutcome> {
        let token = new_token()?;
        self.inner
            .sessions
            .insert(&token, principal, identity, structure_identity);
        let mut e = NewEntry::ok(principal.who(), Event::SessionCreate);
        if let Principal::Beneficiary { id } = principal {
            e = e.vault(id);
        }
        self.journal(e).await?;
        Ok(LoginOutcome {
            token,
            principal,
            expires_in: self.limits().session_idle,
            notices,
            open_notices: Vec::new(),
            failed_attempts: 0,
            previous_login_ms: None,
            second_factor: second_factor::SecondFactorStage::Passed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_login;

    #[test]
    fn one_identifier_however_its_accents_are_typed() {
        // "é" as one character (NFC, what most keyboards send) and as "e"
        // followed by a combining accent (NFD, what some phones send).
        let composed = normalize_login("José.Martin").unwrap();
        let decomposed = normalize_login(" Jose\u{301}.martin ").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed, "josé.martin");
        assert!(normalize_login("   ").is_err());
        assert!(normalize_login("a\u{7}b").is_err());
    }
}
