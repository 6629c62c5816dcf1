//! Recovery of a forgotten secret, and the trustees that make it possible.
//!
//! Being someone's trustee is that person's choice, made with their secret
//! (at enrollment, or later from their own space), and undone the same way.
//! A trustee structure holds the person's key wrapped to its own.
//!
//! No single caseworker can take over an account: a recovery is started by
//! an admin of the trustee structure, confirmed by a second member of that
//! structure, and completed with the new secret, which the person types at
//! the desk. It expires after [`RECOVERY_WINDOW`]. The person then sees a
//! notice at every login until they acknowledge it, and the recovery stays
//! at the top of their journal. `SECURITY.md` says what this proves and what
//! it does not (two colluding members).

use std::time::Duration;

use coffre_crypto::{PrincipalId, RecoveryId, UserSecret};
use serde::Serialize;

use super::check_person_secret;
use crate::access::Access;
use crate::journal::{Event, NewEntry, Outcome};
use crate::lockout::Account;
use crate::policy::Action;
use crate::records::{
    AttemptRecord, Login, LoginKind, Notice, NoticeKind, PendingRecovery, RecoverySeal,
};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// What being a trustee means, in the words shown to the person wherever
/// they choose, see or remove one (SECURITY.md says the same).
pub const TRUSTEE_MEANS: &str = "Une structure de confiance peut vous aider si vous oubliez votre code : \
deux personnes de cette structure, avec vous au guichet, vous font choisir un nouveau code. \
Pour cela, elle garde une clé qui peut ouvrir tout votre coffre, même vos papiers privés. \
Choisissez-la seulement si vous lui faites confiance. Vous pouvez la retirer quand vous voulez.";

/// How long a recovery may wait for its confirmation and completion.
pub const RECOVERY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A recovery under way, as its starter sees it.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryStarted {
    pub recovery_id: RecoveryId,
    pub expires_ms: i64,
}

/// A structure a person chose as trustee.
#[derive(Debug, Clone, Serialize)]
pub struct Trustee {
    pub structure_id: PrincipalId,
    pub name: String,
}

