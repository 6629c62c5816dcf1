//! Metadata backup (a consistent copy of every table and of the root key
//! ring file, as JSON Lines the caller encrypts) and restore (into an
//! empty data directory, all or nothing).

use std::io::{BufRead, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use coffre_crypto::PrincipalId;

use super::{BackupSummary, RootFile};
use crate::journal::{Event, NewEntry, Who};
use crate::records::keyfiles::restore_file;
use crate::records::{RestoreDb, SCHEMA_VERSION, Table};
use crate::{Result, Vault, VaultError};

/// The first line of every backup names this format.
pub const BACKUP_FORMAT: &str = "coffre-backup/2";

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
    Record {
        tree: String,
        k: String,
        v: String,
    },
    /// A person's key file (sealed under the root ring, as on disk): the
    /// backup keeps erased people's keys for as long as it is kept.
    PersonKey {
        id: PrincipalId,
        sealed: String,
    },
    End {
        records: u64,
    },
}

impl Vault {
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
            created_at_ms: self.now_ms(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            root_keys: B64.encode(file.read()?),
            root_identity_in_data_dir: file.identity_in_data_dir(),
        };
        let records = self.inner.records.clone();
        let created_at_ms = header.created_at_ms;
        let (count, documents, out) = tokio::task::spawn_blocking(move || -> Result<_> {
            let mut out = std::io::BufWriter::new(out);
            let io = |e: std::io::Error| VaultError::Db(format!("writing the backup: {e}"));
            let line = |l: &BackupLine, out: &mut std::io::BufWriter<W>| -> Result<()> {
                serde_json::to_writer(&mut *out, l)?;
                out.write_all(b"\n").map_err(io)
            };
            line(&BackupLine::Header(header), &mut out)?;
            let mut count = records.dump(|tree, k, v| {
                line(
                    &BackupLine::Record {
                        tree: tree.to_owned(),
                        k: B64.encode(k),
                        v: B64.encode(v),
                    },
                    &mut out,
                )
            })?;
            for (id, _) in records.persons().list()? {
                line(
                    &BackupLine::PersonKey {
                        id,
                        sealed: B64.encode(records.persons().sealed(id)?),
                    },
                    &mut out,
                )?;
                count += 1;
            }
            line(&BackupLine::End { records: count }, &mut out)?;
            let out = out
                .into_inner()
                .map_err(|e| VaultError::Db(format!("writing the backup: {}", e.error())))?;
            Ok((count, records.count(Table::Documents), out))
        })
        .await
        .map_err(|_| VaultError::Internal("backup task failed"))??;
        drop(_exclusive);
        self.journal(
            NewEntry::ok(Who::Operator, Event::MaintenanceBackup)
                .detail(format!("{count} records, {documents} documents")),
        )
        .await?;
        Ok((
            BackupSummary {
                records: count,
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
    let staging = dir.join(crate::datadir::RESTORE_STAGING);
    let marker = staging.join(STAGED);
    let summary = if marker.exists() {
        // A complete restore was interrupted while moving into place.
        let text = std::fs::read(&marker).map_err(io("read", &marker))?;
        serde_json::from_slice::<RestoreSummary>(&text)?
    } else {
        if keys.exists()
            || db_dir.exists()
            || dir.join(crate::datadir::PERSON_KEYS_DIR).exists()
            || dir.join(crate::datadir::JOURNAL_DIR).exists()
        {
            return Err(VaultError::Invalid(format!(
                "{} already holds a Coffre database, journal or root key file; restore into an empty directory",
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
    let staged_persons = staging.join(crate::datadir::PERSON_KEYS_DIR);
    let persons = dir.join(crate::datadir::PERSON_KEYS_DIR);
    if staged_persons.exists() {
        std::fs::rename(&staged_persons, &persons).map_err(io("move", &persons))?;
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
        _ => return Err(bad("no coffre-backup/2 header")),
    };
    if header.schema_version > SCHEMA_VERSION {
        return Err(bad("made by a newer Coffre; upgrade first"));
    }
    if header.schema_version < crate::records::OLDEST_READ {
        return Err(bad("made by a development build before any release"));
    }
    let root_keys = B64
        .decode(header.root_keys.as_bytes())
        .map_err(|_| bad("root key file"))?;
    let db = RestoreDb::create(&dir.join(crate::datadir::DB_DIR))?;
    let keys_dir = dir.join(crate::datadir::PERSON_KEYS_DIR);
    let mut records = 0u64;
    let mut ended = false;
    for line in lines {
        let line = line.map_err(|_| bad("damaged or truncated"))?;
        if ended {
            return Err(bad("lines after the end"));
        }
        match serde_json::from_str(&line).map_err(|_| bad("a line does not decode"))? {
            BackupLine::Record { tree, k, v } => {
                let k = B64.decode(k).map_err(|_| bad("a key does not decode"))?;
                let v = B64.decode(v).map_err(|_| bad("a value does not decode"))?;
                db.put(&tree, &k, &v)?;
                records += 1;
            }
            BackupLine::PersonKey { id, sealed } => {
                let sealed = B64
                    .decode(sealed)
                    .map_err(|_| bad("a key does not decode"))?;
                restore_file(&keys_dir, id, &sealed)?;
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
    db.flush()?;
    drop(db);
    crate::datadir::write_private(&dir.join(crate::datadir::ROOT_KEYS_FILE), &root_keys)?;
    Ok(RestoreSummary {
        records,
        created_at_ms: header.created_at_ms,
        root_identity_in_data_dir: header.root_identity_in_data_dir,
    })
}
