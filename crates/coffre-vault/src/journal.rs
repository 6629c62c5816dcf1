//! The audit journal: hash-chained entries, signed checkpoints, group commit.
//!
//! Appends go to one writer task. It takes every append waiting, chains and
//! writes them, signs a checkpoint every [`CHECKPOINT_EVERY`] entries, then
//! flushes sled once for the whole batch and only then answers each caller.
//! One fsync serves many operations; none is acknowledged before its entry
//! (and every metadata write made before it) is on disk.

use std::sync::Arc;

use coffre_crypto::audit::{
    Anchor, AuditSigningKey, AuditVerifyingKey, ChainHash, Checkpoint, Entry, Record,
};
use coffre_crypto::{DocumentId, PrincipalId};
use tokio::sync::{mpsc, oneshot};

use crate::db::{self, Db};
use crate::{Result, VaultError, now_ms};

pub const CHECKPOINT_EVERY: u64 = 256;
/// Most entries one batch takes.
const MAX_BATCH: usize = 4096;

/// An entry to append (sequence number and time are the journal's).
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: String,
    pub action: &'static str,
    pub outcome: &'static str,
    pub beneficiary: Option<PrincipalId>,
    pub document: Option<DocumentId>,
    pub detail: Option<String>,
}

impl NewEntry {
    pub fn new(actor: impl Into<String>, action: &'static str, outcome: &'static str) -> Self {
        Self {
            actor: actor.into(),
            action,
            outcome,
            beneficiary: None,
            document: None,
            detail: None,
        }
    }
    pub fn vault(mut self, b: PrincipalId) -> Self {
        self.beneficiary = Some(b);
        self
    }
    pub fn doc(mut self, d: DocumentId) -> Self {
        self.document = Some(d);
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

enum Msg {
    Append(NewEntry, oneshot::Sender<Result<u64>>),
    Checkpoint(oneshot::Sender<Result<Option<Checkpoint>>>),
    /// Make every write so far durable (no entry).
    Sync(oneshot::Sender<Result<()>>),
}

#[derive(Clone)]
pub(crate) struct Journal {
    tx: mpsc::Sender<Msg>,
    verifying: AuditVerifyingKey,
}

struct Writer {
    db: Arc<Db>,
    key: AuditSigningKey,
    next_seq: u64,
    head: ChainHash,
    unsigned: u64,
}

impl Journal {
    pub fn start(db: Arc<Db>, key: AuditSigningKey) -> Result<Self> {
        let (next_seq, head) = match db.audit.last()? {
            Some((_, v)) => {
                let r: Record = serde_json::from_slice(&v)?;
                (r.entry.seq + 1, r.hash)
            }
            None => (1, ChainHash::GENESIS),
        };
        let last_cp = match db.checkpoints.last()? {
            Some((_, v)) => serde_json::from_slice::<Checkpoint>(&v)?.seq,
            None => 0,
        };
        let verifying = key.verifying_key();
        let (tx, rx) = mpsc::channel(8192);
        let writer = Writer {
            db,
            key,
            next_seq,
            head,
            unsigned: (next_seq - 1).saturating_sub(last_cp),
        };
        tokio::spawn(writer.run(rx));
        Ok(Self { tx, verifying })
    }

    pub fn verifying_key(&self) -> AuditVerifyingKey {
        self.verifying
    }

    /// Appends and returns once the entry is durable.
    pub async fn append(&self, e: NewEntry) -> Result<u64> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Append(e, tx))
            .await
            .map_err(|_| VaultError::Internal("journal writer stopped"))?;
        rx.await
            .map_err(|_| VaultError::Internal("journal writer stopped"))?
    }

