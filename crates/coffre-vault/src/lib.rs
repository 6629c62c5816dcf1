//! Coffre's vault core: the security model (`docs/ARCHITECTURE.md`) as a
//! library that the HTTP API and the CLI both call.
//!
//! Metadata lives in sled (only this crate touches it), objects in a
//! `coffre-store` backend. Every operation that changes something writes its
//! metadata, appends its journal entry and returns only once both are on
//! disk; every refused attempt is journaled too.
//!
//! Modules: [`policy`] (who may try what), `principals` (structures,
//! caseworkers, beneficiaries, login, lockout, recovery), `consent` (grants,
//! scope keys, revocation, expiry), `documents`, `shares`, `lifecycle`
//! (erasure, export, garbage collection), `maintenance` (scrub, root
//! rotation, backup and restore), `audit_export` (journal pages for
//! auditors), [`journal`].

mod audit_export;
mod consent;
pub mod datadir;
mod db;
mod documents;
mod error;
#[cfg(test)]
mod internal_tests;
pub mod journal;
mod lifecycle;
mod maintenance;
pub mod model;
pub mod policy;
mod principals;
mod session;
mod shares;
mod vault;

pub use audit_export::AuditRange;
pub use documents::{DocumentInfo, NewDocument, PlaintextStream};
pub use error::{Result, VaultError};
pub use lifecycle::{GcReport, Manifest, ManifestEntry};
pub use maintenance::{
    BackupSummary, RestoreSummary, RootFile, RotationReport, ScrubProblem, ScrubReport,
    ScrubSummary, restore,
};
pub use model::{Category, Permission};
pub use principals::{
    EnrolledBeneficiary, LoginOutcome, NewBeneficiary, NewGrant, StructureCreated,
};
pub use session::{Principal, Session};
pub use shares::{ShareCreated, ShareInfo};
pub use vault::{Limits, Status, Vault, VaultConfig};

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
