//! Upload: streamed through encryption to the store, then committed.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coffre_crypto::listing::ListedFields;
use coffre_crypto::object::{self, Field, ObjectHeader, Sealer};
use coffre_crypto::wrap::Binding;
use coffre_crypto::{Dek, DocumentId, PrincipalId};
use coffre_store::{ObjectKey, StoreError};

use super::streams::{BackgroundDigest, SealState, UploadStats, lock, seal_stream};
use super::{
    DocumentInfo, MAX_CONTENT_TYPE, MAX_FILENAME, MAX_TITLE, NewDocument, PlaintextStream,
    notes_text, text,
};
use crate::journal::{Event, NewEntry};
use crate::model::Category;
use crate::policy::Action;
use crate::records::{DocumentRecord, KeyWrap};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

impl Vault {
    /// Uploads a document into a vault, streamed end to end.
    pub async fn upload(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        meta: NewDocument,
        body: PlaintextStream,
    ) -> Result<DocumentInfo> {
        let category = meta.category.unwrap_or(Category::Other);
        let b = self
            .authorize(
                session,
                Action::UploadDocument,
                beneficiary,
                Some(category),
                None,
            )
            .await?;
        let title = text(meta.title.as_deref().unwrap_or(""), MAX_TITLE, "title")?;
        let filename = text(&meta.filename, MAX_FILENAME, "file name")?;
        let notes = meta.notes.as_deref().map(notes_text).transpose()?;
        let filename = if filename.is_empty() {
            "document".to_owned()
        } else {
            filename
        };
        let title = if title.is_empty() {
            filename.clone()
        } else {
            title
        };
        let content_type = text(
            meta.content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
            MAX_CONTENT_TYPE,
            "content type",
        )?;
        let private = match session.principal {
            Principal::Beneficiary { .. } => meta.private.unwrap_or(true),
            Principal::Caseworker { .. } if meta.private == Some(true) => {
                return Err(VaultError::Invalid(
                    "documents uploaded by a caseworker are shared in their category".into(),
                ));
            }
            Principal::Caseworker { .. } => false,
        };
        // Checked again inside the commit's transaction (the count there
        // is the truth); refused here before the bytes are stored.
        if b.documents >= self.limits().max_documents as u64 {
            return Err(VaultError::Conflict(
                "this vault holds the maximum number of documents",
            ));
        }

        let id = DocumentId::random()?;
        // Held until the record is committed or the object removed: until
        // then the object is not an orphan.
        let _in_flight = self.inner.upload_in_flight(id);
        let version = 1;
        let h = ObjectHeader::new(id, version);
        let dek = Dek::generate()?;
        let key_wrap = self.access().wrap_new(
            &dek,
            &b,
            category,
            private,
            &Binding::document_key(id, version),
        )?;
        let quota_left = self.limits().quota_bytes.saturating_sub(b.used_bytes);
        let (limit, refusal) = if quota_left < self.limits().max_document_bytes {
            (
                quota_left,
                VaultError::QuotaExceeded {
                    quota: self.limits().quota_bytes,
                },
            )
        } else {
            (
                self.limits().max_document_bytes,
                VaultError::TooLarge {
                    limit: self.limits().max_document_bytes,
                },
            )
        };
        let (sealer, prefix) = Sealer::new(&dek, &h)?;
        let stats = Arc::new(Mutex::new(UploadStats {
            size: 0,
            stored: 0,
            refused: None,
        }));
        let plain_digest = BackgroundDigest::start()?;
        let state = SealState::new(
            body,
            sealer,
            Bytes::copy_from_slice(&prefix),
            plain_digest.tx.clone(),
            stats.clone(),
            refusal,
            limit,
        );
        let stored_crc = state.stored_crc.clone();
        let stream = seal_stream(state);
        let okey = ObjectKey::document(id, version);
        let put = self.inner.store.put(&okey, stream).await;
        let refused = lock(&stats).refused.take();
        if let Some(refused) = refused {
            self.journal(
                NewEntry::denied(session.principal.who(), Event::DocumentUpload)
                    .vault(beneficiary)
                    .detail(refused.to_string()),
            )
            .await?;
            return Err(refused);
        }
        let (size, stored) = {
            let s = lock(&stats);
            (s.size, s.stored)
        };
        match put {
            Ok(r) if r.size == stored => {}
            Ok(_) => return Err(VaultError::Integrity),
            Err(StoreError::Body(e)) => {
                return Err(VaultError::Invalid(format!("upload interrupted: {e}")));
            }
            Err(e) => return Err(e.into()),
        }
        let mut record = DocumentRecord {
            id,
            version,
            beneficiary,
            category,
            size,
            stored_size: stored,
            sha256: plain_digest.finish()?,
            stored_sha256: String::new(),
            stored_crc64: Some(lock(&stored_crc).finalize()),
            uploaded_ms: self.now_ms(),
            uploaded_by: session.principal.who().to_string(),
            expires_on: meta.expires_on,
            sealed_title: object::seal_field(&dek, &h, Field::Title, &title)?,
            sealed_filename: object::seal_field(&dek, &h, Field::FileName, &filename)?,
            sealed_content_type: object::seal_field(&dek, &h, Field::ContentType, &content_type)?,
            sealed_notes: match notes.as_deref() {
                Some(n) if !n.is_empty() => object::seal_field(&dek, &h, Field::Notes, n)?,
                _ => Vec::new(),
            },
            key: key_wrap,
            listing_seal: Vec::new(),
        };
        // A cache: if it cannot be made now, the next reader makes it; the
        // upload (already stored) is not lost for it.
        record.listing_seal = self
            .access()
            .listing_seal_for_new(
                session,
                &record,
                &ListedFields {
                    title: title.clone(),
                    filename: filename.clone(),
                    content_type: content_type.clone(),
                    notes: notes.clone().unwrap_or_default(),
                },
            )
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "listing seal not made at upload; the next listing makes it");
                Vec::new()
            });
        let _writing = self.writing().await;
        if let Err(e) = self.commit_upload(&record) {
            // Nothing points at the object: remove it now rather than leave
            // it to garbage collection.
            let _ = self.inner.store.delete(&okey).await;
            return Err(e);
        }
        self.journal(
            NewEntry::ok(session.principal.who(), Event::DocumentUpload)
                .vault(beneficiary)
                .doc(id),
        )
        .await?;
        self.info(&record, &dek)
    }

    /// Metadata commit of an upload: the record, its index and the quota
    /// in one transaction, which also checks that a shared document's
    /// scope key is still the current one (a revocation meanwhile would
    /// leave it under a retired key).
    fn commit_upload(&self, record: &DocumentRecord) -> Result<()> {
        let quota = self.limits().quota_bytes;
        let max = self.limits().max_documents as u64;
        self.records().write(|tx| {
            if let KeyWrap::Scope { epoch, .. } = record.key {
                tx.scopes()
                    .expect_epoch(record.beneficiary, record.category, epoch)?;
            }
            tx.beneficiaries().update(record.beneficiary, |b| {
                if b.used_bytes + record.size > quota {
                    return Err(VaultError::QuotaExceeded { quota }.into());
                }
                if b.documents >= max {
                    return Err(VaultError::Conflict(
                        "this vault holds the maximum number of documents",
                    )
                    .into());
                }
                b.used_bytes += record.size;
                b.documents += 1;
                Ok(())
            })?;
            tx.documents().insert(record)
        })
    }
}
