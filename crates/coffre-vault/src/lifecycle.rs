//! The whole vault: the person's journal, export of everything in one
//! request (CPCE L103 5°), erasure, and garbage collection of orphans.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use coffre_crypto::audit::Entry;
use coffre_crypto::{DocumentId, PrincipalId, UserSecret};
use coffre_store::{KeyPrefix, ObjectKey};
use futures_util::StreamExt;
use serde::Serialize;

use crate::db::key;
use crate::journal::{self, JournalSlice, NewEntry};
use crate::model::{Category, GrantRecord};
use crate::policy::Action;
use crate::session::Session;
use crate::{Result, Vault, VaultError};

/// `manifest.json` of an export.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub format: &'static str,
    pub beneficiary_id: PrincipalId,
    pub exported_at_ms: i64,
    pub documents: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize)]
pub struct ManifestEntry {
    pub document_id: DocumentId,
    pub path: String,
    pub title: String,
    pub category: Category,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at_ms: i64,
    pub expires_on: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    pub objects_seen: u64,
    pub orphans: Vec<String>,
    pub removed: u64,
    pub incomplete_uploads_removed: u64,
}

/// Interrupted uploads younger than this are left alone by gc: the HTTP
/// layer lets an upload run for an hour.
pub const INCOMPLETE_UPLOAD_FLOOR: Duration = Duration::from_secs(2 * 3600);

/// Keeps a ZIP entry name to safe characters (the title stays in the manifest).
fn safe_name(s: &str) -> String {
    let mut cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    while cleaned.contains("..") {
        cleaned = cleaned.replace("..", "_");
    }
    if cleaned.trim_matches(['.', '_']).is_empty() {
        "document".into()
    } else {
        cleaned
    }
}

impl Vault {
    /// "Who looked at my papers": the journal entries of a vault (newest
    /// last), refused attempts included. For the person only.
    pub async fn vault_journal(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        self.authorize(session, Action::ReadJournal, beneficiary, None, None)
            .await?;
        journal::vault_entries(self.db(), beneficiary, limit.clamp(1, 10_000))
    }

    /// Operator: journal entries `from..=to` with checkpoints and anchor,
    /// after signing a fresh checkpoint so the slice ends signed.
    pub async fn journal_slice(&self, from: u64, to: u64) -> Result<JournalSlice> {
        self.inner.journal.checkpoint().await?;
        journal::slice(self.db(), from, to, self.audit_verifying_key())
    }

    /// Writes every document of the vault and `manifest.json` into a ZIP
    /// (stored, not recompressed: scans and PDFs are compressed already).
    /// Returns the manifest. The writer may be a pipe: nothing is seeked.
    pub async fn export<W: Write + Send>(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        mut out: W,
    ) -> Result<Manifest> {
        self.export_into(session, beneficiary, Sink::Write(&mut out))
            .await
    }

    /// The same ZIP, sent piece by piece as it is produced (for an HTTP
    /// response): memory stays bounded by one chunk. An error is sent last.
    pub async fn export_to_channel(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        tx: &tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    ) -> Result<Manifest> {
        self.export_into(session, beneficiary, Sink::<std::io::Sink>::Channel(tx))
            .await
    }

