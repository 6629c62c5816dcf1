//! Beneficiaries (the people whose vaults these are) and the links that let
//! a structure find them.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{b64, get, put};
use super::{Lookup, TxResult, id_at, key};
use crate::{Result, VaultError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecoverySeal {
    pub structure: PrincipalId,
    #[serde(with = "b64")]
    pub wrap: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BeneficiaryRecord {
    pub id: PrincipalId,
    pub login_index: String,
    /// Display name sealed under the root key ring.
    #[serde(with = "b64")]
    pub sealed_name: Vec<u8>,
    pub recipient: String,
    #[serde(with = "b64")]
    pub sealed_identity: Vec<u8>,
    pub recovery: Vec<RecoverySeal>,
    pub linked: Vec<PrincipalId>,
    pub used_bytes: u64,
    pub created_ms: i64,
    /// Told at the next successful login, then cleared.
    #[serde(default)]
    pub pending_notices: Vec<String>,
    /// Changes with every change to the vault's documents, grants and scope
    /// keys (inside the same transaction): work computed outside a
    /// transaction from a state of the vault (a scope rotation re-wrapping
    /// every document) checks it is still that state when it commits.
    #[serde(default)]
    pub stamp: u64,
}

pub(crate) struct Beneficiaries<'a, T> {
    t: &'a T,
}

impl<'a, T: Lookup> Beneficiaries<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }

    pub fn get(&self, id: PrincipalId) -> Result<Option<BeneficiaryRecord>, T::Err> {
        get(self.t, id.as_bytes())
    }

    /// The record, or `NotFound`.
    pub fn find(&self, id: PrincipalId) -> Result<BeneficiaryRecord, T::Err> {
        Ok(self.get(id)?.ok_or(VaultError::NotFound)?)
    }
}

impl Beneficiaries<'_, sled::Tree> {
    pub fn ids(&self) -> Result<Vec<PrincipalId>> {
        let mut out = Vec::new();
        for k in self.t.iter().keys() {
            let k = k.map_err(super::db_error)?;
            if let Some(id) = id_at(&k, 0) {
                out.push(PrincipalId::from_bytes(id));
            }
        }
        Ok(out)
    }
}

impl Beneficiaries<'_, TransactionalTree> {
    pub fn put(&self, b: &BeneficiaryRecord) -> TxResult<()> {
        put(self.t, b.id.as_bytes(), b)
    }

    /// Reads, changes and writes back a record, bumping its stamp.
    pub fn update<R>(
        &self,
        id: PrincipalId,
        f: impl FnOnce(&mut BeneficiaryRecord) -> TxResult<R>,
    ) -> TxResult<R> {
        let mut b = self.find(id)?;
        let r = f(&mut b)?;
        b.stamp = b.stamp.wrapping_add(1);
        self.put(&b)?;
        Ok(r)
    }

    /// Fails the transaction when the vault changed since `stamp` was read.
    pub fn expect_stamp(&self, id: PrincipalId, stamp: u64) -> TxResult<()> {
        if self.find(id)?.stamp != stamp {
            return Err(VaultError::Conflict("the vault changed meanwhile; try again").into());
        }
        Ok(())
    }

    pub fn remove(&self, id: PrincipalId) -> TxResult<()> {
        self.t.remove(id.as_bytes().as_slice())?;
        Ok(())
    }
}

/// structure ‖ beneficiary → (): the people a structure may find.
pub(crate) struct Links<'a, T> {
    t: &'a T,
}

impl<'a, T: Lookup> Links<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }
}

impl Links<'_, sled::Tree> {
    pub fn of_structure(&self, structure: PrincipalId) -> Result<Vec<PrincipalId>> {
        let mut out = Vec::new();
        for k in self.t.scan_prefix(structure.as_bytes()).keys() {
            let k = k.map_err(super::db_error)?;
            if let Some(id) = id_at(&k, 16) {
                out.push(PrincipalId::from_bytes(id));
            }
        }
        Ok(out)
    }
}

impl Links<'_, TransactionalTree> {
    pub fn insert(&self, structure: PrincipalId, b: PrincipalId) -> TxResult<()> {
        self.t
            .insert(key(&[structure.as_bytes(), b.as_bytes()]), &[])?;
        Ok(())
    }

    pub fn remove(&self, structure: PrincipalId, b: PrincipalId) -> TxResult<()> {
        self.t.remove(key(&[structure.as_bytes(), b.as_bytes()]))?;
        Ok(())
    }
}
