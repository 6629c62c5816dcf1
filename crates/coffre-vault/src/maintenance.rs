//! The operator's maintenance: scrub (are the stored objects still what was
//! written?), root key rotation, and metadata backup and restore.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffre_crypto::DocumentId;
use coffre_crypto::audit::AuditSigningKey;
use coffre_crypto::object::{HEADER_LEN, ObjectHeader};
use coffre_crypto::root::{BlindIndexKey, RootKeyRing};
use coffre_crypto::wrap::{self, Binding};
use coffre_store::{ObjectKey, StoreError};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::db::{self, SCHEMA_VERSION};
use crate::journal::NewEntry;
use crate::model::{BeneficiaryRecord, CaseworkerRecord, DocumentRecord};
use crate::vault::{BLIND_KEY, SIGNING_KEY, name_binding};
use crate::{Result, Vault, VaultError, now_ms};

/// Objects younger than this are not called orphans by a scrub: an upload
/// writes its object before committing its record.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);
/// Most problems a scrub journals one by one (the summary counts them all).
const MAX_JOURNALED_PROBLEMS: usize = 1000;

/// A document whose stored object is not what was written.
#[derive(Debug, Clone, Serialize)]
pub struct ScrubProblem {
    pub document_id: DocumentId,
    pub beneficiary_id: coffre_crypto::PrincipalId,
    pub reason: &'static str,
}

/// What a scrub found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ScrubReport {
    pub checked: u64,
    pub bytes: u64,
    pub missing: Vec<ScrubProblem>,
    pub corrupt: Vec<ScrubProblem>,
    /// Objects no document record points at (older than an hour).
    pub orphans: Vec<String>,
}

impl ScrubReport {
    pub fn healthy(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty()
    }
}

/// The last scrub's counts, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ScrubSummary {
    pub finished_ms: i64,
    pub checked: u64,
    pub missing: u64,
    pub corrupt: u64,
    pub orphans: u64,
}

/// What a root rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    pub version: u32,
    pub retired: Vec<u32>,
    pub resealed: u64,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub records: u64,
    pub documents: u64,
    pub created_at_ms: i64,
}

pub const BACKUP_FORMAT: &str = "coffre-backup/1";

#[derive(Serialize, Deserialize)]
struct BackupHeader {
    format: String,
    schema_version: u32,
    created_at_ms: i64,
    server_version: String,
    /// The root key ring file as it was (still encrypted to the root
    /// identity or passphrase).
    root_keys: String,
    /// True when the root identity file lived in the data directory.
    root_identity_in_data_dir: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BackupLine {
    Header(BackupHeader),
    Record { tree: String, k: String, v: String },
    End { records: u64 },
}

/// What the root key ring file looks like, as the caller keeps it.
pub trait RootFile: Send + Sync {
    /// Writes the ring durably (the old file stays until the new one is whole).
    fn save(&self, ring: &RootKeyRing) -> Result<()>;
    /// The file's current bytes.
    fn read(&self) -> Result<Vec<u8>>;
    /// True when the identity that opens it lives in the data directory.
    fn identity_in_data_dir(&self) -> bool;
}

impl Vault {
    /// Reads every stored object and checks it against what was recorded at
    /// upload: size, SHA-256 of the ciphertext, clear header. `progress` is
    /// called with (done, total) documents. Journals the outcome, and one
    /// entry per damaged document under its vault.
    pub async fn scrub(&self, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<ScrubReport> {
        let mut report = ScrubReport::default();
        let mut records = Vec::new();
        for v in self.db().documents.iter().values() {
            records.push(serde_json::from_slice::<DocumentRecord>(&v?)?);
        }
        let total = records.len() as u64;
        for d in records {
            let problem = self.check_object(&d).await?;
            report.checked += 1;
            report.bytes += d.stored_size;
            progress(report.checked, total);
            let Some((missing, reason)) = problem else {
                continue;
            };
            // Deleted or replaced while we read: not a problem.
            let current = db::get::<DocumentRecord>(&self.db().documents, d.id.as_bytes())?;
            if current.is_none_or(|c| c.version != d.version) {
                continue;
            }
            let p = ScrubProblem {
                document_id: d.id,
                beneficiary_id: d.beneficiary,
                reason,
            };
            if missing {
                report.missing.push(p);
            } else {
                report.corrupt.push(p);
            }
        }
        report.orphans = self
            .orphans(ORPHAN_GRACE)
            .await?
            .1
            .iter()
            .map(ToString::to_string)
            .collect();
        for (p, what) in report
            .missing
            .iter()
            .map(|p| (p, "missing"))
            .chain(report.corrupt.iter().map(|p| (p, "corrupt")))
            .take(MAX_JOURNALED_PROBLEMS)
        {
            self.journal(
                NewEntry::new("operator", "maintenance.scrub", "failed")
                    .vault(p.beneficiary_id)
                    .doc(p.document_id)
                    .detail(format!("stored object {what}: {}", p.reason)),
            )
            .await?;
        }
        self.journal(
            NewEntry::new(
                "operator",
                "maintenance.scrub",
                if report.healthy() { "ok" } else { "failed" },
            )
            .detail(format!(
                "{} checked, {} missing, {} corrupt, {} orphans",
                report.checked,
                report.missing.len(),
                report.corrupt.len(),
                report.orphans.len()
            )),
        )
        .await?;
        *self
            .inner
            .scrubbed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ScrubSummary {
            finished_ms: now_ms(),
            checked: report.checked,
            missing: report.missing.len() as u64,
            corrupt: report.corrupt.len() as u64,
            orphans: report.orphans.len() as u64,
        });
        Ok(report)
    }

