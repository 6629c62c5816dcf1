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
use crate::lockout::{Account, Source};
use crate::policy::Action;
use crate::records::{Login, LoginKind, Notice, NoticeKind, PendingRecovery, RecoverySeal};
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
        // One at a time per person: a recovery cannot be started over and
        // over to push the person's security events out of view.
        let now = self.now_ms();
        let under_way = self
            .records()
            .read()
            .recoveries()
            .all()?
            .into_iter()
            .any(|r| r.beneficiary == beneficiary && r.expires_ms > now);
        if under_way {
            self.journal(
                NewEntry::denied(session.principal.who(), Event::RecoveryStart)
                    .vault(beneficiary)
                    .detail("a recovery is already under way"),
            )
            .await?;
            return Err(VaultError::Conflict(
                "a recovery of this person is already under way; finish it or let it expire (15 minutes)",
            ));
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

    /// Whether member `me` may confirm recovery `r`: not the one who
    /// started it, not someone that person invited, and a member since
    /// before the person chose this trustee — so that one admin cannot
    /// invite a second account of their own and confirm with it.
    fn may_confirm(&self, r: &PendingRecovery, me: PrincipalId) -> Result<(), &'static str> {
        if me == r.started_by {
            return Err("a second member of the structure confirms a recovery, not its starter");
        }
        let read = self.records().read();
        let Ok(Some(cw)) = read.caseworkers().get(me) else {
            return Err("unknown caseworker");
        };
        if cw.invited_by == Some(r.started_by) {
            return Err("a member invited by the starter cannot confirm their recovery");
        }
        let chosen = read
            .beneficiaries()
            .get(r.beneficiary)
            .ok()
            .flatten()
            .and_then(|b| {
                b.recovery
                    .iter()
                    .find(|s| s.structure == r.structure)
                    .map(|s| s.chosen_ms)
            })
            .unwrap_or(0);
        if cw.created_ms > chosen {
            return Err(
                "only a member who was there when the person chose this structure can confirm",
            );
        }
        Ok(())
    }

    /// A second member of the trustee structure, not the one who started
    /// it, confirms a recovery.
    pub async fn confirm_recovery(&self, session: &Session, recovery: RecoveryId) -> Result<()> {
        let _writing = self.writing().await;
        let r = self
            .pending_recovery(session, recovery, Event::RecoveryConfirm)
            .await?;
        let me = session.principal.id();
        if let Err(why) = self.may_confirm(&r, me) {
            self.journal(
                NewEntry::denied(session.principal.who(), Event::RecoveryConfirm)
                    .vault(r.beneficiary)
                    .detail(why),
            )
            .await?;
            return Err(VaultError::Forbidden(why));
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
        // The member who confirmed completes it, with the person at the
        // desk: the second person does not just click "confirm" unseen.
        let Some(confirmed_by) = r.confirmed_by.filter(|c| *c == me) else {
            self.journal(
                NewEntry::denied(session.principal.who(), Event::VaultRecover)
                    .vault(r.beneficiary)
                    .detail("not the member who confirmed it"),
            )
            .await?;
            return Err(VaultError::Forbidden(
                "the member who confirmed the recovery completes it, with the person",
            ));
        };
        check_person_secret(&new_secret, None)?;
        let b = self.beneficiary(r.beneficiary)?;
        self.not_the_identifier(&new_secret, &b.login_index)?;
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
        let counters = self.records().read().attempts().of_account(&account)?;
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
            // A fresh start for the new secret, from every client.
            for k in &counters {
                tx.attempts().remove(k)?;
            }
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
        let attempt = Account {
            key: &account,
            who: session.principal.who(),
            vault: Some(b.id),
            source: Source::Session,
        };
        let identity = self
            .check_secret(&attempt, &b.sealed_identity, secret, b.id)
            .await?;
        self.attempt_succeeded(&attempt)?;
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
                    chosen_ms: self.now_ms(),
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
