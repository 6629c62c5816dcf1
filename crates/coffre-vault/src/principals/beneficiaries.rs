//! Beneficiaries: enrollment at the desk (the person types their secret),
//! the list a structure sees, login, the notices they are kept told of.

use coffre_crypto::{Identity, PrincipalId, UserSecret};

use super::{
    EnrolledBeneficiary, LoginOutcome, NewBeneficiary, check_grant, check_name,
    check_person_secret, normalize_login,
};
use crate::access::Access;
use crate::access::identity::check_recipient;
use crate::journal::{Event, NewEntry, Who};
use crate::lockout::{Account, Source};
use crate::policy::{Action, StructureAction};
use crate::records::{BeneficiaryRecord, Login, LoginKind, Notice, NoticeKind, RecoverySeal};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// Longest chosen part of an identifier (the number comes on top).
const MAX_CHOSEN_IDENTIFIER: usize = 40;
/// Numbers drawn for one enrollment before giving up (four digits, then
/// six: a collision is rare, several in a row rarer still).
const IDENTIFIER_DRAWS: u32 = 12;

/// `chosen-NNNN`: four random digits for the first draws, six after.
fn with_number(chosen: &str, draw: u32) -> Result<String> {
    let mut b = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| VaultError::Internal("no randomness"))?;
    let n = u32::from_be_bytes(b);
    Ok(if draw <= 8 {
        format!("{chosen}-{:04}", n % 10_000)
    } else {
        format!("{chosen}-{:06}", n % 1_000_000)
    })
}

impl Vault {
    /// A caseworker enrolls a person, who types their identifier and secret.
    pub async fn enroll_beneficiary(
        &self,
        session: &Session,
        new: NewBeneficiary,
    ) -> Result<EnrolledBeneficiary> {
        let _writing = self.writing().await;
        let structure = match session.principal {
            Principal::Caseworker { structure, .. } => structure,
            Principal::Beneficiary { id } => id,
        };
        self.authorize_structure(
            session,
            StructureAction::EnrollBeneficiary,
            structure,
            Event::BeneficiaryEnroll,
        )
        .await?;
        let chosen = normalize_login(&new.identifier)?;
        if chosen.chars().count() > MAX_CHOSEN_IDENTIFIER {
            return Err(VaultError::Invalid(format!(
                "the chosen part of an identifier has at most {MAX_CHOSEN_IDENTIFIER} characters"
            )));
        }
        let name = check_name(&new.display_name)?;
        check_person_secret(&new.secret, Some(&chosen))?;
        if let Some(g) = &new.grant {
            check_grant(g)?;
        }
        // The structure's public key, authenticated: a key swapped in the
        // database files by someone without the root key is refused here,
        // before anything is wrapped to it.
        let srec = self
            .alarm(self.records().read().structures().find(structure))
            .await?;
        let s_recipient: coffre_crypto::Recipient =
            srec.recipient.parse().map_err(|_| VaultError::Integrity)?;
        let id = PrincipalId::random()?;
        let (identity, sealed) = self
            .access()
            .seal_identity(Identity::generate(), new.secret, id)
            .await?;
        let recipient = identity.recipient();
        let scopes = Access::new_scopes(id, &recipient)?;
        let mut recovery = Vec::new();
        if new.recovery_trustee {
            recovery.push(RecoverySeal {
                structure,
                wrap: Access::recovery_seal(&identity, &s_recipient, id)?,
                chosen_ms: self.now_ms(),
            });
        }
        let mut record = BeneficiaryRecord {
            id,
            login_index: String::new(),
            display_name: name,
            recipient: recipient.to_string(),
            sealed_identity: sealed,
            recovery,
            linked: vec![structure],
            used_bytes: 0,
            documents: 0,
            shares: 0,
            created_ms: self.now_ms(),
            notices: Vec::new(),
            last_login_ms: None,
            stamp: 0,
        };
        // The first consent, given at the desk with the secret just typed.
        let grant = match &new.grant {
            Some(g) => Some(self.grant_plan(&identity, &record, &srec, g, &scopes)?),
            None => None,
        };
        // The person's key first (a file, written durably): their records
        // are sealed under it. An enrollment that fails after this leaves
        // an orphan key file, destroyed at the next start.
        self.records().persons().create(id)?;
        // One transaction: the identifier is claimed inside it, so two
        // enrollments of one identifier cannot both succeed; a number drawn
        // twice is drawn again.
        let mut tries = 0;
        let identifier = loop {
            tries += 1;
            let identifier = with_number(&chosen, tries)?;
            record.login_index = self.login_index(LoginKind::Beneficiary, &identifier);
            let index = record.login_index.clone();
            match self.records().write(|tx| {
                tx.structures()
                    .expect_recipient(structure, &srec.recipient)?;
                tx.logins().claim(
                    &index,
                    Login {
                        kind: LoginKind::Beneficiary,
                        id,
                    },
                )?;
                tx.beneficiaries().put(&record)?;
                for (c, s) in &scopes {
                    tx.scopes().put(id, *c, s, true)?;
                }
                tx.links().insert(structure, id)?;
                if let Some(g) = &grant {
                    g.write(tx)?;
                }
                Ok(())
            }) {
                Ok(()) => break identifier,
                Err(VaultError::Conflict(_)) if tries < IDENTIFIER_DRAWS => continue,
                Err(e) => return Err(e),
            }
        };
        let who = session.principal.who();
        self.journal(
            NewEntry::ok(who, Event::BeneficiaryEnroll)
                .vault(id)
                .detail(if new.recovery_trustee {
                    "with recovery trustee"
                } else {
                    "no recovery trustee"
                }),
        )
        .await?;
        // The trustee and the consent are the person's acts, typed in with
        // their own secret at the desk: the journal names them as the
        // actor, and the caseworker as present. Both are kept in view.
        let present = format!("at the desk, {who} present");
        if new.recovery_trustee {
            self.journal(
                NewEntry::ok(Who::Beneficiary(id), Event::TrusteeAdd)
                    .vault(id)
                    .detail(format!("structure:{structure}; {present}")),
            )
            .await?;
        }
        if let Some(g) = &grant {
            self.journal(g.entry(Who::Beneficiary(id), Some(&present)))
                .await?;
        }
        Ok(EnrolledBeneficiary {
            beneficiary_id: id,
            identifier,
            warning: (!new.recovery_trustee).then_some(
                "Sans structure de confiance, un secret oublié rend les documents définitivement illisibles.",
            ),
        })
    }