    /// Returns once every metadata write made before the call is durable.
    /// All flushes go through the writer: one fsync serves every caller
    /// waiting at that moment (and sled's own flush is not called from many
    /// tasks at once).
    pub async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Sync(tx))
            .await
            .map_err(|_| VaultError::Internal("journal writer stopped"))?;
        rx.await
            .map_err(|_| VaultError::Internal("journal writer stopped"))?
    }

    /// Signs a checkpoint over the head now (on shutdown, before an export).
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Checkpoint(tx))
            .await
            .map_err(|_| VaultError::Internal("journal writer stopped"))?;
        rx.await
            .map_err(|_| VaultError::Internal("journal writer stopped"))?
    }
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let mut appended = Vec::new();
            let mut checkpoints = Vec::new();
            let mut syncs = Vec::new();
            let mut failed: Option<String> = None;
            for m in batch {
                match m {
                    Msg::Append(e, done) => match self.write(e) {
                        Ok(seq) => appended.push((seq, done)),
                        Err(err) => {
                            failed.get_or_insert_with(|| err.to_string());
                            let _ = done.send(Err(err));
                        }
                    },
                    Msg::Checkpoint(done) => checkpoints.push(done),
                    Msg::Sync(done) => syncs.push(done),
                }
            }
            let forced = if checkpoints.is_empty() || self.unsigned == 0 {
                Ok(None)
            } else {
                self.sign().map(Some)
            };
            let flushed = self.db.flush().await;
            for (seq, done) in appended {
                let _ = done.send(match &flushed {
                    Ok(()) => Ok(seq),
                    Err(e) => Err(VaultError::Db(e.to_string())),
                });
            }
            for done in syncs {
                let _ = done.send(
                    flushed
                        .as_ref()
                        .map(|_| ())
                        .map_err(|e| VaultError::Db(e.to_string())),
                );
            }
            for done in checkpoints {
                let _ = done.send(match (&flushed, &forced) {
                    (Ok(()), Ok(c)) => Ok(c.clone()),
                    (Err(e), _) => Err(VaultError::Db(e.to_string())),
                    (_, Err(e)) => Err(VaultError::Db(e.to_string())),
                });
            }
            if let Some(f) = failed {
                tracing::error!(error = %f, "audit journal append failed");
            }
        }
    }

    fn write(&mut self, e: NewEntry) -> Result<u64> {
        let entry = Entry {
            seq: self.next_seq,
            time_ms: now_ms(),
            actor: e.actor,
            action: e.action.to_owned(),
            outcome: e.outcome.to_owned(),
            beneficiary: e.beneficiary.map(|b| b.to_string()),
            document: e.document.map(|d| d.to_string()),
            detail: e.detail,
        };
        let hash = self.head.next(&entry);
        let seq = entry.seq;
        db::put(&self.db.audit, seq.to_be_bytes(), &Record { entry, hash })?;
        if let Some(b) = e.beneficiary {
            self.db
                .audit_by_vault
                .insert(db::key(&[b.as_bytes(), &seq.to_be_bytes()]), &[])?;
        }
        self.head = hash;
        self.next_seq += 1;
        self.unsigned += 1;
        if self.unsigned >= CHECKPOINT_EVERY {
            self.sign()?;
        }
        Ok(seq)
    }

    fn sign(&mut self) -> Result<Checkpoint> {
        let seq = self.next_seq - 1;
        let c = self.key.checkpoint(seq, self.head, now_ms());
        db::put(&self.db.checkpoints, seq.to_be_bytes(), &c)?;
        self.unsigned = 0;
        Ok(c)
    }
}

/// The journal slice an export carries: anchor, records, checkpoints.
#[derive(Debug)]
pub struct JournalSlice {
    pub anchor: Anchor,
    pub records: Vec<Record>,
    pub checkpoints: Vec<Checkpoint>,
    pub verifying_key: AuditVerifyingKey,
}

pub(crate) fn vault_entries(db: &Db, beneficiary: PrincipalId, limit: usize) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for k in db
        .audit_by_vault
        .scan_prefix(beneficiary.as_bytes())
        .keys()
        .rev()
    {
        let k = k?;
        let seq = &k[16..];
        if let Some(r) = db::get::<Record>(&db.audit, seq)? {
            out.push(r.entry);
        }
        if out.len() >= limit {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

/// Entries `from..=to` (by sequence number) with the checkpoints among them
/// and the anchor before them.
pub(crate) fn slice(
    db: &Db,
    from: u64,
    to: u64,
    verifying_key: AuditVerifyingKey,
) -> Result<JournalSlice> {
    let from = from.max(1);
    let anchor = if from == 1 {
        Anchor::GENESIS
    } else {
        let prev: Record = db::get(&db.audit, (from - 1).to_be_bytes())?
            .ok_or(VaultError::Invalid("range starts past the journal".into()))?;
        Anchor {
            prev_hash: prev.hash,
            next_seq: from,
        }
    };
    let mut records = Vec::new();
    for kv in db.audit.range(from.to_be_bytes()..=to.to_be_bytes()) {
        let (_, v) = kv?;
        records.push(serde_json::from_slice(&v)?);
    }
    let mut checkpoints = Vec::new();
    for kv in db.checkpoints.range(from.to_be_bytes()..=to.to_be_bytes()) {
        let (_, v) = kv?;
        checkpoints.push(serde_json::from_slice(&v)?);
    }
    Ok(JournalSlice {
        anchor,
        records,
        checkpoints,
        verifying_key,
    })
}