    /// The last scrub's counts (none before the first scrub since start).
    pub fn last_scrub(&self) -> Option<ScrubSummary> {
        *self
            .inner
            .scrubbed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `None` when the object is whole; `Some((missing, reason))` otherwise.
    /// A store that does not answer is an error, not a finding.
    async fn check_object(&self, d: &DocumentRecord) -> Result<Option<(bool, &'static str)>> {
        let key = ObjectKey::document(d.id, d.version);
        let body = match self.inner.store.get(&key).await {
            Ok(b) => b,
            Err(StoreError::NotFound { .. }) => return Ok(Some((true, "object not found"))),
            Err(e) => return Err(e.into()),
        };
        let mut stream = body.stream;
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let mut head = Vec::with_capacity(HEADER_LEN);
        let mut len = 0u64;
        while let Some(piece) = stream.next().await {
            let piece = piece?;
            if head.len() < HEADER_LEN {
                let take = (HEADER_LEN - head.len()).min(piece.len());
                head.extend_from_slice(&piece[..take]);
            }
            len += piece.len() as u64;
            hash.update(&piece);
        }
        if len != d.stored_size {
            return Ok(Some((false, "size differs from the one recorded")));
        }
        match ObjectHeader::parse(&head) {
            Ok(h) if h == ObjectHeader::new(d.id, d.version) => {}
            _ => return Ok(Some((false, "header does not name this document"))),
        }
        if hex::encode(hash.finish()) != d.stored_sha256 {
            return Ok(Some((false, "SHA-256 differs from the one recorded")));
        }
        Ok(None)
    }

    /// Adds a root key version, re-seals every outer seal and server secret
    /// under it, then retires the older versions. The ring file always holds
    /// every version a stored seal needs: the new ring is saved before
    /// anything is sealed with it, and old versions are dropped from the file
    /// only once nothing sealed with them remains. Interrupted, it is simply
    /// run again.
    pub async fn rotate_root(&self, file: &dyn RootFile) -> Result<RotationReport> {
        let _exclusive = self.inner.gate.write().await;
        let next = self.inner.root().rotated()?;
        file.save(&next)?;
        self.inner.set_root(next);
        let root = self.inner.root();
        let version = root.current_version();
        let resealed = self.reseal_all(&root)?;
        self.inner.journal.sync().await?;
        let stale = self.count_stale_seals(version)?;
        if stale > 0 {
            return Err(VaultError::Db(format!(
                "{stale} seals still use an old root version; old versions kept, run the rotation again"
            )));
        }
        let last = root.current_only();
        let retired: Vec<u32> = root
            .versions()
            .into_iter()
            .filter(|v| *v != version)
            .collect();
        file.save(&last)?;
        self.inner.set_root(last);
        drop(_exclusive);
        self.journal(
            NewEntry::new("operator", "maintenance.root_rotation", "ok").detail(format!(
                "version {version}, {resealed} seals, retired {retired:?}"
            )),
        )
        .await?;
        Ok(RotationReport {
            version,
            retired,
            resealed,
        })
    }

    fn reseal_all(&self, root: &RootKeyRing) -> Result<u64> {
        let db = self.db();
        let mut n = 0u64;
        for kv in db.caseworkers.iter() {
            let (k, v) = kv?;
            let mut cw: CaseworkerRecord = serde_json::from_slice(&v)?;
            if cw.sealed_identity.is_empty() {
                continue;
            }
            cw.sealed_identity = wrap::reseal_identity(
                &cw.sealed_identity,
                &Binding::principal_identity(cw.id),
                root,
            )?;
            db::put(&db.caseworkers, k, &cw)?;
            n += 1;
        }
        for kv in db.beneficiaries.iter() {
            let (k, v) = kv?;
            let mut b: BeneficiaryRecord = serde_json::from_slice(&v)?;
            b.sealed_identity = wrap::reseal_identity(
                &b.sealed_identity,
                &Binding::principal_identity(b.id),
                root,
            )?;
            b.sealed_name = root.reseal(&b.sealed_name, &name_binding(b.id))?;
            db::put(&db.beneficiaries, k, &b)?;
            n += 2;
        }
        if let Some(s) = db.meta.get(SIGNING_KEY)? {
            db.meta
                .insert(SIGNING_KEY, AuditSigningKey::reseal(&s, root)?)?;
            n += 1;
        }
        if let Some(s) = db.meta.get(BLIND_KEY)? {
            db.meta
                .insert(BLIND_KEY, BlindIndexKey::reseal(&s, root)?)?;
            n += 1;
        }
        // In memory only, but it must keep opening its outer layer.
        let mut decoy = self
            .inner
            .decoy
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *decoy = wrap::reseal_identity(
            &decoy,
            &Binding::principal_identity(self.inner.decoy_id),
            root,
        )?;
        Ok(n)
    }

    fn count_stale_seals(&self, version: u32) -> Result<u64> {
        let db = self.db();
        let stale = |s: &[u8]| RootKeyRing::sealed_version(s).map_or(true, |v| v != version);
        let mut n = 0;
        for v in db.caseworkers.iter().values() {
            let cw: CaseworkerRecord = serde_json::from_slice(&v?)?;
            n += u64::from(!cw.sealed_identity.is_empty() && stale(&cw.sealed_identity));
        }
        for v in db.beneficiaries.iter().values() {
            let b: BeneficiaryRecord = serde_json::from_slice(&v?)?;
            n += u64::from(stale(&b.sealed_identity)) + u64::from(stale(&b.sealed_name));
        }
        for k in [SIGNING_KEY, BLIND_KEY] {
            if let Some(s) = db.meta.get(k)? {
                n += u64::from(stale(&s));
            }
        }
        Ok(n)
    }

    /// Writes a consistent copy of all metadata and of the root key ring
    /// file to `out` (JSON Lines; the caller encrypts). Operations that write
    /// metadata wait while the copy is made; reads and downloads go on.
    pub async fn backup<W: Write + Send + 'static>(
        &self,
        out: W,
        file: &dyn RootFile,
    ) -> Result<(BackupSummary, W)> {
        let _exclusive = self.inner.gate.write().await;
        // Entries journaled so far are on disk and signed.
        self.inner.journal.checkpoint().await?;
        let header = BackupHeader {
            format: BACKUP_FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            created_at_ms: now_ms(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            root_keys: B64.encode(file.read()?),
            root_identity_in_data_dir: file.identity_in_data_dir(),
        };
        let db = self.inner.db.clone();
        let created_at_ms = header.created_at_ms;
        let (records, documents, out) = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut out = std::io::BufWriter::new(out);
            let io = |e: std::io::Error| VaultError::Db(format!("writing the backup: {e}"));
            let line = |l: &BackupLine, out: &mut std::io::BufWriter<W>| -> Result<()> {
                serde_json::to_writer(&mut *out, l)?;
                out.write_all(b"\n").map_err(io)
            };
            line(&BackupLine::Header(header), &mut out)?;
            let mut records = 0u64;
            // The journal is written by its own task, also during a backup:
            // checkpoints first, then entries, then the per-vault index, so
            // that every checkpoint copied names an entry copied too.
            let mut trees = db.trees_for_backup();
            trees.sort_by_key(|(name, _)| match name.as_str() {
                "checkpoints" => 1,
                "audit" => 2,
                "audit_by_vault" => 3,
                _ => 0,
            });
            for (name, tree) in trees {
                for kv in tree.iter() {
                    let (k, v) = kv?;
                    line(
                        &BackupLine::Record {
                            tree: name.clone(),
                            k: B64.encode(k),
                            v: B64.encode(v),
                        },
                        &mut out,
                    )?;
                    records += 1;
                }
            }
            line(&BackupLine::End { records }, &mut out)?;
            let out = out
                .into_inner()
                .map_err(|e| VaultError::Db(format!("writing the backup: {}", e.error())))?;
            Ok((records, db.documents.len() as u64, out))
        })
        .await
        .map_err(|_| VaultError::Internal("backup task failed"))??;
        drop(_exclusive);
        self.journal(
            NewEntry::new("operator", "maintenance.backup", "ok")
                .detail(format!("{records} records, {documents} documents")),
        )
        .await?;
        Ok((
            BackupSummary {
                records,
                documents,
                created_at_ms,
            },
            out,
        ))
    }
}

