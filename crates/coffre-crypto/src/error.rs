use std::fmt;

/// The one error type of `coffre-crypto`.
///
/// Decryption and authentication failures are deliberately a single variant,
/// [`Error::Decryption`]: callers (and anyone watching them) learn that opening
/// failed, never which check failed, so no variant can serve as an oracle.
/// No variant ever carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Wrong key, wrong secret, wrong context, or data that was altered,
    /// truncated, extended, reordered or moved from another record.
    #[error("decryption failed: wrong key or secret, or the data was altered")]
    Decryption,

    /// The bytes do not start with the Coffre object magic.
    #[error("not a Coffre object (bad magic bytes)")]
    NotAnObject,

    /// A format or suite this build does not know.
    #[error("unsupported {what} {value}")]
    Unsupported {
        /// What is unsupported (format, suite).
        what: &'static str,
        /// Its number.
        value: u32,
    },

    /// The object's clear header names another document or version than the
    /// one asked for: the object was swapped or misfiled.
    #[error("object header names another document or version")]
    WrongObject,

    /// Structurally invalid input (lengths, encodings) outside any secret.
    #[error("malformed {0}")]
    Malformed(&'static str),

    /// A parameter outside the accepted range (too weak or too costly).
    #[error("invalid parameter: {0}")]
    InvalidParameter(&'static str),

    /// The root key file could not be opened: wrong identity or passphrase,
    /// a work factor above the accepted maximum, or a damaged file.
    #[error("the root key file could not be opened: {0}")]
    RootKeyFile(&'static str),

    /// A root key version that this ring does not hold (already retired, or
    /// sealed by a newer ring).
    #[error("root key version {0} is not in the key ring")]
    UnknownRootKeyVersion(u32),

    /// The audit journal failed verification at the named entry.
    #[error("audit journal broken at entry {seq}: {reason}")]
    AuditChain {
        /// The entry (or checkpoint) where it broke.
        seq: u64,
        /// How.
        reason: ChainBreak,
    },

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,

    /// Error from a reader or writer handed to this crate.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why the audit chain did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainBreak {
    /// Sequence numbers are not consecutive: an entry was removed, inserted
    /// or moved.
    Sequence,
    /// A checkpoint does not match the hash recomputed from the entries.
    HashMismatch,
    /// A checkpoint's signature does not verify under the journal's key.
    BadSignature,
    /// A checkpoint names an entry that is not in the journal.
    CheckpointOutOfRange,
    /// Entries after the last checkpoint: they are chained but not signed.
    Unsigned,
    /// An entry given only as a digest where it must be whole: in an export
    /// for one person, an entry of that person (or any, in a full export).
    Hidden,
    /// The export does not start where its signed anchor says, or not where
    /// the auditor was told it starts.
    Anchor,
    /// The chain hash at this entry is not the one published for it.
    PinnedHead,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChainBreak::Sequence => {
                "sequence number out of order (entry removed, inserted or moved)"
            }
            ChainBreak::HashMismatch => {
                "hash chain does not match the signed checkpoint (entry altered)"
            }
            ChainBreak::BadSignature => "checkpoint signature does not verify",
            ChainBreak::CheckpointOutOfRange => "checkpoint refers to an entry that is missing",
            ChainBreak::Unsigned => "entries after the last signed checkpoint",
            ChainBreak::Hidden => "entry hidden (given as a digest where it must be whole)",
            ChainBreak::Anchor => {
                "the export does not start at a signed checkpoint, or not where you were told (entries removed at the start)"
            }
            ChainBreak::PinnedHead => {
                "the journal's hash here differs from the head published for this entry (history rewritten)"
            }
        })
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ring::error::Unspecified> for Error {
    fn from(_: ring::error::Unspecified) -> Self {
        Error::Decryption
    }
}
