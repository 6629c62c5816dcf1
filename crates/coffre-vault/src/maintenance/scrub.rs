//! Scrub: every stored object read back and checked against what was
//! recorded at upload (size, ciphertext SHA-256, clear header).

use coffre_crypto::object::{HEADER_LEN, ObjectHeader};
use coffre_store::{ObjectKey, StoreError};
use futures_util::StreamExt;

use super::{
    MAX_JOURNALED_PROBLEMS, ORPHAN_GRACE, RecordProblem, ScrubProblem, ScrubReport, ScrubSummary,
};
use crate::journal::{Event, NewEntry, Outcome, Who};
use crate::records::DocumentRecord;
use crate::{Result, Vault};

impl Vault {
    /// Reads every stored object and checks it against what was recorded at
    /// upload: size, SHA-256 of the ciphertext, clear header. `progress` is
    /// called with (done, total) documents. Journals the outcome, and one
    /// entry per damaged document under its vault.
    pub async fn scrub(&self, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<ScrubReport> {
        let mut report = ScrubReport::default();
        let records = self.records().read().documents().all()?;
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
            let current = self.records().read().documents().get(d.id)?;
            if current.is_none_or(|c| c.version != d.version) {
                continue;
            }
            let p = ScrubProblem {
                document_id: d.id,
                beneficiary_id: d.beneficiary,
                reason: reason.to_owned(),
            };
            if missing {
                report.missing.push(p);
            } else {
                report.corrupt.push(p);
            }
        }
        let now = self.now_ms();
        for b in self.records().read().beneficiaries().ids()? {
            for problem in self.records().vault_problems(b, now)? {
                report.records.push(RecordProblem {
                    beneficiary_id: b,
                    problem,
                });
            }
        }
        for p in report.records.iter().take(MAX_JOURNALED_PROBLEMS) {
            self.journal(
                NewEntry::new(Who::Operator, Event::MaintenanceScrub, Outcome::Failed)
                    .vault(p.beneficiary_id)
                    .detail(format!("records: {}", p.problem)),
            )
            .await?;
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
                NewEntry::new(Who::Operator, Event::MaintenanceScrub, Outcome::Failed)
                    .vault(p.beneficiary_id)
                    .doc(p.document_id)
                    .detail(format!("stored object {what}: {}", p.reason)),
            )
            .await?;
        }
        self.journal(
            NewEntry::new(
                Who::Operator,
                Event::MaintenanceScrub,
                if report.healthy() {
                    Outcome::Ok
                } else {
                    Outcome::Failed
                },
            )
            .detail(format!(
                "{} checked, {} missing, {} corrupt, {} orphans, {} record problems",
                report.checked,
                report.missing.len(),
                report.corrupt.len(),
                report.orphans.len(),
                report.records.len()
            )),
        )
        .await?;
        *self
            .inner
            .scrubbed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(ScrubSummary {
            finished_ms: self.now_ms(),
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
        // The checksum the record holds: a CRC-64/NVME since issue 15 (it
        // finds rot at memory speed; forgery is what downloads catch), a
        // SHA-256 for documents stored before.
        let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
        let mut hash = d
            .stored_crc64
            .is_none()
            .then(|| ring::digest::Context::new(&ring::digest::SHA256));
        let mut head = Vec::with_capacity(HEADER_LEN);
        let mut len = 0u64;
        while let Some(piece) = stream.next().await {
            let piece = piece?;
            if head.len() < HEADER_LEN {
                let take = (HEADER_LEN - head.len()).min(piece.len());
                head.extend_from_slice(&piece[..take]);
            }
            len += piece.len() as u64;
            match hash.as_mut() {
                Some(h) => h.update(&piece),
                None => crc.update(&piece),
            }
        }
        if len != d.stored_size {
            return Ok(Some((false, "size differs from the one recorded")));
        }
        match ObjectHeader::parse(&head) {
            Ok(h) if h == ObjectHeader::new(d.id, d.version) => {}
            _ => return Ok(Some((false, "header does not name this document"))),
        }
        let differs = match hash {
            Some(h) => (hex::encode(h.finish()) != d.stored_sha256)
                .then_some("SHA-256 differs from the one recorded"),
            None => (Some(crc.finalize()) != d.stored_crc64)
                .then_some("checksum differs from the one recorded"),
        };
        if let Some(reason) = differs {
            return Ok(Some((false, reason)));
        }
        Ok(None)
    }
}
