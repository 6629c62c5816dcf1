//! Scope keys: one per (beneficiary, category), at an epoch that advances
//! with every rotation; and their wraps to the structures holding consent.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{b64, get, put};
use super::{Lookup, TxResult, id_at, key};
use crate::model::Category;
use crate::{Result, VaultError};

/// The current scope key of (beneficiary, category).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScopeRecord {
    pub epoch: u32,
    pub recipient: String,
    /// The scope identity wrapped to the beneficiary.
    #[serde(with = "b64")]
    pub owner_wrap: Vec<u8>,
}

pub(crate) struct Scopes<'a, T> {
    scopes: &'a T,
    wraps: &'a T,
}

fn scope_key(b: PrincipalId, c: Category) -> Vec<u8> {
    key(&[b.as_bytes(), c.as_str().as_bytes()])
}

fn wrap_key(b: PrincipalId, c: Category, epoch: u32, s: PrincipalId) -> Vec<u8> {
    key(&[
        b.as_bytes(),
        &[c.index()],
        &epoch.to_be_bytes(),
        s.as_bytes(),
    ])
}

impl<'a, T: Lookup> Scopes<'a, T> {
    pub(super) fn new(scopes: &'a T, wraps: &'a T) -> Self {
        Self { scopes, wraps }
    }

    /// The scope of (b, c); every vault has all nine.
    pub fn get(&self, b: PrincipalId, c: Category) -> Result<ScopeRecord, T::Err> {
        Ok(get(self.scopes, &scope_key(b, c))?.ok_or(VaultError::Integrity)?)
    }

    /// The scope identity at `epoch` wrapped to `structure`, if it holds one.
    pub fn wrap(
        &self,
        b: PrincipalId,
        c: Category,
        epoch: u32,
        structure: PrincipalId,
    ) -> Result<Option<Vec<u8>>, T::Err> {
        Ok(self
            .wraps
            .lookup(&wrap_key(b, c, epoch, structure))?
            .map(|v| v.to_vec()))
    }

    /// Fails the transaction when the scope moved past `epoch`.
    pub fn expect_epoch(&self, b: PrincipalId, c: Category, epoch: u32) -> Result<(), T::Err> {
        if self.get(b, c)?.epoch != epoch {
            return Err(
                VaultError::Conflict("consent changed during this operation; try again").into(),
            );
        }
        Ok(())
    }
}

impl Scopes<'_, sled::Tree> {
    /// (epoch, structure) of every wrap of (b, c).
    pub fn wraps_of(&self, b: PrincipalId, c: Category) -> Result<Vec<(u32, PrincipalId)>> {
        let mut out = Vec::new();
        for k in self
            .wraps
            .scan_prefix(key(&[b.as_bytes(), &[c.index()]]))
            .keys()
        {
            let k = k.map_err(super::db_error)?;
            let (Some(epoch), Some(s)) = (
                k.get(17..21).and_then(|e| <[u8; 4]>::try_from(e).ok()),
                id_at(&k, 21),
            ) else {
                continue;
            };
            out.push((u32::from_be_bytes(epoch), PrincipalId::from_bytes(s)));
        }
        Ok(out)
    }
}

impl Scopes<'_, TransactionalTree> {
    pub fn put(&self, b: PrincipalId, c: Category, r: &ScopeRecord) -> TxResult<()> {
        put(self.scopes, &scope_key(b, c), r)
    }

    pub fn put_wrap(
        &self,
        b: PrincipalId,
        c: Category,
        epoch: u32,
        structure: PrincipalId,
        wrap: &[u8],
    ) -> TxResult<()> {
        self.wraps.insert(wrap_key(b, c, epoch, structure), wrap)?;
        Ok(())
    }

    pub fn remove_wrap(
        &self,
        b: PrincipalId,
        c: Category,
        epoch: u32,
        structure: PrincipalId,
    ) -> TxResult<()> {
        self.wraps.remove(wrap_key(b, c, epoch, structure))?;
        Ok(())
    }

    pub fn remove(&self, b: PrincipalId, c: Category) -> TxResult<()> {
        self.scopes.remove(scope_key(b, c))?;
        Ok(())
    }
}