/// What a restore wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestoreSummary {
    pub records: u64,
    pub created_at_ms: i64,
    pub root_identity_in_data_dir: bool,
}

/// Where a restore stages its work, in the target data directory.
pub const RESTORE_STAGING: &str = "restore.partial";
/// Written in the staging directory once everything in it is complete.
const STAGED: &str = "complete.json";

/// Restores a backup (its decrypted JSON Lines) into a data directory that
/// holds no database and no root key file yet. Everything is written in a
/// staging directory first, marked complete, then moved into place
/// (database, then root key file). Interrupted before the mark, the next
/// restore starts over; after it, the next restore (with any backup file)
/// finishes the moves. `datadir::open_or_init` refuses to start on a data
/// directory with a staging directory or with a database but no key file.
pub fn restore(input: impl BufRead, dir: &Path) -> Result<RestoreSummary> {
    let io = |what: &'static str, p: &Path| {
        let p = p.display().to_string();
        move |e: std::io::Error| VaultError::Db(format!("{what} {p}: {e}"))
    };
    let db_dir = dir.join(crate::datadir::DB_DIR);
    let keys = dir.join(crate::datadir::ROOT_KEYS_FILE);
    let staging = dir.join(RESTORE_STAGING);
    let marker = staging.join(STAGED);
    let summary = if marker.exists() {
        // A complete restore was interrupted while moving into place.
        let text = std::fs::read(&marker).map_err(io("read", &marker))?;
        serde_json::from_slice::<RestoreSummary>(&text)?
    } else {
        if keys.exists() || db_dir.exists() {
            return Err(VaultError::Invalid(format!(
                "{} already holds a Coffre database or root key file; restore into an empty directory",
                dir.display()
            )));
        }
        if staging.exists() {
            // Left by a restore interrupted before it was complete.
            std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;
        let summary = match restore_into(input, &staging) {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        crate::datadir::write_private(&marker, &serde_json::to_vec(&summary)?)?;
        summary
    };
    let staged_db = staging.join(crate::datadir::DB_DIR);
    if staged_db.exists() {
        std::fs::rename(&staged_db, &db_dir).map_err(io("move", &db_dir))?;
    }
    let staged_keys = staging.join(crate::datadir::ROOT_KEYS_FILE);
    if staged_keys.exists() {
        std::fs::rename(&staged_keys, &keys).map_err(io("move", &keys))?;
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))?;
    std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
    Ok(summary)
}