impl Vault {
    /// A structure admin of the person's trustee structure starts a
    /// recovery; a second member must confirm it.
    pub async fn start_recovery(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<RecoveryStarted> {
        let _writing = self.writing().await;
        let b = self
            .authorize(session, Action::Recover, beneficiary, None, None)
            .await?;
        let Principal::Caseworker { id, structure, .. } = session.principal else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        if !b.recovery.iter().any(|r| r.structure == structure) {
            return Err(VaultError::RecoveryImpossible);
        }
        let pending = PendingRecovery {
            id: RecoveryId::random()?,
            beneficiary,
            structure,
            started_by: id,
            confirmed_by: None,
            expires_ms: self.now_ms() + RECOVERY_WINDOW.as_millis() as i64,
        };
        self.records().write(|tx| tx.recoveries().put(&pending))?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::RecoveryStart)
                .vault(beneficiary)
                .detail(format!("recovery:{}", pending.id)),
        )
        .await?;
        Ok(RecoveryStarted {
            recovery_id: pending.id,
            expires_ms: pending.expires_ms,
        })
    }

    /// The recovery under way, if it is still alive and this session's
    /// structure's.
    async fn pending_recovery(
        &self,
        session: &Session,
        recovery: RecoveryId,
        event: Event,
    ) -> Result<PendingRecovery> {
        let found = self
            .records()
            .read()
            .recoveries()
            .get(recovery)?
            .filter(|r| Some(r.structure) == session.principal.structure());
        let Some(r) = found else {
            self.journal(
                NewEntry::denied(session.principal.who(), event).detail("unknown recovery"),
            )
            .await?;
            return Err(VaultError::NotFound);
        };
        if r.expires_ms <= self.now_ms() {
            self.records()
                .write(|tx| tx.recoveries().remove(recovery))?;
            self.journal(
                NewEntry::denied(session.principal.who(), event)
                    .vault(r.beneficiary)
                    .detail("recovery expired"),
            )
            .await?;
            return Err(VaultError::Gone);
        }
        self.authorize(session, Action::ConfirmRecovery, r.beneficiary, None, None)
            .await?;
        Ok(r)
    }

    /// A second member of the trustee structure, not the one who started
    /// it, confirms a recovery.
    pub async fn confirm_recovery(&self, session: &Session, recovery: RecoveryId) -> Result<()> {
        let _writing = self.writing().await;
        let r = self
            .pending_recovery(session, recovery, Event::RecoveryConfirm)
            .await?;
        let me = session.principal.id();
        if me == r.started_by {
            self.journal(
                NewEntry::denied(session.principal.who(), Event::RecoveryConfirm)
                    .vault(r.beneficiary)
                    .detail("the starter cannot confirm"),
            )
            .await?;
            return Err(VaultError::Forbidden(
                "a second member of the structure confirms a recovery",
            ));
        }
        let confirmed = PendingRecovery {
            confirmed_by: Some(me),
            ..r.clone()
        };
        self.records().write(|tx| tx.recoveries().put(&confirmed))?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::RecoveryConfirm)
                .vault(r.beneficiary)
                .detail(format!("recovery:{recovery}")),
        )
        .await?;
        Ok(())
    }

    /// Completes a confirmed recovery with the new secret the person types
    /// at the desk: their key is opened with the trustee's, sealed under
    /// the new secret; everyone logged in as them is logged out; they are
    /// told at every login until they acknowledge it.
    pub async fn complete_recovery(
        &self,
        session: &Session,
        recovery: RecoveryId,
        new_secret: UserSecret,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let r = self
            .pending_recovery(session, recovery, Event::VaultRecover)
            .await?;
        let me = session.principal.id();
        let Some(confirmed_by) = r
            .confirmed_by
            .filter(|_| me == r.started_by || Some(me) == r.confirmed_by)
        else {
            self.journal(
                NewEntry::denied(session.principal.who(), Event::VaultRecover)
                    .vault(r.beneficiary)
                    .detail("not confirmed by a second member"),
            )
            .await?;
            return Err(VaultError::Forbidden(
                "a second member of the structure must confirm the recovery first",
            ));
        };
        check_person_secret(&new_secret, None)?;
        let b = self.beneficiary(r.beneficiary)?;
        let Some(seal) = b.recovery.iter().find(|s| s.structure == r.structure) else {
            return Err(VaultError::RecoveryImpossible);
        };
        let Some(structure_key) = session.structure_key() else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let identity = Access::open_recovery_seal(&seal.wrap, &structure_key, b.id)?;
        let (_, sealed) = self
            .access()
            .seal_identity(identity, new_secret, b.id)
            .await?;
        let account = Login {
            kind: LoginKind::Beneficiary,
            id: b.id,
        }
        .account_key();
        let now = self.now_ms();
        self.records().write(|tx| {
            tx.beneficiaries().update(b.id, |rec| {
                rec.sealed_identity = sealed.clone();
                let id = rec.notices.iter().map(|n| n.id).max().unwrap_or(0) + 1;
                rec.notices.push(Notice {
                    id,
                    created_ms: now,
                    kind: NoticeKind::Recovery {
                        structure: r.structure,
                        started_by: r.started_by,
                        confirmed_by,
                    },
                });
                Ok(())
            })?;
            tx.attempts().put(&account, &AttemptRecord::default())?;
            tx.recoveries().remove(r.id)
        })?;
        // Whoever held the old secret is logged out.
        self.inner.sessions.remove_principal(b.id);
        self.journal(
            NewEntry::ok(session.principal.who(), Event::VaultRecover)
                .vault(b.id)
                .detail(format!(
                    "structure:{} started by caseworker:{} confirmed by caseworker:{confirmed_by}",
                    r.structure, r.started_by
                )),
        )
        .await?;
        Ok(())
    }

    /// Whether a vault can be recovered at all, in plain words.
    pub fn recovery_status(&self, beneficiary: PrincipalId) -> Result<&'static str> {
        let b = self.beneficiary(beneficiary)?;
        Ok(if b.recovery.is_empty() {
            "Aucune structure de confiance : si le secret est oublié, les documents sont perdus."
        } else {
            "Une structure de confiance peut rétablir l'accès, en présence de la personne."
        })
    }

    /// The person's trustee structures.
    pub async fn trustees(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<Vec<Trustee>> {
        let b = self
            .authorize(session, Action::ManageTrustees, beneficiary, None, None)
            .await?;
        let read = self.records().read();
        b.recovery
            .iter()
            .map(|r| {
                Ok(Trustee {
                    structure_id: r.structure,
                    name: read.structures().find(r.structure)?.name,
                })
            })
            .collect()
    }

    /// The person makes a structure their trustee, typing their secret
    /// again: their key is wrapped to the structure's.
    pub async fn add_trustee(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        structure: PrincipalId,
        secret: UserSecret,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let b = self
            .authorize(session, Action::ManageTrustees, beneficiary, None, None)
            .await?;
        let account = Login {
            kind: LoginKind::Beneficiary,
            id: b.id,
        }
        .account_key();
        let identity = self
            .check_secret(
                &Account {
                    key: &account,
                    who: session.principal.who(),
                    vault: Some(b.id),
                },
                &b.sealed_identity,
                secret,
                b.id,
            )
            .await?;
        self.attempt_succeeded(&account)?;
        let srec = self
            .alarm(self.records().read().structures().find(structure))
            .await?;
        let recipient: coffre_crypto::Recipient =
            srec.recipient.parse().map_err(|_| VaultError::Integrity)?;
        let wrap = Access::recovery_seal(&identity, &recipient, b.id)?;
        self.records().write(|tx| {
            tx.structures()
                .expect_recipient(structure, &srec.recipient)?;
            tx.beneficiaries().update(b.id, |rec| {
                rec.recovery.retain(|r| r.structure != structure);
                rec.recovery.push(RecoverySeal {
                    structure,
                    wrap: wrap.clone(),
                });
                if !rec.linked.contains(&structure) {
                    rec.linked.push(structure);
                }
                Ok(())
            })?;
            tx.links().insert(structure, b.id)
        })?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::TrusteeAdd)
                .vault(b.id)
                .detail(format!("structure:{structure}")),
        )
        .await?;
        Ok(())
    }

    /// The person stops a structure being their trustee: its copy of their
    /// key goes. The structure stays linked only while it holds a live
    /// grant.
    pub async fn remove_trustee(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        structure: PrincipalId,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let b = self
            .authorize(session, Action::ManageTrustees, beneficiary, None, None)
            .await?;
        if !b.recovery.iter().any(|r| r.structure == structure) {
            return Err(VaultError::NotFound);
        }
        self.retrying(|| {
            let stamp = self.beneficiary(b.id)?.stamp;
            let grants = self.records().read().grants().of_vault(b.id)?;
            let now = self.now_ms();
            self.records().write(|tx| {
                tx.beneficiaries().expect_stamp(b.id, stamp)?;
                tx.beneficiaries().update(b.id, |rec| {
                    rec.recovery.retain(|r| r.structure != structure);
                    Ok(())
                })?;
                crate::consent::unlink_if_idle(tx, b.id, structure, &grants, now)
            })
        })?;
        self.journal(
            NewEntry::new(session.principal.who(), Event::TrusteeRemove, Outcome::Ok)
                .vault(b.id)
                .detail(format!("structure:{structure}")),
        )
        .await?;
        Ok(())
    }
}
