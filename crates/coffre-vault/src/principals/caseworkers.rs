//! Caseworkers: enrollment with a one-time code, login, deactivation.

use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{Identity, PrincipalId, UserSecret};

use super::{LoginOutcome, check_password};
use crate::access::Access;
use crate::journal::{Event, NewEntry, Who};
use crate::lockout::Account;
use crate::policy::StructureAction;
use crate::records::{CaseworkerRecord, LoginKind};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

impl Vault {
    /// A caseworker activates their account with a one-time code.
    pub async fn enroll_caseworker(&self, code: &str, password: UserSecret) -> Result<PrincipalId> {
        let _writing = self.writing().await;
        check_password(&password)?;
        let refused = |detail: &'static str| {
            NewEntry::denied(Who::Anonymous, Event::CaseworkerEnroll).detail(detail)
        };
        // Claimed by removing it: two enrollments with one code cannot both
        // proceed.
        let found = match ShareSecret::from_token(code) {
            Ok(secret) => {
                let lookup = secret.lookup_key()?;
                self.records()
                    .write(|tx| tx.codes().claim(&lookup))?
                    .map(|rec| (secret, rec))
            }
            Err(_) => None,
        };
        let Some((secret, rec)) = found else {
            self.journal(refused("unknown code")).await?;
            return Err(VaultError::Unauthenticated);
        };
        if rec.expires_ms <= self.now_ms() {
            self.journal(refused("code expired")).await?;
            return Err(VaultError::Gone);
        }
        let structure_identity =
            Access::structure_from_code(&secret, &rec.structure_wrap, rec.structure)?;
        let cw = self
            .records()
            .read()
            .caseworkers()
            .get(rec.caseworker)?
            .ok_or(VaultError::NotFound)?;
        let (identity, sealed) = self
            .access()
            .seal_identity(Identity::generate(), password, cw.id)
            .await?;
        let enrolled = CaseworkerRecord {
            recipient: Some(identity.recipient().to_string()),
            sealed_identity: sealed,
            structure_wrap: Access::structure_to_caseworker(
                &structure_identity,
                &identity.recipient(),
                cw.structure,
            )?,
            active: true,
            ..cw
        };
        self.records().write(|tx| tx.caseworkers().put(&enrolled))?;
        self.journal(NewEntry::ok(
            Who::Caseworker(enrolled.id),
            Event::CaseworkerEnroll,
        ))
        .await?;
        Ok(enrolled.id)
    }

    /// Structure admin: deactivate a caseworker. Their wraps go; the
    /// structure's access never depended on them.
    pub async fn deactivate_caseworker(
        &self,
        session: &Session,
        caseworker: PrincipalId,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let who = session.principal.who();
        let Some(cw) = self.records().read().caseworkers().get(caseworker)? else {
            self.journal(
                NewEntry::denied(who, Event::CaseworkerDeactivate).detail("unknown caseworker"),
            )
            .await?;
            return Err(VaultError::NotFound);
        };
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            cw.structure,
            Event::CaseworkerDeactivate,
        )
        .await?;
        // A pending invitation goes too: its code holds the structure key.
        let codes = self.records().read().codes().of_caseworker(cw.id)?;
        let gone = CaseworkerRecord {
            active: false,
            sealed_identity: Vec::new(),
            structure_wrap: Vec::new(),
            ..cw.clone()
        };
        self.records().write(|tx| {
            for lookup in &codes {
                tx.codes().remove(lookup)?;
            }
            tx.logins().release(&gone.login_index)?;
            tx.caseworkers().put(&gone)
        })?;
        self.inner.sessions.remove_principal(cw.id);
        self.journal(
            NewEntry::ok(who, Event::CaseworkerDeactivate).detail(format!("caseworker:{}", cw.id)),
        )
        .await?;
        Ok(())
    }

    /// Logs a caseworker in with login and password.
    pub async fn login_caseworker(
        &self,
        login: &str,
        password: UserSecret,
    ) -> Result<LoginOutcome> {
        let _writing = self.writing().await;
        let account = self.account(LoginKind::Caseworker, login)?;
        let cw = match account {
            Some(a) => self.records().read().caseworkers().get(a.id)?,
            None => None,
        };
        let (Some(account), Some(cw)) = (account, cw.filter(|c| c.active)) else {
            return Err(self
                .unknown_account(password, "unknown caseworker login")
                .await);
        };
        let account_key = account.account_key();
        let identity = self
            .check_secret(
                &Account {
                    key: &account_key,
                    who: Who::Caseworker(cw.id),
                    vault: None,
                },
                &cw.sealed_identity,
                password,
                cw.id,
            )
            .await?;
        let structure_identity =
            Access::structure_for_caseworker(&cw.structure_wrap, &identity, cw.structure)?;
        let notices = self.attempt_succeeded(&account_key)?;
        let principal = Principal::Caseworker {
            id: cw.id,
            structure: cw.structure,
            admin: cw.admin,
        };
        self.start_session(principal, identity, Some(structure_identity), notices)
            .await
    }
}
