//! Changes by the owner: title, validity date, private or shared; deletion.

use coffre_crypto::DocumentId;
use coffre_crypto::object::{self, Field};

use super::{DocumentInfo, MAX_TITLE, header, object_key, text};
use crate::journal::{Event, NewEntry};
use crate::model::Date;
use crate::policy::Action;
use crate::records::{DocumentRecord, KeyWrap, Tx, TxResult};
use crate::session::Session;
use crate::{Result, Vault, VaultError};

impl Vault {
    /// The owner edits a title or the paper's expiry date, or moves the
    /// document between private and shared.
    pub async fn update_document(
        &self,
        session: &Session,
        document: DocumentId,
        title: Option<String>,
        expires_on: Option<Option<Date>>,
        private: Option<bool>,
    ) -> Result<DocumentInfo> {
        let _writing = self.writing().await;
        let action = if private.is_some() {
            Action::SetPrivacy
        } else {
            Action::EditDocument
        };
        let (read, dek) = self.readable(session, document, action).await?;
        let h = header(&read);
        let sealed_title = match title {
            Some(t) => {
                let t = text(&t, MAX_TITLE, "title")?;
                if t.is_empty() {
                    return Err(VaultError::Invalid("a title cannot be empty".into()));
                }
                Some(object::seal_field(&dek, &h, Field::Title, &t)?)
            }
            None => None,
        };
        // Applied to the record as it is when the change commits (a scope
        // rotation may have re-wrapped its key since it was read).
        let d = self.retrying(|| {
            let mut d = self.document(document)?;
            let stamp = self.beneficiary(d.beneficiary)?.stamp;
            if let Some(t) = &sealed_title {
                d.sealed_title = t.clone();
            }
            if let Some(e) = expires_on {
                d.expires_on = e;
            }
            if let Some(p) = private {
                let b = self.beneficiary(d.beneficiary)?;
                d.key = self.access().rewrap_privacy(&dek, &d, &b, p)?;
            }
            // A new title or key retires the listing seal (it would not
            // open any more); the next reader seals it again.
            if sealed_title.is_some() || private.is_some() {
                d.listing_seal.clear();
            }
            // Links made by structures end with their sight of the document.
            let mut structure_links = self.links_of(&d)?;
            structure_links.retain(|(_, r)| private == Some(true) && r.structure.is_some());
            self.records().write(|tx| {
                tx.beneficiaries().expect_stamp(d.beneficiary, stamp)?;
                // A key re-wrapped to the scope now must be to its current
                // epoch. (A key left as it was may well be at an older one:
                // an expiry rotates forward, without re-wrapping.)
                if private.is_some()
                    && let KeyWrap::Scope { epoch, .. } = d.key
                {
                    tx.scopes().expect_epoch(d.beneficiary, d.category, epoch)?;
                }
                tx.documents().put(&d)?;
                for (lookup, r) in &structure_links {
                    tx.drop_share(lookup, r)?;
                }
                // Its key may have moved to a scope: a rotation planned
                // without it must not commit.
                tx.beneficiaries().touch(d.beneficiary)
            })?;
            Ok(d)
        })?;
        if private.is_some() {
            self.forget_keys(d.beneficiary);
        }
        self.journal(
            NewEntry::ok(session.principal.who(), action.event())
                .vault(d.beneficiary)
                .doc(d.id),
        )
        .await?;
        self.info(&d, &dek)
    }

    /// The owner deletes a document: its key wraps (and share links) go at
    /// once, which makes every copy of the object unreadable; then the
    /// object itself.
    pub async fn delete_document(&self, session: &Session, document: DocumentId) -> Result<()> {
        let _writing = self.writing().await;
        let (d, _) = self
            .readable(session, document, Action::DeleteDocument)
            .await?;
        self.retrying(|| {
            let stamp = self.beneficiary(d.beneficiary)?.stamp;
            let links = self.links_of(&d)?;
            self.records().write(|tx| {
                tx.beneficiaries().expect_stamp(d.beneficiary, stamp)?;
                forget(tx, &d, &links)
            })
        })?;
        self.forget_keys(d.beneficiary);
        self.journal(
            NewEntry::ok(session.principal.who(), Event::DocumentDelete)
                .vault(d.beneficiary)
                .doc(d.id),
        )
        .await?;
        if let Err(e) = self.inner.store.delete(&object_key(&d)).await {
            tracing::warn!(document = %d.id, error = %e, "object not deleted; garbage collection will remove it");
        }
        Ok(())
    }

    /// The share links of one document.
    pub(crate) fn links_of(
        &self,
        d: &DocumentRecord,
    ) -> Result<Vec<([u8; 32], crate::records::ShareRecord)>> {
        Ok(self
            .records()
            .read()
            .shares()
            .of_vault(d.beneficiary)?
            .into_iter()
            .filter(|(_, r)| r.document == d.id)
            .collect())
    }
}

/// Metadata side of a deletion, in one transaction: the record and its
/// index, its links, the quota.
pub(crate) fn forget(
    tx: &Tx<'_>,
    d: &DocumentRecord,
    links: &[([u8; 32], crate::records::ShareRecord)],
) -> TxResult<()> {
    if tx.documents().get(d.id)?.is_none() {
        return Err(VaultError::NotFound.into());
    }
    tx.documents().remove(d)?;
    for (lookup, r) in links {
        tx.drop_share(lookup, r)?;
    }
    tx.beneficiaries().update(d.beneficiary, |b| {
        b.used_bytes = b.used_bytes.saturating_sub(d.size);
        b.documents = b.documents.saturating_sub(1);
        Ok(())
    })
}
