//! The audit journal: hash-chained entries, signed checkpoints, group commit.
//!
//! Appends go to one writer task. It takes every append waiting, chains and
//! writes them, signs a checkpoint every [`CHECKPOINT_EVERY`] entries, then
//! flushes the database once for the whole batch and only then answers each
//! caller. One fsync serves many operations; none is acknowledged before
//! its entry (and every metadata write made before it) is on disk.

mod coalesce;
mod event;

use std::sync::Arc;

use coffre_crypto::audit::{
    Anchor, AuditSigningKey, AuditVerifyingKey, ChainHash, Checkpoint, Entry, Record,
};
use coffre_crypto::{DocumentId, PrincipalId};
use tokio::sync::{mpsc, oneshot};

pub(crate) use coalesce::{Admit, Coalescer};
pub use event::{DownloadFailure, Event, Outcome, Who};

use crate::clock::Clock;
use crate::records::{Appended, Records};
use crate::{Result, VaultError};

/// A checkpoint is signed after this many entries (and on demand).
pub const CHECKPOINT_EVERY: u64 = 256;
/// Most entries one batch takes.
const MAX_BATCH: usize = 4096;

/// An entry to append (sequence number and time are the journal's).
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub actor: Who,
    pub event: Event,
    pub outcome: Outcome,
    pub beneficiary: Option<PrincipalId>,
    pub document: Option<DocumentId>,
    pub detail: Option<String>,
}

impl NewEntry {
    pub fn new(actor: Who, event: Event, outcome: Outcome) -> Self {
        Self {
            actor,
            event,
            outcome,
            beneficiary: None,
            document: None,
            detail: None,
        }
    }
    /// An action that succeeded.
    pub fn ok(actor: Who, event: Event) -> Self {
        Self::new(actor, event, Outcome::Ok)
    }
    /// An action that was refused.
    pub fn denied(actor: Who, event: Event) -> Self {
        Self::new(actor, event, Outcome::Denied)
    }
    /// Filed under a vault: the person sees it in their journal.
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
    records: Arc<Records>,
    key: AuditSigningKey,
    clock: Clock,
    next_seq: u64,
    head: ChainHash,
    unsigned: u64,
    /// The derived files' background sync, while it runs.
    watermark: Option<tokio::task::JoinHandle<()>>,
}

fn stopped() -> VaultError {
    VaultError::Internal("journal writer stopped")
}

