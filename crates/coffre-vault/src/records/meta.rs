//! The `meta` table: schema version and server secrets sealed under the
//! root key ring.

use sled::transaction::TransactionalTree;

use super::{Lookup, TxResult};
use crate::VaultError;

/// Version of the stored format this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// A server secret kept sealed in `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secret {
    AuditSigningKey,
    BlindIndexKey,
}

impl Secret {
    pub const ALL: [Secret; 2] = [Secret::AuditSigningKey, Secret::BlindIndexKey];

    fn key(self) -> &'static [u8] {
        match self {
            Secret::AuditSigningKey => b"audit_signing_key",
            Secret::BlindIndexKey => b"blind_index_key",
        }
    }
}

pub(crate) struct Meta<'a, T> {
    t: &'a T,
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
            Some(v) => {
                let v: [u8; 4] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| VaultError::Db("bad schema version".into()))?;
                Ok(Some(u32::from_be_bytes(v)))
            }
        }
    }
}

impl Meta<'_, TransactionalTree> {
    pub fn put_secret(&self, s: Secret, sealed: &[u8]) -> TxResult<()> {
        self.t.insert(s.key(), sealed)?;
        Ok(())
    }

    /// Records this build's schema in a new database; refuses a newer one.
    pub(super) fn check_schema(&self) -> TxResult<()> {
        match self.schema_version()? {
            None => {
                self.t
                    .insert(b"schema_version".as_slice(), &SCHEMA_VERSION.to_be_bytes())?;
                Ok(())
            }
            Some(v) if v > SCHEMA_VERSION => Err(VaultError::Db(format!(
                "metadata schema {v} is newer than this build supports ({SCHEMA_VERSION}); upgrade Coffre"
            ))
            .into()),
            Some(_) => Ok(()),
        }
    }
}
