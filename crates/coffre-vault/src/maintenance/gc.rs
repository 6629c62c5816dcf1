//! Garbage collection: objects no record points at (left by a crash
//! between object write and metadata commit, or by a failed delete).

use std::collections::HashSet;
use std::time::Duration;

use coffre_crypto::DocumentId;
use coffre_store::{KeyPrefix, ObjectKey};
use serde::{Deserialize, Serialize};

use crate::journal::{Event, NewEntry, Who};
use crate::{Result, Vault};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GcReport {
    pub objects_seen: u64,
    pub orphans: Vec<String>,
    pub removed: u64,
    pub incomplete_uploads_removed: u64,
}

/// Interrupted uploads younger than this are left alone by gc: the HTTP
/// layer lets an upload run for an hour.
pub const INCOMPLETE_UPLOAD_FLOOR: Duration = Duration::from_secs(2 * 3600);

impl Vault {
    /// Finds objects no document record points at (left by a crash between
    /// object write and metadata commit, or by a failed delete), older than
    /// `older_than`; removes them when `apply`. Also removes interrupted
    /// uploads older than the bound.
    pub async fn gc(&self, older_than: Duration, apply: bool) -> Result<GcReport> {
        let _writing = self.writing().await;
        let mut report = GcReport::default();
        let (seen, orphans) = self.orphans(older_than).await?;
        report.objects_seen = seen;
        for key in orphans {
            report.orphans.push(key.to_string());
            if apply {
                self.inner.store.delete(&key).await?;
                report.removed += 1;
            }
        }
        if apply {
            // An interrupted upload cannot be told from one still running
            // except by age: never below the longest an upload may last.
            report.incomplete_uploads_removed = self
                .inner
                .store
                .cleanup_incomplete(older_than.max(INCOMPLETE_UPLOAD_FLOOR))
                .await?;
        }
        self.journal(
            NewEntry::ok(Who::Operator, Event::MaintenanceGc).detail(format!(
                "{} orphans, {} removed",
                report.orphans.len(),
                report.removed
            )),
        )
        .await?;
        Ok(report)
    }

    /// Stored objects that no committed record points at and that are older
    /// than `older_than`, with how many objects were seen. Uploads in flight
    /// write their object before their record: never counted.
    pub(crate) async fn orphans(&self, older_than: Duration) -> Result<(u64, Vec<ObjectKey>)> {
        let known: HashSet<(DocumentId, u32)> = self
            .records()
            .read()
            .documents()
            .all()?
            .into_iter()
            .map(|d| (d.id, d.version))
            .collect();
        let cutoff = std::time::SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(std::time::UNIX_EPOCH);
        let (mut seen, mut out) = (0u64, Vec::new());
        let mut after: Option<String> = None;
        loop {
            let page = self
                .inner
                .store
                .list(&KeyPrefix::documents(), after.as_deref(), 1000)
                .await?;
            for e in page.entries {
                seen += 1;
                if known.contains(&e.key.document_version())
                    || e.modified.is_some_and(|m| m > cutoff)
                {
                    continue;
                }
                // In flight, or committed since the known list was read
                // (checked in that order: the flag drops after the commit).
                let (id, version) = e.key.document_version();
                if self.inner.is_uploading(id) {
                    continue;
                }
                let committed = self
                    .records()
                    .read()
                    .documents()
                    .get(id)?
                    .is_some_and(|d| d.version == version);
                if !committed {
                    out.push(e.key);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok((seen, out))
    }

    /// Document records whose object is missing or of the wrong size.
    pub async fn missing_objects(&self) -> Result<Vec<DocumentId>> {
        let mut out = Vec::new();
        for d in self.records().read().documents().all()? {
            match self
                .inner
                .store
                .head(&ObjectKey::document(d.id, d.version))
                .await
            {
                Ok(size) if size == d.stored_size => {}
                Ok(_) | Err(coffre_store::StoreError::NotFound { .. }) => out.push(d.id),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}