    async fn export_into<W: Write + Send>(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        mut sink: Sink<'_, W>,
    ) -> Result<Manifest> {
        self.authorize(session, Action::Export, beneficiary, None, None)
            .await?;
        let buffer = SharedBuf::default();
        let mut zip = zip::ZipWriter::new_stream(buffer.clone());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        let zip_err = |e: zip::result::ZipError| VaultError::Invalid(format!("export: {e}"));
        let io_err = |e: std::io::Error| VaultError::Invalid(format!("export: {e}"));
        let mut manifest = Manifest {
            format: "coffre-export-v1",
            beneficiary_id: beneficiary,
            exported_at_ms: crate::now_ms(),
            documents: Vec::new(),
        };
        for d in self.documents_of(beneficiary)? {
            let dek = self.dek_for(session, &d)?;
            let info = self.info(&d, &dek)?;
            let path = format!("documents/{}_{}", d.id, safe_name(&info.filename));
            zip.start_file(path.as_str(), options).map_err(zip_err)?;
            let mut stream = self.open_object(&d, dek).await?;
            let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|_| VaultError::Integrity)?;
                hasher.update(&chunk);
                zip.write_all(&chunk).map_err(io_err)?;
                sink.emit(buffer.take()).await.map_err(io_err)?;
            }
            if hex::encode(hasher.finish().as_ref()) != d.sha256 {
                return Err(VaultError::Integrity);
            }
            manifest.documents.push(ManifestEntry {
                document_id: d.id,
                path,
                title: info.title,
                category: d.category,
                filename: info.filename,
                content_type: info.content_type,
                size: d.size,
                sha256: d.sha256.clone(),
                uploaded_at_ms: d.uploaded_ms,
                expires_on: d.expires_on.clone(),
            });
        }
        zip.start_file("manifest.json", options).map_err(zip_err)?;
        let json = serde_json::to_vec_pretty(&manifest)?;
        zip.write_all(&json).map_err(io_err)?;
        zip.finish().map_err(zip_err)?;
        sink.emit(buffer.take()).await.map_err(io_err)?;
        self.journal(
            NewEntry::new(session.principal.label(), "vault.export", "ok")
                .vault(beneficiary)
                .detail(format!("{} documents", manifest.documents.len())),
        )
        .await?;
        Ok(manifest)
    }

    /// Erases a whole vault, the person re-typing their secret. Keys first
    /// (seals, scope keys, document wraps, share links), flushed: from that
    /// moment every document is unreadable wherever its object lies. Then the
    /// objects, then the remaining metadata. The journal keeps the fact.
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
        let account = key(&[b"b", b.id.as_bytes()]);
        let label = session.principal.label();
        self.check_secret(
            &account,
            &label,
            Some(beneficiary),
            &b.sealed_identity,
            secret,
            b.id,
        )
        .await?;
        self.succeeded_attempt(&account).await?;
        // Recorded before anything is deleted, so an interrupted erasure
        // still leaves its trace.
        self.journal(NewEntry::new(label.clone(), "vault.erase", "started").vault(beneficiary))
            .await?;
        let docs = self.documents_of(beneficiary)?;
        // 1. Keys.
        self.db().beneficiaries.remove(beneficiary.as_bytes())?;
        for c in Category::ALL {
            self.db()
                .scopes
                .remove(key(&[beneficiary.as_bytes(), c.as_str().as_bytes()]))?;
        }
        for k in self
            .db()
            .scope_wraps
            .scan_prefix(beneficiary.as_bytes())
            .keys()
        {
            self.db().scope_wraps.remove(k?)?;
        }
        for d in &docs {
            self.db().documents.remove(d.id.as_bytes())?;
            self.remove_shares_of(beneficiary, d.id)?;
        }
        self.inner.journal.sync().await?;
        self.inner.sessions.remove_principal(beneficiary);
        // 2. Objects (a failure leaves orphans for `gc`, already unreadable).
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
        // 3. The rest of the metadata.
        for k in self
            .db()
            .vault_documents
            .scan_prefix(beneficiary.as_bytes())
            .keys()
        {
            self.db().vault_documents.remove(k?)?;
        }
        let grants: Vec<GrantRecord> = self.grants_of(beneficiary)?;
        for g in grants {
            self.db().grants.remove(g.id.as_bytes())?;
        }
        for k in self
            .db()
            .vault_grants
            .scan_prefix(beneficiary.as_bytes())
            .keys()
        {
            self.db().vault_grants.remove(k?)?;
        }
        for k in self
            .db()
            .vault_shares
            .scan_prefix(beneficiary.as_bytes())
            .keys()
        {
            self.db().vault_shares.remove(k?)?;
        }
        for s in &b.linked {
            self.db()
                .links
                .remove(key(&[s.as_bytes(), beneficiary.as_bytes()]))?;
        }
        self.db().logins.remove(&b.login_index)?;
        self.db()
            .attempts
            .remove(key(&[b"b", beneficiary.as_bytes()]))?;
        self.journal(
            NewEntry::new(session.principal.label(), "vault.erase", "ok")
                .vault(beneficiary)
                .detail(format!("{} documents", docs.len())),
        )
        .await?;
        Ok(())
    }

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
            NewEntry::new("operator", "maintenance.gc", "ok").detail(format!(
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
        let mut known: HashSet<(DocumentId, u32)> = HashSet::new();
        for v in self.db().documents.iter().values() {
            let d: crate::model::DocumentRecord = serde_json::from_slice(&v?)?;
            known.insert((d.id, d.version));
        }
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
                let committed = crate::db::get::<crate::model::DocumentRecord>(
                    &self.db().documents,
                    id.as_bytes(),
                )?
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
        for v in self.db().documents.iter().values() {
            let d: crate::model::DocumentRecord = serde_json::from_slice(&v?)?;
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

/// The ZIP writer's output, drained after each piece.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where an export goes.
enum Sink<'a, W> {
    Write(&'a mut W),
    Channel(&'a tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>),
}

impl<W: Write> Sink<'_, W> {
    async fn emit(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self {
            Sink::Write(w) => w.write_all(&bytes),
            Sink::Channel(tx) => tx.send(Ok(bytes::Bytes::from(bytes))).await.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away")
            }),
        }
    }
}