fn restore_into(input: impl BufRead, dir: &Path) -> Result<RestoreSummary> {
    let bad = |what: &str| VaultError::Invalid(format!("not a usable Coffre backup: {what}"));
    let mut lines = input.lines();
    let first = lines
        .next()
        .ok_or_else(|| bad("empty"))?
        .map_err(|_| bad("unreadable (wrong identity, or damaged)"))?;
    let header = match serde_json::from_str(&first) {
        Ok(BackupLine::Header(h)) if h.format == BACKUP_FORMAT => h,
        _ => return Err(bad("no coffre-backup/1 header")),
    };
    if header.schema_version > SCHEMA_VERSION {
        return Err(bad("made by a newer Coffre; upgrade first"));
    }
    let root_keys = B64
        .decode(header.root_keys.as_bytes())
        .map_err(|_| bad("root key file"))?;
    let db = db::Db::open(&dir.join(crate::datadir::DB_DIR))?;
    let trees = db.trees_for_backup();
    let mut records = 0u64;
    let mut ended = false;
    for line in lines {
        let line = line.map_err(|_| bad("damaged or truncated"))?;
        if ended {
            return Err(bad("lines after the end"));
        }
        match serde_json::from_str(&line).map_err(|_| bad("a line does not decode"))? {
            BackupLine::Record { tree, k, v } => {
                let t = trees
                    .iter()
                    .find(|(name, _)| *name == tree)
                    .ok_or_else(|| bad("unknown table"))?;
                let k = B64.decode(k).map_err(|_| bad("a key does not decode"))?;
                let v = B64.decode(v).map_err(|_| bad("a value does not decode"))?;
                t.1.insert(k, v)?;
                records += 1;
            }
            BackupLine::End { records: n } if n == records => ended = true,
            BackupLine::End { .. } => return Err(bad("record count differs from the end line")),
            BackupLine::Header(_) => return Err(bad("a second header")),
        }
    }
    if !ended {
        return Err(bad("truncated (no end line)"));
    }
    db.db.flush()?;
    drop(db);
    crate::datadir::write_private(&dir.join(crate::datadir::ROOT_KEYS_FILE), &root_keys)?;
    Ok(RestoreSummary {
        records,
        created_at_ms: header.created_at_ms,
        root_identity_in_data_dir: header.root_identity_in_data_dir,
    })
}
