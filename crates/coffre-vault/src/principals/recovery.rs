//! Recovery of a forgotten secret through a trustee structure.

use coffre_crypto::{PrincipalId, UserSecret};

use super::check_beneficiary_secret;
use crate::access::Access;
use crate::journal::{Event, NewEntry};
use crate::policy::Action;
use crate::records::{AttemptRecord, Login, LoginKind};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

impl Vault {
    /// A caseworker of the person's trustee structure, with the person
    /// present, sets a new secret. The person sees it in their journal and
    /// at their next login.
    pub async fn recover(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        new_secret: UserSecret,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let b = self
            .authorize(session, Action::Recover, beneficiary, None, None)
            .await?;
        check_beneficiary_secret(&new_secret)?;
        let (Principal::Caseworker { structure, .. }, Some(structure_identity)) =
            (session.principal, &session.structure_identity)
        else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let Some(seal) = b.recovery.iter().find(|r| r.structure == structure) else {
            return Err(VaultError::RecoveryImpossible);
        };
        let identity = Access::open_recovery_seal(&seal.wrap, structure_identity, beneficiary)?;
        let (_, sealed) = self
            .access()
            .seal_identity(identity, new_secret, beneficiary)
            .await?;
        let notice = format!(
            "Votre secret a été changé par une structure de confiance ({}).",
            session.principal.who()
        );
        let account = Login {
            kind: LoginKind::Beneficiary,
            id: beneficiary,
        }
        .account_key();
        self.records().write(|tx| {
            tx.beneficiaries().update(beneficiary, |rec| {
                rec.sealed_identity = sealed.clone();
                rec.pending_notices.push(notice.clone());
                Ok(())
            })?;
            tx.attempts().put(&account, &AttemptRecord::default())
        })?;
        // Whoever held the old secret is logged out.
        self.inner.sessions.remove_principal(beneficiary);
        self.journal(NewEntry::ok(session.principal.who(), Event::VaultRecover).vault(beneficiary))
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
}
