//! The journal as an auditor receives it (`coffre audit export`): a range
//! of sequence numbers that ends on a signed checkpoint, read page by page
//! so the server never holds a whole journal in memory.

use coffre_crypto::PrincipalId;
use coffre_crypto::audit::export::{Line, Position};
use coffre_crypto::audit::{Anchor, AuditVerifyingKey, Checkpoint};
use serde::{Deserialize, Serialize};

use crate::journal::{Event, NewEntry, Who};
use crate::{Result, Vault, VaultError};

/// Most lines in one page.
pub const MAX_PAGE: usize = 5000;

/// The part of the journal an export covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRange {
    pub from_seq: u64,
    pub to_seq: u64,
    pub anchor: Anchor,
    /// The signed checkpoint the export starts after (none from entry 1).
    pub anchor_checkpoint: Option<Checkpoint>,
    /// The last exported entry and its chain hash (signed): what the auditor
    /// pins with `audit verify --head`.
    pub end: Position,
    pub journal_head: Position,
    pub verifying_key: AuditVerifyingKey,
}

impl Vault {
    /// The entries journaled between `since_ms` and `until_ms` (both
    /// optional, inclusive), widened at both ends to signed checkpoints: the
    /// start to just after the checkpoint before it (so the export's anchor
    /// is signed), the end to the next checkpoint (so every entry is signed).
    /// Signs a checkpoint over the head first, and journals the export
    /// (under the person's vault when it is for one person).
    pub async fn audit_range(
        &self,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        beneficiary: Option<PrincipalId>,
    ) -> Result<AuditRange> {
        let mut entry = NewEntry::ok(Who::Operator, Event::MaintenanceAuditExport);
        if let Some(b) = beneficiary {
            entry = entry.vault(b);
        }
        self.journal(entry).await?;
        // The export ends at or before this checkpoint: entries journaled
        // meanwhile are for the next export.
        self.inner.journal.checkpoint().await?;
        let store = self.records().journal();
        let signed: Checkpoint = store
            .last_checkpoint()?
            .ok_or_else(|| VaultError::Invalid("the journal is empty".into()))?;
        let from = store
            .first_where(|r| since_ms.is_none_or(|s| r.entry.time_ms >= s))?
            .map(|r| r.entry.seq);
        let to = store
            .last_where(signed.seq, |r| {
                until_ms.is_none_or(|u| r.entry.time_ms <= u)
            })?
            .map(|r| r.entry.seq);
        let (Some(from), Some(to)) = (from, to) else {
            return Err(VaultError::Invalid(
                "no journal entry in this period".into(),
            ));
        };
        if from > to {
            return Err(VaultError::Invalid(
                "no journal entry in this period".into(),
            ));
        }
        let end = store
            .checkpoint_from(to)?
            .ok_or(VaultError::Internal("no checkpoint after the range"))?;
        let start = store.checkpoint_before(from)?;
        let (from, anchor) = match &start {
            Some(c) => (
                c.seq + 1,
                Anchor {
                    prev_hash: c.hash,
                    next_seq: c.seq + 1,
                },
            ),
            None => (1, Anchor::GENESIS),
        };
        Ok(AuditRange {
            from_seq: from,
            to_seq: end.seq,
            anchor,
            anchor_checkpoint: start,
            end: Position {
                seq: end.seq,
                hash: end.hash,
            },
            journal_head: Position {
                seq: signed.seq,
                hash: signed.hash,
            },
            verifying_key: self.audit_verifying_key(),
        })
    }

    /// Export lines for entries `from..=to`, at most `limit` entries: each
    /// entry (or, with `beneficiary`, only the digest of entries about
    /// others) followed by the checkpoints that sign it.
    pub fn audit_page(
        &self,
        from: u64,
        to: u64,
        beneficiary: Option<PrincipalId>,
        limit: usize,
    ) -> Result<Vec<Line>> {
        let limit = limit.clamp(1, MAX_PAGE) as u64;
        let to = to.min(from.saturating_add(limit - 1));
        let who = beneficiary.map(|b| b.to_string());
        // The person's own actions stay whole even when they name no vault
        // (revoking a link that no longer exists, say).
        let actor = beneficiary.map(|b| format!("beneficiary:{b}"));
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        let store = self.records().journal();
        // Read once for the page (a lookup per entry would reread the
        // checkpoints' file for each).
        let mut checkpoints = store.checkpoints_in(from, to)?.into_iter().peekable();
        for r in store.range(from, to)? {
            let seq = r.entry.seq;
            match &who {
                Some(b)
                    if r.entry.beneficiary.as_ref() != Some(b)
                        && Some(&r.entry.actor) != actor.as_ref() =>
                {
                    out.push(Line::Elided {
                        seq,
                        vault: r.entry.vault_tag(),
                        content: r.entry.content_hash(),
                    })
                }
                _ => out.push(Line::Entry(r)),
            }
            while let Some(c) = checkpoints.next_if(|c| c.seq <= seq) {
                if c.seq == seq {
                    out.push(Line::Checkpoint(c));
                }
            }
        }
        Ok(out)
    }
}
