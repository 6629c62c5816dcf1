//! The operator's maintenance: scrub (are the stored objects still what was
//! written?), garbage collection of orphan objects, root key rotation, and
//! metadata backup and restore.

mod backup;
mod gc;
mod rotation;
mod scrub;

use std::time::Duration;

use coffre_crypto::DocumentId;
use coffre_crypto::root::RootKeyRing;
use serde::{Deserialize, Serialize};

use crate::Result;

pub use backup::{BACKUP_FORMAT, RestoreSummary, restore};
pub use gc::GcReport;

/// Objects younger than this are not called orphans by a scrub: an upload
/// writes its object before committing its record.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);
/// Most problems a scrub journals one by one (the summary counts them all).
const MAX_JOURNALED_PROBLEMS: usize = 1000;

/// A document whose stored object is not what was written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScrubProblem {
    pub document_id: DocumentId,
    pub beneficiary_id: coffre_crypto::PrincipalId,
    pub reason: String,
}

/// What a scrub found.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ScrubReport {
    pub checked: u64,
    pub bytes: u64,
    pub missing: Vec<ScrubProblem>,
    pub corrupt: Vec<ScrubProblem>,
    /// Objects no document record points at (older than an hour).
    pub orphans: Vec<String>,
    /// Vaults whose records are not consistent with each other (an index
    /// entry without its record, a quota that does not add up, a scope key
    /// held without consent…): none, unless something broke.
    #[serde(default)]
    pub records: Vec<RecordProblem>,
}

/// A vault whose records disagree with each other.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordProblem {
    pub beneficiary_id: coffre_crypto::PrincipalId,
    pub problem: String,
}

impl ScrubReport {
    pub fn healthy(&self) -> bool {
        self.missing.is_empty() && self.corrupt.is_empty() && self.records.is_empty()
    }
}

/// The last scrub's counts, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ScrubSummary {
    pub finished_ms: i64,
    pub checked: u64,
    pub missing: u64,
    pub corrupt: u64,
    pub orphans: u64,
}

/// What a root rotation did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationReport {
    pub version: u32,
    pub retired: Vec<u32>,
    pub resealed: u64,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupSummary {
    pub records: u64,
    pub documents: u64,
    pub created_at_ms: i64,
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
