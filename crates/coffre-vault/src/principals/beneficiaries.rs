//! Beneficiaries: enrollment at the desk (the person types their secret),
//! the list a structure sees, login.

use coffre_crypto::{Identity, PrincipalId, UserSecret};

use super::{
    EnrolledBeneficiary, LoginOutcome, NewBeneficiary, check_beneficiary_secret, check_grant,
    check_name, normalize_login,
};
use crate::access::Access;
use crate::journal::{Event, NewEntry, Who};
use crate::lockout::Account;
use crate::policy::StructureAction;
use crate::records::{BeneficiaryRecord, Login, LoginKind, RecoverySeal};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

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
        let login = normalize_login(&new.identifier)?;
        let name = check_name(&new.display_name)?;
        check_beneficiary_secret(&new.secret)?;
        if let Some(g) = &new.grant {
            check_grant(g)?;
        }
        let index = self.login_index(LoginKind::Beneficiary, &login);
        if self.records().read().logins().get(&index)?.is_some() {
            return Err(VaultError::Conflict(
                "this identifier is taken; choose another",
            ));
        }
        let srec = self
            .records()
            .read()
            .structures()
            .get(structure)?
            .ok_or(VaultError::NotFound)?;
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
                wrap: Access::recovery_seal(
                    &identity,
                    &srec.recipient.parse().map_err(|_| VaultError::Integrity)?,
                    id,
                )?,
            });
        }
        let record = BeneficiaryRecord {
            id,
            login_index: index.clone(),
            sealed_name: self.access().seal_name(id, &name)?,
            recipient: recipient.to_string(),
            sealed_identity: sealed,
            recovery,
            linked: vec![structure],
            used_bytes: 0,
            created_ms: self.now_ms(),
            pending_notices: Vec::new(),
            stamp: 0,
        };
        // The first consent, given at the desk with the secret just typed.
        let grant = match &new.grant {
            Some(g) => Some(self.grant_plan(&identity, &record, &srec, g, &scopes)?),
            None => None,
        };
        // One transaction: the identifier is claimed inside it, so two
        // enrollments of one identifier cannot both succeed.
        self.records().write(|tx| {
            tx.logins().claim(
                &index,
                Login {
                    kind: LoginKind::Beneficiary,
                    id,
                },
            )?;
            tx.beneficiaries().put(&record)?;
            for (c, s) in &scopes {
                tx.scopes().put(id, *c, s)?;
            }
            tx.links().insert(structure, id)?;
            if let Some(g) = &grant {
                g.write(tx)?;
            }
            Ok(())
        })?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::BeneficiaryEnroll)
                .vault(id)
                .detail(if new.recovery_trustee {
                    "with recovery trustee"
                } else {
                    "no recovery trustee"
                }),
        )
        .await?;
        if let Some(g) = &grant {
            self.journal(g.entry(Who::Beneficiary(id))).await?;
        }
        Ok(EnrolledBeneficiary {
            beneficiary_id: id,
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
        // Display names are sealed under the root ring: not while a rotation
        // re-seals them (a record read before would name a retired version).
        let _stable_root = self.writing().await;
        let read = self.records().read();
        let mut out = Vec::new();
        for id in read.links().of_structure(structure)? {
            // A link left by an interrupted erasure points at nothing.
            let Some(b) = read.beneficiaries().get(id)? else {
                continue;
            };
            out.push((b.id, self.display_name(&b)?));
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

    /// Logs a beneficiary in with identifier and secret.
    pub async fn login_beneficiary(
        &self,
        identifier: &str,
        secret: UserSecret,
    ) -> Result<LoginOutcome> {
        let _writing = self.writing().await;
        let account = self.account(LoginKind::Beneficiary, identifier)?;
        let b = match account {
            Some(a) => self.records().read().beneficiaries().get(a.id)?,
            None => None,
        };
        let (Some(account), Some(b)) = (account, b) else {
            return Err(self.unknown_account(secret, "unknown identifier").await);
        };
        let account_key = account.account_key();
        let identity = self
            .check_secret(
                &Account {
                    key: &account_key,
                    who: Who::Beneficiary(b.id),
                    vault: Some(b.id),
                },
                &b.sealed_identity,
                secret,
                b.id,
            )
            .await?;
        let mut notices = self.attempt_succeeded(&account_key)?;
        if !b.pending_notices.is_empty() {
            let told = self.records().write(|tx| {
                tx.beneficiaries()
                    .update(b.id, |rec| Ok(std::mem::take(&mut rec.pending_notices)))
            })?;
            notices.extend(told);
        }
        self.start_session(Principal::Beneficiary { id: b.id }, identity, None, notices)
            .await
    }
}
