//! Erasure of a whole vault, by its owner re-typing their secret.

use coffre_crypto::{PrincipalId, UserSecret};
use coffre_store::ObjectKey;

use crate::journal::{Event, NewEntry, Outcome};
use crate::lockout::Account;
use crate::model::Category;
use crate::policy::Action;
use crate::records::{Login, LoginKind};
use crate::session::Session;
use crate::{Result, Vault};

impl Vault {
    /// Erases a whole vault. Every record of it goes in one transaction —
    /// its keys first among them (identity seal, scope keys, document
    /// wraps, share links) — made durable before anything else: from that
    /// moment every document is unreadable wherever its object lies. Then
    /// the objects. The journal keeps the fact.
    pub async fn erase_vault(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        secret: UserSecret,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let b = self
            .authorize(session, Action::Erase, beneficiary, None, None)
            .await?;
        // The re-typed secret is a login attempt like any other: counted
        // first, checked off the async threads, locked after repeated misses.
        let account = Login {
            kind: LoginKind::Beneficiary,
            id: b.id,
        }
        .account_key();
        let who = session.principal.who();
        self.check_secret(
            &Account {
                key: &account,
                who,
                vault: Some(beneficiary),
            },
            &b.sealed_identity,
            secret,
            b.id,
        )
        .await?;
        self.attempt_succeeded(&account)?;
        // Recorded before anything is deleted, so an interrupted erasure
        // still leaves its trace.
        self.journal(NewEntry::new(who, Event::VaultErase, Outcome::Started).vault(beneficiary))
            .await?;
        let read = self.records().read();
        let docs = read.documents().of_vault(beneficiary)?;
        let grants = read.grants().of_vault(beneficiary)?;
        let shares = read.shares().of_vault(beneficiary)?;
        let mut wraps = Vec::new();
        for c in Category::ALL {
            for (epoch, s) in read.scopes().wraps_of(beneficiary, c)? {
                wraps.push((c, epoch, s));
            }
        }
        self.records().write(|tx| {
            tx.beneficiaries().remove(beneficiary)?;
            for c in Category::ALL {
                tx.scopes().remove(beneficiary, c)?;
            }
            for (c, epoch, s) in &wraps {
                tx.scopes().remove_wrap(beneficiary, *c, *epoch, *s)?;
            }
            for d in &docs {
                tx.documents().remove(d)?;
            }
            for (lookup, r) in &shares {
                tx.shares().remove(lookup, r)?;
            }
            for g in &grants {
                tx.grants().remove(g)?;
            }
            for s in &b.linked {
                tx.links().remove(*s, beneficiary)?;
            }
            tx.logins().release(&b.login_index)?;
            tx.attempts().remove(&account)
        })?;
        self.inner.journal.sync().await?;
        self.inner.sessions.remove_principal(beneficiary);
        // Objects last: a failure leaves orphans for `gc`, already unreadable.
        for d in &docs {
            if let Err(e) = self
                .inner
                .store
                .delete(&ObjectKey::document(d.id, d.version))
                .await
            {
                tracing::warn!(error = %e, "object of an erased vault not deleted; gc will remove it");
            }
        }
        self.journal(
            NewEntry::ok(who, Event::VaultErase)
                .vault(beneficiary)
                .detail(format!("{} documents", docs.len())),
        )
        .await?;
        Ok(())
    }
}
