use std::path::PathBuf;

/// The one error type of `coffre-store`. Variants separate what an operator
/// does about them: wait and retry ([`StoreError::Unavailable`]), fix
/// credentials or configuration, investigate integrity, or nothing at all
/// (not found). Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No object under this key.
    #[error("object {key} not found")]
    NotFound {
        /// The key asked for.
        key: String,
    },

    /// Network trouble, timeouts, throttling, 5xx: retrying later may work.
    #[error("object store unavailable, retry later: {0}")]
    Unavailable(String),

    /// Credentials or bucket policy refuse the call.
    #[error("object store refused access (check credentials and bucket policy): {0}")]
    Permission(String),

    /// The configuration cannot work (no such bucket, bad endpoint).
    #[error("object store misconfigured: {0}")]
    Config(String),

    /// The store reported a checksum or digest mismatch, or returned fewer
    /// bytes than it announced.
    #[error("object store integrity error: {0}")]
    Integrity(String),

    /// A key outside the grammar of [`crate::ObjectKey`].
    #[error("invalid object key {0:?}")]
    InvalidKey(String),

    /// A range that does not fit in the object.
    #[error("range {start}..{end} is outside object {key} ({size} bytes)")]
    InvalidRange {
        /// The object.
        key: String,
        /// First byte asked.
        start: u64,
        /// Byte after the last one asked.
        end: u64,
        /// The object's size.
        size: u64,
    },

    /// The body handed to `put` failed; nothing was stored.
    #[error("upload body failed: {0}")]
    Body(std::io::Error),

    /// More than the store takes in one object.
    #[error("object too large: {0}")]
    TooLarge(String),

    /// A file system call of the filesystem store failed.
    #[error("filesystem store: {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the same call may succeed later without any change.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// The crate's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
