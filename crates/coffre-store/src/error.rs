use std::path::PathBuf;

/// The one error type of `coffre-store`. Variants separate what an operator
/// does about them: wait and retry ([`StoreError::Unavailable`]), fix
/// credentials or configuration, investigate integrity, or nothing at all
/// (not found). Messages never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("object {key} not found")]
    NotFound { key: String },

    /// Network trouble, timeouts, throttling, 5xx: retrying later may work.
    #[error("object store unavailable, retry later: {0}")]
    Unavailable(String),

    #[error("object store refused access (check credentials and bucket policy): {0}")]
    Permission(String),

    #[error("object store misconfigured: {0}")]
    Config(String),

    /// The store reported a checksum or digest mismatch, or returned fewer
    /// bytes than it announced.
    #[error("object store integrity error: {0}")]
    Integrity(String),

    #[error("invalid object key {0:?}")]
    InvalidKey(String),

    #[error("range {start}..{end} is outside object {key} ({size} bytes)")]
    InvalidRange {
        key: String,
        start: u64,
        end: u64,
        size: u64,
    },

    /// The body handed to `put` failed; nothing was stored.
    #[error("upload body failed: {0}")]
    Body(std::io::Error),

    #[error("object too large: {0}")]
    TooLarge(String),

    #[error("filesystem store: {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the same call may succeed later without any change.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
