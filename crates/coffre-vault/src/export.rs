//! Everything of a vault, for its owner: the journal ("who looked at my
//! papers") and the ZIP export of every paper with `manifest.json`, in one
//! request (CPCE L103 5°, D537).

use std::io::Write;

use coffre_crypto::PrincipalId;
use coffre_crypto::audit::Entry;
use futures_util::StreamExt;
use serde::Serialize;

use crate::documents::DocumentInfo;
use crate::journal::{self, Event, JournalSlice, NewEntry};
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
    /// Where the paper is in the ZIP.
    pub path: String,
    /// Its description, as its owner sees it.
    #[serde(flatten)]
    pub document: DocumentInfo,
}

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

/// How many entries kept in view are shown, besides the newest of each
/// kind.
pub const PINNED_SHOWN: usize = 200;
/// How far back the newest of each kind is looked for.
const PINNED_SCANNED: usize = 5_000;

/// The entries kept in view, newest first: the newest [`PINNED_SHOWN`],
/// and the newest of every kind (action and outcome) among the older ones —
/// so that many entries of one kind (share links made again and again)
/// never push the last recovery out of view.
fn in_view(pinned: Vec<Entry>) -> Vec<Entry> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, e) in pinned.into_iter().enumerate() {
        let first_of_kind = seen.insert((e.action.clone(), e.outcome.clone()));
        if i < PINNED_SHOWN || first_of_kind {
            out.push(e);
        }
    }
    out
}

/// A person's journal as they read it.
#[derive(Debug, Clone)]
pub struct VaultJournal {
    /// What changed who can open their papers (recoveries, secret changes,
    /// trustees, grants, shares, erasure attempts), newest first: kept in
    /// view whatever came after.
    pub kept_in_view: Vec<Entry>,
    /// The entries of the page (see the function that made it for their
    /// order).
    pub entries: Vec<Entry>,
    /// The cursor of the next (older) page, when there may be one.
    pub next_before: Option<u64>,
}

/// Most entries one page of a person's journal holds.
pub const JOURNAL_PAGE_MAX: usize = 10_000;

impl Vault {
    /// "Who looked at my papers": the journal entries of a vault (newest
    /// last), refused attempts included, and the security events kept in
    /// view. For the person only.
    pub async fn vault_journal(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        limit: usize,
    ) -> Result<VaultJournal> {
        let mut page = self
            .vault_journal_page(session, beneficiary, None, limit)
            .await?;
        page.entries.reverse();
        Ok(page)
    }

    /// A page of the person's journal, **newest first**: the `limit` entries
    /// (at most [`JOURNAL_PAGE_MAX`]) before entry `before`, and the cursor of
    /// the next page; the entries kept in view come with every page.
    pub async fn vault_journal_page(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<VaultJournal> {
        self.authorize(session, Action::ReadJournal, beneficiary, None, None)
            .await?;
        let journal = self.records().journal();
        let entries = |records: Vec<coffre_crypto::audit::Record>| {
            records.into_iter().map(|r| r.entry).collect::<Vec<_>>()
        };
        let limit = limit.clamp(1, JOURNAL_PAGE_MAX);
        let page = entries(journal.page_of_vault(beneficiary, before, limit)?);
        let next_before = (page.len() == limit)
            .then(|| page.last().map(|e| e.seq))
            .flatten();
        Ok(VaultJournal {
            kept_in_view: in_view(entries(
                journal.pinned_of_vault(beneficiary, PINNED_SCANNED)?,
            )),
            entries: page,
            next_before,
        })
    }

    /// Operator: journal entries `from..=to` with checkpoints and anchor,
    /// after signing a fresh checkpoint so the slice ends signed.
    pub async fn journal_slice(&self, from: u64, to: u64) -> Result<JournalSlice> {
        self.inner.journal.checkpoint().await?;
        journal::slice(self.records(), from, to, self.audit_verifying_key())
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
            exported_at_ms: self.now_ms(),
            documents: Vec::new(),
        };
        let read = self.records().read();
        let access = self.access();
        let mut keys = access.reader(session, read.grants().of_vault(beneficiary)?);
        for d in read.documents().of_vault(beneficiary)? {
            let Some((d, dek)) = self.fresh_listed_dek(&mut keys, d)? else {
                // Deleted while the export ran.
                continue;
            };
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
                path,
                document: info,
            });
        }
        zip.start_file("manifest.json", options).map_err(zip_err)?;
        let json = serde_json::to_vec_pretty(&manifest)?;
        zip.write_all(&json).map_err(io_err)?;
        zip.finish().map_err(zip_err)?;
        sink.emit(buffer.take()).await.map_err(io_err)?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::VaultExport)
                .vault(beneficiary)
                .detail(format!("{} documents", manifest.documents.len())),
        )
        .await?;
        Ok(manifest)
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
