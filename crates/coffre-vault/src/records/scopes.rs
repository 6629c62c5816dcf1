//! Scope keys: one age identity per (beneficiary, category, epoch). The
//! head says which epoch is current (new papers are wrapped to it); older
//! epochs live on while papers are still wrapped to them. Each epoch's key
//! is wrapped to the person and to every structure holding view consent on
//! the category.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{Codec, b64};
use super::{Lookup, Table, TxResult, db_error, id_at, key};
use crate::model::Category;
use crate::{Result, VaultError};

/// One epoch of a scope key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScopeRecord {
    pub epoch: u32,
    pub recipient: String,
    /// The scope identity wrapped to the beneficiary.
    #[serde(with = "b64")]
    pub owner_wrap: Vec<u8>,
}

pub(crate) struct Scopes<'a, T> {
    codec: &'a Codec,
    heads: &'a T,
    scopes: &'a T,
    wraps: &'a T,
}

fn head_key(b: PrincipalId, c: Category) -> Vec<u8> {
    key(&[b.as_bytes(), &[c.index()]])
}

fn scope_key(b: PrincipalId, c: Category, epoch: u32) -> Vec<u8> {
    key(&[b.as_bytes(), &[c.index()], &epoch.to_be_bytes()])
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
    pub(super) fn new(codec: &'a Codec, heads: &'a T, scopes: &'a T, wraps: &'a T) -> Self {
        Self {
            codec,
            heads,
            scopes,
            wraps,
        }
    }

    /// The current epoch of (b, c); every vault has all nine scopes.
    pub fn current(&self, b: PrincipalId, c: Category) -> Result<u32, T::Err> {
        Ok(self
            .codec
            .get::<_, u32>(self.heads, Table::ScopeHeads, &head_key(b, c))?
            .ok_or(VaultError::Integrity)?)
    }

    /// One epoch of (b, c), if it still exists.
    pub fn get(
        &self,
        b: PrincipalId,
        c: Category,
        epoch: u32,
    ) -> Result<Option<ScopeRecord>, T::Err> {
        self.codec
            .get(self.scopes, Table::Scopes, &scope_key(b, c, epoch))
    }

    /// The current epoch's record.
    pub fn current_record(&self, b: PrincipalId, c: Category) -> Result<ScopeRecord, T::Err> {
        let epoch = self.current(b, c)?;
        Ok(self.get(b, c, epoch)?.ok_or(VaultError::Integrity)?)
    }

    /// The scope identity at `epoch` wrapped to `structure`, if it holds one.
    pub fn wrap(
        &self,
        b: PrincipalId,
        c: Category,
        epoch: u32,
        structure: PrincipalId,
    ) -> Result<Option<Vec<u8>>, T::Err> {
        self.codec.get_raw(
            self.wraps,
            Table::ScopeWraps,
            &wrap_key(b, c, epoch, structure),
        )
    }

    /// Fails the transaction when the scope's current epoch is not `epoch`.
    pub fn expect_epoch(&self, b: PrincipalId, c: Category, epoch: u32) -> Result<(), T::Err> {
        if self.current(b, c)? != epoch {
            return Err(
                VaultError::Conflict("consent changed during this operation; try again").into(),
            );
        }
        Ok(())
    }
}

impl Scopes<'_, sled::Tree> {
    /// Every epoch of (b, c) that still exists, oldest first.
    pub fn epochs(&self, b: PrincipalId, c: Category) -> Result<Vec<ScopeRecord>> {
        let mut out = Vec::new();
        for kv in self.scopes.scan_prefix(key(&[b.as_bytes(), &[c.index()]])) {
            let (k, v) = kv.map_err(db_error)?;
            out.push(self.codec.decode(Table::Scopes, &k, &v)?);
        }
        Ok(out)
    }

    /// (epoch, structure) of every wrap of (b, c).
    pub fn wraps_of(&self, b: PrincipalId, c: Category) -> Result<Vec<(u32, PrincipalId)>> {
        let mut out = Vec::new();
        for k in self
            .wraps
            .scan_prefix(key(&[b.as_bytes(), &[c.index()]]))
            .keys()
        {
            let k = k.map_err(db_error)?;
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
    /// Writes an epoch of (b, c); `current` makes it the head too.
    pub fn put(&self, b: PrincipalId, c: Category, r: &ScopeRecord, current: bool) -> TxResult<()> {
        self.codec.put(
            self.scopes,
            Table::Scopes,
            &scope_key(b, c, r.epoch),
            r,
            Some(b),
        )?;
        if current {
            self.codec.put(
                self.heads,
                Table::ScopeHeads,
                &head_key(b, c),
                &r.epoch,
                Some(b),
            )?;
        }
        Ok(())
    }

    /// Removes a retired epoch (no paper is wrapped to it any more).
    pub fn remove(&self, b: PrincipalId, c: Category, epoch: u32) -> TxResult<()> {
        self.scopes.remove(scope_key(b, c, epoch))?;
        Ok(())
    }

    /// Removes the head (erasure).
    pub fn remove_head(&self, b: PrincipalId, c: Category) -> TxResult<()> {
        self.heads.remove(head_key(b, c))?;
        Ok(())
    }

    pub fn put_wrap(
        &self,
        b: PrincipalId,
        c: Category,
        epoch: u32,
        structure: PrincipalId,
        wrap: &[u8],
    ) -> TxResult<()> {
        self.codec.put_raw(
            self.wraps,
            Table::ScopeWraps,
            &wrap_key(b, c, epoch, structure),
            wrap,
            Some(b),
        )
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
}
