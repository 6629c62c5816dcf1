//! Coffre's vault core: the security model (`docs/ARCHITECTURE.md`) as a
//! library that the HTTP API and the CLI both call.
//!
//! Layers, from the bottom:
//! - `records`: typed repositories over the metadata database (sled), the
//!   only code that touches it; every multi-table change is a transaction.
//! - `access`: the only code that wraps and unwraps keys (invariant 3).
//! - [`journal`]: the hash-chained, signed audit journal.
//! - features, each a module of `impl Vault`: `principals` (structures,
//!   caseworkers, beneficiaries, login, recovery), `lockout` (login
//!   attempts), `consent` (grants, revocation, expiry), `documents`,
//!   `shares`, `export`, `erasure`, `maintenance` (scrub, gc, root
//!   rotation, backup and restore), `audit_export`.
//!
//! Every operation that changes something writes its metadata, appends its
//! journal entry and returns only once both are on disk; every refused
//! attempt is journaled too. [`policy`] decides who may try what.

mod access;
#[cfg(test)]
mod access_model;
#[cfg(test)]
mod attack_tests;
mod audit_export;
mod clock;
mod consent;
mod counter;
pub mod datadir;
mod documents;
mod erasure;
mod error;
mod export;
#[cfg(test)]
mod internal_tests;
pub mod journal;
mod lockout;
mod maintenance;
pub mod model;
pub mod policy;
mod principals;
mod records;
mod report;
mod session;
mod shares;
#[cfg(test)]
mod test_otp;
mod vault;

pub use audit_export::AuditRange;
pub use clock::Clock;
pub use counter::{
    CODE_LEN, CODE_TRIES_PER_MINUTE, CounterCopy, CounterCreated, CounterView, MAX_MINUTES,
    normalize_code,
};
pub use documents::{DeskOverview, DeskPaper, DocumentInfo, NewDocument, PlaintextStream};
pub use error::{Result, VaultError};
pub use export::{JOURNAL_PAGE_MAX, Manifest, ManifestEntry, PINNED_SHOWN, VaultJournal};
pub use journal::{DownloadFailure, Event, NewEntry, Outcome, Who};
pub use lockout::{address_block, site_block};
pub use maintenance::{
    BACKUP_FORMAT, BackupSummary, GcReport, RecordProblem, RestoreSummary, RootFile,
    RotationReport, ScrubProblem, ScrubReport, ScrubSummary, restore,
};
pub use model::{Category, Date, Permission};
pub use principals::{
    CaseworkerActivated, CaseworkerInfo, EnrolledBeneficiary, LoginOutcome, NewBeneficiary,
    NewGrant, RECOVERY_CODES, RecoveryStarted, SUGGESTED_WORDS, SecondFactorSetUp,
    SecondFactorStage, SecretProblem, StructureCreated, TRUSTEE_MEANS, Trustee, passphrase_bits,
    suggest_passphrase,
};
pub use records::{GrantRecord, Notice, NoticeKind, StructureRecord};
pub use report::{MonthCounts, REPORT_MONTHS_MAX, SMALL_COUNT, shown_count};
pub use session::{Principal, Session};
pub use shares::{MAX_RECIPIENT_CHARS, ShareCreated, ShareInfo, ShareStatus, SharedCopy};
pub use vault::{Limits, Status, Vault, VaultConfig};
