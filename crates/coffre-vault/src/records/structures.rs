//! Structures (CCAS, associations): the units that receive consent.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::Codec;
use super::{Lookup, Table, TxResult, db_error};
use crate::{Result, VaultError};

/// A structure. Its private key exists only wrapped to its caseworkers (and
/// to one-time enrollment codes); `recipient` is its public half.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureRecord {
    pub id: PrincipalId,
    pub name: String,
    pub recipient: String,
    pub created_ms: i64,
    /// Bumped by each rotation of the structure's key.
    #[serde(default = "first")]
    pub key_version: u32,
    /// A caseworker left while no member holding the key was there to
    /// rotate it (the operator deactivated them): the next member to log in
    /// rotates it.
    #[serde(default)]
    pub rotation_due: bool,
    /// Shown on access cards and pages, if the structure gave them.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

fn first() -> u32 {
    1
}

pub(crate) struct Structures<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Structures<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }

    pub fn get(&self, id: PrincipalId) -> Result<Option<StructureRecord>, T::Err> {
        self.codec.get(self.t, Table::Structures, id.as_bytes())
    }

    /// The record, or `NotFound`.
    pub fn find(&self, id: PrincipalId) -> Result<StructureRecord, T::Err> {
        Ok(self.get(id)?.ok_or(VaultError::NotFound)?)
    }
}

impl Structures<'_, sled::Tree> {
    pub fn all(&self) -> Result<Vec<StructureRecord>> {
        let mut out = Vec::new();
        for kv in self.t.iter() {
            let (k, v) = kv.map_err(db_error)?;
            out.push(self.codec.decode(Table::Structures, &k, &v)?);
        }
        Ok(out)
    }
}

impl Structures<'_, TransactionalTree> {
    pub fn put(&self, s: &StructureRecord) -> TxResult<()> {
        self.codec
            .put(self.t, Table::Structures, s.id.as_bytes(), s, None)
    }

    /// Fails the transaction when the structure's key is no longer the one
    /// `recipient` names (a rotation happened meanwhile).
    pub fn expect_recipient(&self, id: PrincipalId, recipient: &str) -> TxResult<()> {
        if self.find(id)?.recipient != recipient {
            return Err(
                VaultError::Conflict("the structure's key changed meanwhile; try again").into(),
            );
        }
        Ok(())
    }
}
