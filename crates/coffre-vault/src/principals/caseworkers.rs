//! Caseworkers: enrollment with a one-time code, login, password change,
//! deactivation, and the rotation of their structure's key when one leaves.

use std::sync::Arc;

use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{Identity, PrincipalId, UserSecret};

use coffre_crypto::otp::OtpSecret;

use super::second_factor::{CodeCheck, SecondFactorSetUp, SecondFactorStage};
use super::{LoginOutcome, check_password};
use crate::access::Access;
use crate::access::identity::check_recipient;
use crate::journal::{Event, NewEntry, Who};
use crate::lockout::{Account, Source};
use crate::model::Category;
use crate::policy::StructureAction;
use crate::records::{CaseworkerRecord, Login, LoginKind};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// A caseworker's account, activated.
#[derive(Debug)]
pub struct CaseworkerActivated {
    pub caseworker_id: PrincipalId,
    /// Shown once: the app's secret and the recovery codes.
    pub second_factor: SecondFactorSetUp,
}

/// Who deactivates a caseworker.
#[derive(Debug, Clone, Copy)]
enum Deactivator<'a> {
    /// An admin of the structure: the structure's key is rotated at once,
    /// with theirs.
    Admin(&'a Session),
    /// The operator, who holds no structure key: the next member to log in
    /// rotates it.
    Operator,
}