impl Journal {
    pub fn start(records: Arc<Records>, key: AuditSigningKey, clock: Clock) -> Result<Self> {
        let store = records.journal();
        let (next_seq, head) = match store.last()? {
            Some(r) => (r.entry.seq + 1, r.hash),
            None => (1, ChainHash::GENESIS),
        };
        let last_cp = store.last_checkpoint()?.map_or(0, |c| c.seq);
        let verifying = key.verifying_key();
        let (tx, rx) = mpsc::channel(8192);
        let writer = Writer {
            records,
            key,
            clock,
            next_seq,
            head,
            unsigned: (next_seq - 1).saturating_sub(last_cp),
            watermark: None,
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
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Returns once every metadata write made before the call is durable.
    /// All flushes go through the writer: one fsync serves every caller
    /// waiting at that moment.
    pub async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Sync(tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Signs a checkpoint over the head now (on shutdown, before an export).
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Checkpoint(tx))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

fn db_err(e: &VaultError) -> VaultError {
    VaultError::Db(e.to_string())
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
            // Undone if the batch does not reach the disk.
            let before = (self.next_seq, self.head, self.unsigned);
            let mut appended = Vec::new();
            let mut lines = Vec::new();
            let mut signed = Vec::new();
            let mut checkpoints = Vec::new();
            let mut syncs = Vec::new();
            for m in batch {
                match m {
                    Msg::Append(e, done) => {
                        let (line, cp) = self.write(e);
                        appended.push((line.record.entry.seq, done));
                        lines.push(line);
                        signed.extend(cp);
                    }
                    Msg::Checkpoint(done) => checkpoints.push(done),
                    Msg::Sync(done) => syncs.push(done),
                }
            }
            let forced = if checkpoints.is_empty() || self.unsigned == 0 {
                None
            } else {
                let c = self.sign();
                signed.push(c.clone());
                Some(c)
            };
            // The database first, then the journal's lines: an entry on disk
            // always has the changes made before it on disk too (the other
            // way, a power cut could keep a "revoked" entry and lose the
            // revocation). Nobody hears back before both are durable.
            let flushed = match self.records.flush().await {
                Ok(()) => {
                    let records = self.records.clone();
                    tokio::task::spawn_blocking(move || records.journal().commit(&lines, &signed))
                        .await
                        .unwrap_or(Err(VaultError::Internal("journal write task failed")))
                }
                Err(e) => Err(e),
            };
            let flushed = match flushed {
                Ok(due) => {
                    let end = self.next_seq - 1;
                    // Noted for the next flush: the database then knows how
                    // far the journal reached, and a lost journal directory
                    // is refused instead of started afresh.
                    if let Err(e) = self.records.note_journal_head(end) {
                        tracing::error!(error = %e, "noting the journal's head failed");
                    }
                    if due {
                        self.advance_watermark();
                    }
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit journal append failed");
                    // Whatever reached the files is where the chain goes on.
                    if let Err(e) = self.resync() {
                        tracing::error!(error = %e, "the journal writer cannot read the journal back");
                        (self.next_seq, self.head, self.unsigned) = before;
                    }
                    Err(e)
                }
            };
            for (seq, done) in appended {
                let _ = done.send(flushed.as_ref().map(|()| seq).map_err(db_err));
            }
            for done in syncs {
                let _ = done.send(flushed.as_ref().map(|_| ()).map_err(db_err));
            }
            for done in checkpoints {
                let _ = done.send(match &flushed {
                    Ok(()) => Ok(forced.clone()),
                    Err(e) => Err(db_err(e)),
                });
            }
        }
    }

    /// Starts the derived files' sync in the background, unless one runs.
    fn advance_watermark(&mut self) {
        if self.watermark.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let records = self.records.clone();
        self.watermark = Some(tokio::task::spawn_blocking(move || {
            if let Err(e) = records.journal().advance_watermark() {
                // Only more to re-derive at the next start.
                tracing::warn!(error = %e, "the journal's indexes were not synced");
            }
        }));
    }

    /// The chain's state as the journal's files hold it.
    fn resync(&mut self) -> Result<()> {
        let store = self.records.journal();
        let (next_seq, head) = match store.last()? {
            Some(r) => (r.entry.seq + 1, r.hash),
            None => (1, ChainHash::GENESIS),
        };
        let signed = store.last_checkpoint()?.map_or(0, |c| c.seq);
        self.next_seq = next_seq;
        self.head = head;
        self.unsigned = (next_seq - 1).saturating_sub(signed);
        Ok(())
    }

    /// The next entry, chained (and the checkpoint it calls for).
    fn write(&mut self, e: NewEntry) -> (Appended, Option<Checkpoint>) {
        let entry = Entry {
            seq: self.next_seq,
            time_ms: self.clock.now_ms(),
            actor: e.actor.to_string(),
            action: e.event.code().to_owned(),
            outcome: e.outcome.code().to_owned(),
            beneficiary: e.beneficiary.map(|b| b.to_string()),
            document: e.document.map(|d| d.to_string()),
            detail: e.detail,
        };
        let hash = self.head.next(&entry);
        self.head = hash;
        self.next_seq += 1;
        self.unsigned += 1;
        let line = Appended {
            record: Record { entry, hash },
            vault: e.beneficiary,
            pinned: e.beneficiary.is_some() && e.event.kept_in_view(e.outcome),
        };
        let cp = (self.unsigned >= CHECKPOINT_EVERY).then(|| self.sign());
        (line, cp)
    }

    fn sign(&mut self) -> Checkpoint {
        let seq = self.next_seq - 1;
        let c = self.key.checkpoint(seq, self.head, self.clock.now_ms());
        self.unsigned = 0;
        c
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

/// Entries `from..=to` (by sequence number) with the checkpoints among them
/// and the anchor before them.
pub(crate) fn slice(
    records: &Records,
    from: u64,
    to: u64,
    verifying_key: AuditVerifyingKey,
) -> Result<JournalSlice> {
    let store = records.journal();
    let from = from.max(1);
    let anchor = if from == 1 {
        Anchor::GENESIS
    } else {
        let prev = store
            .record(from - 1)?
            .ok_or(VaultError::Invalid("range starts past the journal".into()))?;
        Anchor {
            prev_hash: prev.hash,
            next_seq: from,
        }
    };
    Ok(JournalSlice {
        anchor,
        records: store.range(from, to)?,
        checkpoints: store.checkpoints_in(from, to)?,
        verifying_key,
    })
}