    /// The beneficiaries linked to the caller's structure, with names.
    pub async fn list_beneficiaries(
        &self,
        session: &Session,
    ) -> Result<Vec<(PrincipalId, String)>> {
        let structure = match session.principal {
            Principal::Caseworker { structure, .. } => structure,
            Principal::Beneficiary { id } => id,
        };
        self.authorize_structure(
            session,
            StructureAction::ListBeneficiaries,
            structure,
            Event::BeneficiaryList,
        )
        .await?;
        let read = self.records().read();
        let mut out = Vec::new();
        for id in read.links().of_structure(structure)? {
            // A link left by an interrupted erasure points at nothing.
            let Some(b) = read.beneficiaries().get(id)? else {
                continue;
            };
            if b.linked.contains(&structure) {
                out.push((b.id, b.display_name));
            }
        }
        // Each person sees that this structure looked their name up.
        let who = session.principal.who();
        futures_util::future::try_join_all(
            out.iter()
                .map(|(id, _)| self.journal(NewEntry::ok(who, Event::BeneficiarySee).vault(*id))),
        )
        .await?;
        Ok(out)
    }

    /// A linked person's name, for a caseworker of a linked structure (the
    /// person sees the look-up in their journal).
    pub async fn beneficiary_name(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<String> {
        let b = self
            .authorize(session, Action::SeeBeneficiary, beneficiary, None, None)
            .await?;
        self.journal(NewEntry::ok(session.principal.who(), Event::BeneficiarySee).vault(b.id))
            .await?;
        Ok(b.display_name)
    }

    /// Logs a beneficiary in with identifier and secret.
    pub async fn login_beneficiary(
        &self,
        identifier: &str,
        secret: UserSecret,
    ) -> Result<LoginOutcome> {
        self.login_beneficiary_from(identifier, secret, std::net::Ipv4Addr::LOCALHOST.into())
            .await
    }

    /// The same, counted under the client's address (what the API calls):
    /// a stranger's failures lock that stranger's address out, not the
    /// person (`lockout.rs`).
    pub async fn login_beneficiary_from(
        &self,
        identifier: &str,
        secret: UserSecret,
        from: std::net::IpAddr,
    ) -> Result<LoginOutcome> {
        let source = Source::Address(from);
        let _writing = self.writing().await;
        let (index, account) = self.account(LoginKind::Beneficiary, identifier)?;
        let b = match account {
            Some(a) => self.records().read().beneficiaries().get(a.id)?,
            None => None,
        };
        let (Some(account), Some(b)) = (account, b) else {
            return Err(self.unknown_account(&index, source, secret).await);
        };
        let account_key = account.account_key();
        let attempt = Account {
            key: &account_key,
            who: Who::Beneficiary(b.id),
            vault: Some(b.id),
            source,
        };
        let identity = self
            .check_secret(&attempt, &b.sealed_identity, secret, b.id)
            .await?;
        self.alarm(check_recipient(&identity, &b.recipient, "beneficiaries"))
            .await?;
        let failed = self.attempt_succeeded(&attempt)?;
        let now = self.now_ms();
        // A login changes nothing a plan depends on: the stamp stays.
        let previous_login_ms = self.records().write(|tx| {
            let mut rec = tx.beneficiaries().find(b.id)?;
            let previous = rec.last_login_ms.replace(now);
            tx.beneficiaries().put(&rec)?;
            Ok(previous)
        })?;
        let mut notices = Vault::failed_notice(failed);
        notices.extend(b.notices.iter().map(notice_text));
        let mut out = self
            .start_session(Principal::Beneficiary { id: b.id }, identity, None, notices)
            .await?;
        out.failed_attempts = failed;
        out.previous_login_ms = previous_login_ms;
        out.open_notices = b.notices;
        Ok(out)
    }

    /// Wrong secrets a client may still type for this identifier before it
    /// locks. An identifier that names no account has its own counters,
    /// kept the same way: the answer tells nothing of who has an account.
    pub fn login_tries_left(&self, identifier: &str, from: std::net::IpAddr) -> Result<u32> {
        let (index, account) = self.account(LoginKind::Beneficiary, identifier)?;
        let known = match account {
            Some(a) => self
                .records()
                .read()
                .beneficiaries()
                .get(a.id)?
                .map(|b| (a.account_key(), b.id)),
            None => None,
        };
        let (known_key, unknown_key);
        let attempt = match known {
            Some((key, id)) => {
                known_key = key;
                Account {
                    key: &known_key,
                    who: Who::Beneficiary(id),
                    vault: Some(id),
                    source: Source::Address(from),
                }
            }
            None => {
                let mut key = b"?".to_vec();
                key.extend_from_slice(index.as_bytes());
                unknown_key = key;
                Account {
                    key: &unknown_key,
                    who: Who::Anonymous,
                    vault: None,
                    source: Source::Address(from),
                }
            }
        };
        self.tries_left(&attempt)
    }

    /// The notices a person has not acknowledged yet.
    pub async fn notices(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<Vec<Notice>> {
        let b = self
            .authorize(session, Action::ReadJournal, beneficiary, None, None)
            .await?;
        Ok(b.notices)
    }

    /// The person says they have read a notice: it is not shown again (the
    /// journal keeps what happened).
    pub async fn acknowledge_notice(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        notice: u32,
    ) -> Result<()> {
        let _writing = self.writing().await;
        self.authorize(session, Action::ReadJournal, beneficiary, None, None)
            .await?;
        let found = self.records().write(|tx| {
            tx.beneficiaries().update(beneficiary, |b| {
                let before = b.notices.len();
                b.notices.retain(|n| n.id != notice);
                Ok(b.notices.len() != before)
            })
        })?;
        if !found {
            return Err(VaultError::NotFound);
        }
        self.journal(
            NewEntry::ok(session.principal.who(), Event::NoticeAcknowledge)
                .vault(beneficiary)
                .detail(format!("notice:{notice}")),
        )
        .await?;
        Ok(())
    }
}

/// A notice in words, for the API's `notices` (the pages word their own).
pub(crate) fn notice_text(n: &Notice) -> String {
    match &n.kind {
        NoticeKind::Recovery { .. } => {
            "Votre secret a été changé par votre structure de confiance (deux de ses membres). \
             Si ce n'était pas vous, allez voir une autre structure."
                .to_owned()
        }
    }
}
