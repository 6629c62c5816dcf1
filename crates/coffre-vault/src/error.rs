use std::time::Duration;

/// The one error type of `coffre-vault`. Each variant maps to one answer the
/// API gives (404, 403, 401, 429, 400, 409, 413, 410, 503, 500). Messages
/// never contain secrets, titles, file names or what the caller sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// Unknown, or not visible to this actor (never says which).
    #[error("not found")]
    NotFound,
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    /// Wrong identifier or secret, unknown or expired session.
    #[error("not authenticated")]
    Unauthenticated,
    /// Too many failed attempts; try again after the delay.
    #[error("locked after repeated failures; retry in {} s", retry_after.as_secs())]
    LockedOut { retry_after: Duration },
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Too many key derivations under way: retry shortly (the bound keeps
    /// the memory argon2id takes in check).
    #[error("the server is busy; retry shortly")]
    Busy { retry_after: Duration },
    /// A person's secret too easy to guess (or too short, too long).
    #[error("secret refused: {}", .0.describe())]
    WeakSecret(crate::principals::SecretProblem),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("document larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("vault quota of {quota} bytes exceeded")]
    QuotaExceeded { quota: u64 },
    /// Share link expired, exhausted or revoked.
    #[error("this link is no longer valid")]
    Gone,
    /// No recovery seal exists for this person and this structure.
    #[error("recovery is impossible: this person chose no trustee structure, or not this one")]
    RecoveryImpossible,
    /// Stored data failed authentication: never returned as plaintext.
    #[error("integrity error: stored data was altered or is missing")]
    Integrity,
    /// A metadata record failed authentication: someone altered the
    /// database files (or a backup). Its table is named, never its content.
    #[error("integrity error: a stored record of {0} was altered")]
    Tampered(&'static str),
    #[error("storage: {0}")]
    Store(#[from] coffre_store::StoreError),
    #[error("metadata database: {0}")]
    Db(String),
    /// The database of a vault in service cannot be read, or is empty: it
    /// must be restored from a backup, never replaced by a new one.
    #[error("metadata database unreadable: {0}")]
    Unreadable(String),
    /// Wrong identity or passphrase for the root key file, or a damaged one.
    #[error("the root key file could not be opened: {0}")]
    RootKey(&'static str),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl VaultError {
    /// A short stable name of the variant, for logs and metrics (never the
    /// message, which may name a path).
    pub fn kind(&self) -> &'static str {
        match self {
            VaultError::NotFound => "not_found",
            VaultError::Forbidden(_) => "forbidden",
            VaultError::Unauthenticated => "unauthenticated",
            VaultError::LockedOut { .. } => "locked_out",
            VaultError::Invalid(_) => "invalid_input",
            VaultError::Busy { .. } => "busy",
            VaultError::WeakSecret(_) => "weak_secret",
            VaultError::Conflict(_) => "conflict",
            VaultError::TooLarge { .. } => "too_large",
            VaultError::QuotaExceeded { .. } => "quota_exceeded",
            VaultError::Gone => "gone",
            VaultError::RecoveryImpossible => "recovery_impossible",
            VaultError::Integrity => "integrity_error",
            VaultError::Tampered(_) => "tampered",
            VaultError::Store(_) => "store",
            VaultError::Db(_) => "database",
            VaultError::Unreadable(_) => "database_unreadable",
            VaultError::RootKey(_) => "root_key",
            VaultError::Internal(_) => "internal",
        }
    }
}

impl From<coffre_crypto::Error> for VaultError {
    fn from(e: coffre_crypto::Error) -> Self {
        match e {
            coffre_crypto::Error::Decryption | coffre_crypto::Error::WrongObject => {
                VaultError::Integrity
            }
            coffre_crypto::Error::InvalidParameter(p) => VaultError::Invalid(p.to_string()),
            coffre_crypto::Error::RootKeyFile(why) => VaultError::RootKey(why),
            coffre_crypto::Error::Rng => VaultError::Internal("random number generator"),
            _ => VaultError::Integrity,
        }
    }
}

impl From<serde_json::Error> for VaultError {
    fn from(_: serde_json::Error) -> Self {
        VaultError::Db("a metadata record does not decode".into())
    }
}

/// The crate's result type.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;