impl Vault {
    /// A caseworker activates their account with a one-time code. Their
    /// second factor is set up in the same step: the answer carries its
    /// secret (for the app, as a QR code) and the recovery codes, shown
    /// once.
    pub async fn enroll_caseworker(
        &self,
        code: &str,
        password: UserSecret,
    ) -> Result<CaseworkerActivated> {
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
        let srec = self
            .alarm(self.records().read().structures().find(rec.structure))
            .await?;
        if srec.rotation_due {
            // A member left and the key they held is still the structure's:
            // nobody joins on it (their codes were cancelled anyway).
            self.journal(refused("structure key being replaced"))
                .await?;
            return Err(VaultError::Gone);
        }
        self.alarm(check_recipient(
            &structure_identity,
            &srec.recipient,
            "structures",
        ))
        .await?;
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
        let (second_factor, recovery_codes, shown) =
            self.new_second_factor(cw.id, &identity, OtpSecret::generate()?)?;
        let enrolled = CaseworkerRecord {
            second_factor,
            recovery_codes,
            last_otp_step: 0,
            setup_code: None,
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
        self.records().write(|tx| {
            tx.structures()
                .expect_recipient(enrolled.structure, &srec.recipient)?;
            // Still the pending invitation it was (not deactivated since).
            match tx.caseworkers().get(enrolled.id)? {
                Some(c) if !c.active && c.recipient.is_none() && c.login == enrolled.login => {}
                _ => return Err(VaultError::Gone.into()),
            }
            tx.caseworkers().put(&enrolled)
        })?;
        self.journal(NewEntry::ok(
            Who::Caseworker(enrolled.id),
            Event::CaseworkerEnroll,
        ))
        .await?;
        Ok(CaseworkerActivated {
            caseworker_id: enrolled.id,
            second_factor: shown,
        })
    }

    /// Structure admin: deactivates a caseworker. Their sessions end at
    /// once, their login and wraps go, their pending invitation too; then
    /// the structure's key is rotated, so the key material they held opens
    /// nothing wrapped from now on.
    pub async fn deactivate_caseworker(
        &self,
        session: &Session,
        caseworker: PrincipalId,
    ) -> Result<()> {
        self.deactivate(Deactivator::Admin(session), caseworker)
            .await
    }

    /// Operator (`coffre admin caseworker deactivate`): the same, but the
    /// operator holds no structure key: the structure is marked, and the
    /// next of its members to log in rotates the key.
    pub async fn deactivate_caseworker_as_operator(&self, caseworker: PrincipalId) -> Result<()> {
        self.deactivate(Deactivator::Operator, caseworker).await
    }

    async fn deactivate(&self, by: Deactivator<'_>, caseworker: PrincipalId) -> Result<()> {
        let who = match by {
            Deactivator::Admin(s) => s.principal.who(),
            Deactivator::Operator => Who::Operator,
        };
        let structure = {
            // Exclusive: no login or enrollment of this caseworker is half
            // done while they are removed (a login that began would
            // otherwise start a session after their sessions were ended).
            let _exclusive = self.inner.gate.write().await;
            let Some(cw) = self.records().read().caseworkers().get(caseworker)? else {
                self.journal(
                    NewEntry::denied(who, Event::CaseworkerDeactivate).detail("unknown caseworker"),
                )
                .await?;
                return Err(VaultError::NotFound);
            };
            if let Deactivator::Admin(session) = by {
                self.authorize_structure(
                    session,
                    StructureAction::ManageCaseworkers,
                    cw.structure,
                    Event::CaseworkerDeactivate,
                )
                .await?;
                // Not oneself: a structure must not lose its last admin by
                // a slip (the operator can, with `coffre admin caseworker
                // deactivate`).
                if session.principal.id() == cw.id {
                    self.journal(
                        NewEntry::denied(who, Event::CaseworkerDeactivate)
                            .detail("an admin cannot deactivate themselves"),
                    )
                    .await?;
                    return Err(VaultError::Forbidden(
                        "an admin cannot deactivate their own account; another admin or the operator can",
                    ));
                }
            }
            // Every pending invitation of the structure goes: each code
            // holds the structure key the departed caseworker held too, and
            // one they kept would let them back in.
            let codes = self.records().read().codes().pending(None, cw.structure)?;
            // Their share links go: made with their sight of a paper, they
            // end with it.
            let departed = Who::Caseworker(cw.id).to_string();
            let mut links = Vec::new();
            for b in self.records().read().links().of_structure(cw.structure)? {
                for (lookup, r) in self.records().read().shares().of_vault(b)? {
                    if r.created_by == departed {
                        links.push((lookup, r));
                    }
                }
            }
            let gone = CaseworkerRecord {
                active: false,
                sealed_identity: Vec::new(),
                structure_wrap: Vec::new(),
                second_factor: Vec::new(),
                recovery_codes: Vec::new(),
                setup_code: None,
                ..cw.clone()
            };
            self.records().write(|tx| {
                for lookup in &codes {
                    tx.codes().remove(lookup)?;
                }
                for (lookup, r) in &links {
                    tx.drop_share(lookup, r)?;
                }
                tx.logins().release(&gone.login_index)?;
                tx.caseworkers().put(&gone)?;
                let mut s = tx.structures().find(gone.structure)?;
                s.rotation_due = true;
                tx.structures().put(&s)
            })?;
            self.inner.sessions.remove_principal(cw.id);
            self.journal(
                NewEntry::ok(who, Event::CaseworkerDeactivate).detail(format!(
                    "caseworker:{} structure:{} links:{} codes:{}",
                    cw.id,
                    cw.structure,
                    links.len(),
                    codes.len()
                )),
            )
            .await?;
            cw.structure
        };
        if let Deactivator::Admin(session) = by
            && let Some(key) = session.structure_key()
        {
            match self.rotate_structure_key(structure, &key, who).await {
                // A member who logged in meanwhile rotated it already.
                Ok(()) | Err(VaultError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Logs a caseworker in with login, password and a code of their
    /// second factor (from their app, or a recovery code). A wrong code
    /// counts as a failed attempt, like a wrong password. Without a second
    /// factor (an admin reset it), the session opened can only set one up
    /// ([`LoginOutcome::second_factor`]). When their structure's key is due
    /// for rotation (a colleague was deactivated by the operator), it is
    /// rotated now, with the key this login unlocks.
    pub async fn login_caseworker(
        &self,
        login: &str,
        password: UserSecret,
        code: &str,
    ) -> Result<LoginOutcome> {
        self.login_caseworker_from(login, password, code, std::net::Ipv4Addr::LOCALHOST.into())
            .await
    }

    /// The same, counted under the client's address (what the API calls).
    pub async fn login_caseworker_from(
        &self,
        login: &str,
        password: UserSecret,
        code: &str,
        from: std::net::IpAddr,
    ) -> Result<LoginOutcome> {
        let source = Source::Address(from);
        let (outcome, rotate) = {
            let _writing = self.writing().await;
            let (index, account) = self.account(LoginKind::Caseworker, login)?;
            let cw = match account {
                Some(a) => {
                    self.alarm(self.records().read().caseworkers().get(a.id))
                        .await?
                }
                None => None,
            };
            let (Some(account), Some(cw)) = (account, cw.filter(|c| c.active)) else {
                return Err(self.unknown_account(&index, source, password).await);
            };
            let account_key = account.account_key();
            let attempt = Account {
                key: &account_key,
                who: Who::Caseworker(cw.id),
                vault: None,
                source,
            };
            let identity = self
                .check_secret(&attempt, &cw.sealed_identity, password, cw.id)
                .await?;
            let srec = self
                .alarm(self.records().read().structures().find(cw.structure))
                .await?;
            let structure_identity =
                Access::structure_for_caseworker(&cw.structure_wrap, &identity, cw.structure)?;
            self.alarm(check_recipient(
                &structure_identity,
                &srec.recipient,
                "structures",
            ))
            .await?;
            let check = self.check_code(&cw, &identity, code)?;
            if matches!(check, CodeCheck::Wrong) || !self.accept_code(cw.id, &check)? {
                return Err(self
                    .attempt_failed_with(&attempt, "right password, wrong second-factor code")
                    .await);
            }
            let failed = self.attempt_succeeded(&attempt)?;
            let notices = Vault::failed_notice(failed);
            let principal = Principal::Caseworker {
                id: cw.id,
                structure: cw.structure,
                admin: cw.admin,
            };
            let mut outcome = match check {
                CodeCheck::NotSetUp => {
                    self.start_session_awaiting_second_factor(
                        principal,
                        identity,
                        Some(structure_identity),
                    )
                    .await?
                }
                _ => {
                    self.start_session(principal, identity, Some(structure_identity), notices)
                        .await?
                }
            };
            outcome.failed_attempts = failed;
            (outcome, srec.rotation_due.then_some(cw.structure))
        };
        if let Some(structure) = rotate
            && outcome.second_factor == SecondFactorStage::Passed
            && let Ok(session) = self.session(&outcome.token)
            && let Some(key) = session.structure_key()
        {
            // The login stands whatever happens here: the key stays marked
            // for rotation, and the next member's login tries again.
            match self
                .rotate_structure_key(structure, &key, session.principal.who())
                .await
            {
                Ok(()) | Err(VaultError::Conflict(_)) => {}
                Err(e) => tracing::error!(
                    error = %e,
                    "rotating a structure's key at login failed; the next login will try again"
                ),
            }
        }
        Ok(outcome)
    }

    /// A caseworker changes their password, or a person their secret,
    /// typing the current one (counted as a login attempt). The person's
    /// other sessions end.
    pub async fn change_secret(
        &self,
        session: &Session,
        current: UserSecret,
        new: UserSecret,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let (kind, id) = match session.principal {
            Principal::Caseworker { id, .. } => {
                check_password(&new)?;
                (LoginKind::Caseworker, id)
            }
            Principal::Beneficiary { id } => {
                super::check_person_secret(&new, None)?;
                self.not_the_identifier(&new, &self.beneficiary(id)?.login_index)?;
                (LoginKind::Beneficiary, id)
            }
        };
        let sealed = match kind {
            LoginKind::Caseworker => {
                self.records()
                    .read()
                    .caseworkers()
                    .get(id)?
                    .filter(|c| c.active)
                    .ok_or(VaultError::Unauthenticated)?
                    .sealed_identity
            }
            LoginKind::Beneficiary => self.beneficiary(id)?.sealed_identity,
        };
        let account_key = Login { kind, id }.account_key();
        let attempt = Account {
            key: &account_key,
            who: session.principal.who(),
            vault: (kind == LoginKind::Beneficiary).then_some(id),
            source: Source::Session,
        };
        let identity = self.check_secret(&attempt, &sealed, current, id).await?;
        self.attempt_succeeded(&attempt)?;
        let (_, resealed) = self.access().seal_identity(identity, new, id).await?;
        self.records().write(|tx| match kind {
            LoginKind::Caseworker => {
                let mut c = tx
                    .caseworkers()
                    .get(id)?
                    .filter(|c| c.active)
                    .ok_or(VaultError::Unauthenticated)?;
                c.sealed_identity = resealed.clone();
                tx.caseworkers().put(&c)
            }
            LoginKind::Beneficiary => tx.beneficiaries().update(id, |b| {
                b.sealed_identity = resealed.clone();
                Ok(())
            }),
        })?;
        // Whoever else was logged in with the old secret is logged out.
        self.inner.sessions.remove_others(session);
        let event = match kind {
            LoginKind::Caseworker => Event::CaseworkerSecretChange,
            LoginKind::Beneficiary => Event::SecretChange,
        };
        let mut e = NewEntry::ok(session.principal.who(), event);
        if kind == LoginKind::Beneficiary {
            e = e.vault(id);
        }
        self.journal(e).await?;
        Ok(())
    }

    /// Rotates a structure's key: a new structure identity; every scope key
    /// and recovery seal wrapped to the old one re-wrapped to the new one;
    /// the structure's remaining caseworkers given the new key; pending
    /// invitations cancelled (their codes carry the old key: invite again).
    /// All in one transaction, with every other write held back (the vault's
    /// write gate, exclusively), then the open sessions of the structure's
    /// caseworkers rekeyed.
    pub(crate) async fn rotate_structure_key(
        &self,
        structure: PrincipalId,
        old: &Arc<Identity>,
        who: Who,
    ) -> Result<()> {
        let _exclusive = self.inner.gate.write().await;
        let read = self.records().read();
        let srec = self.alarm(read.structures().find(structure)).await?;
        if old.recipient().to_string() != srec.recipient {
            // Someone rotated it since this key was unlocked.
            return Err(VaultError::Conflict(
                "the structure's key changed meanwhile; log in again",
            ));
        }
        let new = Identity::generate();
        let new_recipient = new.recipient();
        let mut scope_wraps = Vec::new();
        let mut seals = Vec::new();
        for b in read.links().of_structure(structure)? {
            let Some(ben) = read.beneficiaries().get(b)? else {
                continue;
            };
            for c in Category::ALL {
                for (epoch, s) in read.scopes().wraps_of(b, c)? {
                    if s != structure {
                        continue;
                    }
                    let Some(w) = read.scopes().wrap(b, c, epoch, structure)? else {
                        continue;
                    };
                    let rewrapped =
                        Access::rewrap_scope_for_structure(&w, old, &new_recipient, b, c, epoch)?;
                    scope_wraps.push((b, c, epoch, rewrapped));
                }
            }
            for seal in ben.recovery.iter().filter(|r| r.structure == structure) {
                let person = Access::open_recovery_seal(&seal.wrap, old, b)?;
                seals.push((b, Access::recovery_seal(&person, &new_recipient, b)?));
            }
        }
        let mut members = Vec::new();
        for cw in read.caseworkers().of_structure(structure)? {
            if !cw.active {
                continue;
            }
            let Some(r) = cw.recipient.as_deref() else {
                continue;
            };
            let r: coffre_crypto::Recipient = r.parse().map_err(|_| VaultError::Integrity)?;
            members.push(CaseworkerRecord {
                structure_wrap: Access::structure_to_caseworker(&new, &r, structure)?,
                ..cw
            });
        }
        let codes = read.codes().pending(None, structure)?;
        self.records().write(|tx| {
            let mut s = tx.structures().find(structure)?;
            s.recipient = new_recipient.to_string();
            s.key_version += 1;
            s.rotation_due = false;
            tx.structures().put(&s)?;
            for (b, c, epoch, w) in &scope_wraps {
                tx.scopes().put_wrap(*b, *c, *epoch, structure, w)?;
            }
            for (b, wrap) in &seals {
                tx.beneficiaries().update(*b, |ben| {
                    for r in ben.recovery.iter_mut().filter(|r| r.structure == structure) {
                        r.wrap = wrap.clone();
                    }
                    Ok(())
                })?;
            }
            for m in &members {
                tx.caseworkers().put(m)?;
            }
            for lookup in &codes {
                tx.codes().remove(lookup)?;
            }
            Ok(())
        })?;
        self.inner
            .sessions
            .rekey_structure(structure, &Arc::new(new));
        drop(_exclusive);
        self.journal(NewEntry::ok(who, Event::StructureKeyRotation).detail(format!(
            "structure:{structure} {} scope keys, {} recovery seals, {} caseworkers, {} invitations cancelled",
            scope_wraps.len(),
            seals.len(),
            members.len(),
            codes.len()
        )))
        .await?;
        Ok(())
    }
}
