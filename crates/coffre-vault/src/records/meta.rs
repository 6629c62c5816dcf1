//! The `meta` table: schema version and server secrets sealed under the
//! root key ring.

use sled::transaction::TransactionalTree;

use super::{Lookup, TxResult, db_error};
use crate::{Result, VaultError};

/// Version of the stored format this build writes and reads. Version 2
/// seals every record of a vault under its person's key and authenticates
/// the others; version 3 keeps the journal in its own files
/// (`records/journal.rs`), so a build that knows only version 2 cannot open
/// the database and start a second journal in the emptied tables. A
/// version 2 database (or backup) is read: its journal tables are moved
/// into the files, then it is marked version 3. Version 1 (before any
/// release) is not read.
pub const SCHEMA_VERSION: u32 = 3;

/// The oldest version this build reads (and upgrades).
pub const OLDEST_READ: u32 = 2;

/// A server secret kept sealed in `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secret {
    /// The journal's signing key.
    AuditSigning,
    /// The key of the logins' blind indexes.
    BlindIndex,
    /// The key that authenticates records (read by `Records::open`).
    Records,
}

impl Secret {
    pub const ALL: [Secret; 3] = [Secret::AuditSigning, Secret::BlindIndex, Secret::Records];

    pub(super) fn key(self) -> &'static [u8] {
        match self {
            Secret::AuditSigning => b"audit_signing_key",
            Secret::BlindIndex => b"blind_index_key",
            Secret::Records => b"record_key",
        }
    }
}

pub(crate) struct Meta<'a, T> {
    t: &'a T,
}

fn version(v: &[u8]) -> Result<u32> {
    let v: [u8; 4] = v
        .try_into()
        .map_err(|_| VaultError::Db("bad schema version".into()))?;
    Ok(u32::from_be_bytes(v))
}

impl<'a, T: Lookup> Meta<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }

    /// The sealed bytes of a server secret, if it was created.
    pub fn secret(&self, s: Secret) -> Result<Option<Vec<u8>>, T::Err> {
        Ok(self.t.lookup(s.key())?.map(|v| v.to_vec()))
    }

    pub fn schema_version(&self) -> Result<Option<u32>, T::Err> {
        match self.t.lookup(b"schema_version")? {
            None => Ok(None),
            Some(v) => Ok(Some(version(&v)?)),
        }
    }
}

impl Meta<'_, TransactionalTree> {
    pub fn put_secret(&self, s: Secret, sealed: &[u8]) -> TxResult<()> {
        self.t.insert(s.key(), sealed)?;
        Ok(())
    }
}

/// Records this build's schema in a new database; refuses one it cannot
/// read. Returns the version found (an older one is upgraded by the caller,
/// then marked with [`mark_current`]).
pub(super) fn check_schema(meta: &sled::Tree) -> Result<u32> {
    match meta.get(b"schema_version").map_err(db_error)? {
        None => {
            mark_current(meta)?;
            Ok(SCHEMA_VERSION)
        }
        Some(v) => match version(&v)? {
            v @ OLDEST_READ..=SCHEMA_VERSION => Ok(v),
            v if v > SCHEMA_VERSION => Err(VaultError::Db(format!(
                "metadata schema {v} is newer than this build supports ({SCHEMA_VERSION}); upgrade Coffre"
            ))),
            v => Err(VaultError::Db(format!(
                "metadata schema {v} was written by a development build of Coffre before any release; \
                 this build reads schema {OLDEST_READ} to {SCHEMA_VERSION} only: start from a new data directory"
            ))),
        },
    }
}

/// Marks the database as this build's schema.
pub(super) fn mark_current(meta: &sled::Tree) -> Result<()> {
    meta.insert(b"schema_version".as_slice(), &SCHEMA_VERSION.to_be_bytes())
        .map_err(db_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_schemas_are_read_or_refused_newer_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(check_schema(&meta).unwrap(), SCHEMA_VERSION);
        for (v, ok) in [(1u32, false), (2, true), (3, true), (4, false)] {
            meta.insert(b"schema_version", &v.to_be_bytes()).unwrap();
            assert_eq!(check_schema(&meta).ok(), ok.then_some(v), "{v}");
        }
    }
}
