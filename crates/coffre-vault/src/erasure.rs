//! Erasure of a whole vault, by its owner re-typing their secret.
//!
//! What makes it hold: every record of the vault is sealed under the
//! person's own key, which lives in a file of its own. The records are
//! removed in one transaction (made durable), then the key file is
//! overwritten and removed: from then on, whatever the database still keeps
//! of removed values, and whatever copies of the objects a bucket keeps,
//! nothing of the vault can be opened — not with the root key, not with the
//! person's secret. Then the objects are deleted. The journal keeps the
//! fact (ids and codes only).

use coffre_crypto::{PrincipalId, UserSecret};
use coffre_store::ObjectKey;

use crate::journal::{Event, NewEntry, Outcome};
use crate::lockout::{Account, Source};
use crate::model::Category;
use crate::policy::Action;
use crate::records::{Login, LoginKind};
use crate::session::Session;
use crate::{Result, Vault};

impl Vault {
    /// Erases a whole vault (see the module's documentation).
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
        let attempt = Account {
            key: &account,
            who,
            vault: Some(beneficiary),
            source: Source::Session,
        };
        self.check_secret(&attempt, &b.sealed_identity, secret, b.id)
            .await?;
        self.attempt_succeeded(&attempt)?;
        // Recorded before anything is deleted, so an interrupted erasure
        // still leaves its trace.
        self.journal(NewEntry::new(who, Event::VaultErase, Outcome::Started).vault(beneficiary))
            .await?;
        let read = self.records().read();
        let docs = read.documents().of_vault(beneficiary)?;
        let grants = read.grants().of_vault(beneficiary)?;
        let shares = read.shares().of_vault(beneficiary)?;
        let mut scopes = Vec::new();
        let mut wraps = Vec::new();
        for c in Category::ALL {
            for rec in read.scopes().epochs(beneficiary, c)? {
                scopes.push((c, rec.epoch));
            }
            for (epoch, s) in read.scopes().wraps_of(beneficiary, c)? {
                wraps.push((c, epoch, s));
            }
        }
        let recoveries: Vec<_> = read
            .recoveries()
            .all()?
            .into_iter()
            .filter(|r| r.beneficiary == beneficiary)
            .map(|r| r.id)
            .collect();
        let counters = read.attempts().of_account(&account)?;
        self.records().write(|tx| {
            // (Links first: each counts itself out of the vault's record.)
            for (lookup, r) in &shares {
                tx.drop_share(lookup, r)?;
            }
            tx.beneficiaries().remove(beneficiary)?;
            for c in Category::ALL {
                tx.scopes().remove_head(beneficiary, c)?;
            }
            for (c, epoch) in &scopes {
                tx.scopes().remove(beneficiary, *c, *epoch)?;
            }
            for (c, epoch, s) in &wraps {
                tx.scopes().remove_wrap(beneficiary, *c, *epoch, *s)?;
            }
            for d in &docs {
                tx.documents().remove(d)?;
            }
            for g in &grants {
                tx.grants().remove(g)?;
            }
            for r in &recoveries {
                tx.recoveries().remove(*r)?;
            }
            for s in &b.linked {
                tx.links().remove(*s, beneficiary)?;
            }
            tx.logins().release(&b.login_index)?;
            for k in &counters {
                tx.attempts().remove(k)?;
            }
            Ok(())
        })?;
        self.inner.journal.sync().await?;
        self.inner.sessions.remove_principal(beneficiary);
        self.forget_keys(beneficiary);
        // The key last: where the database may still hold removed values,
        // they are sealed under it.
        self.records().persons().destroy(beneficiary)?;
        // Objects: a failure leaves orphans for `gc`, already unreadable.
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
