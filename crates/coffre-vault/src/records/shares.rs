//! Share links: found by the lookup key derived from the link's secret,
//! by their id (revocation), and per vault.

use coffre_crypto::{DocumentId, PrincipalId, ShareId};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{Codec, b64};
use super::{Lookup, Table, TxResult, db_error, key};
use crate::model::Category;
use crate::{Result, VaultError};

/// The lookup key of a link: a one-way function of its secret.
pub(crate) type LookupKey = [u8; 32];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ShareRecord {
    pub id: ShareId,
    pub document: DocumentId,
    pub version: u32,
    pub beneficiary: PrincipalId,
    pub category: Category,
    pub created_by: String,
    /// The structure whose caseworker made the link (none for the owner's):
    /// its links die with its consent.
    #[serde(default)]
    pub structure: Option<PrincipalId>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub max_downloads: u32,
    pub downloads: u32,
    #[serde(with = "b64")]
    pub wrap: Vec<u8>,
    /// Whom the link was made for, sealed under the document's key (the
    /// copy carries it in its mark); empty when nobody was named.
    #[serde(default, with = "b64")]
    pub sealed_recipient: Vec<u8>,
}

pub(crate) struct Shares<'a, T> {
    codec: &'a Codec,
    shares: &'a T,
    ids: &'a T,
    by_vault: &'a T,
}

impl<'a, T: Lookup> Shares<'a, T> {
    pub(super) fn new(codec: &'a Codec, shares: &'a T, ids: &'a T, by_vault: &'a T) -> Self {
        Self {
            codec,
            shares,
            ids,
            by_vault,
        }
    }

    pub fn by_lookup(&self, lookup: &LookupKey) -> Result<Option<ShareRecord>, T::Err> {
        self.codec.get(self.shares, Table::Shares, lookup)
    }

    /// A link by its id, with its lookup key.
    pub fn by_id(&self, id: ShareId) -> Result<Option<(LookupKey, ShareRecord)>, T::Err> {
        let Some(lookup) = self
            .codec
            .get_raw(self.ids, Table::ShareIds, id.as_bytes())?
        else {
            return Ok(None);
        };
        let lookup: LookupKey = lookup
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Integrity)?;
        Ok(self.by_lookup(&lookup)?.map(|r| (lookup, r)))
    }
}

impl Shares<'_, sled::Tree> {
    /// Every link of a vault, with its lookup key.
    pub fn of_vault(&self, b: PrincipalId) -> Result<Vec<(LookupKey, ShareRecord)>> {
        let mut out = Vec::new();
        for kv in self.by_vault.scan_prefix(b.as_bytes()) {
            let (k, v) = kv.map_err(db_error)?;
            let v = self.codec.open(Table::VaultShares, &k, &v)?;
            let lookup: LookupKey = v.as_slice().try_into().map_err(|_| VaultError::Integrity)?;
            if let Some(r) = self.by_lookup(&lookup)?
                && r.beneficiary == b
            {
                out.push((lookup, r));
            }
        }
        Ok(out)
    }
}

impl Shares<'_, TransactionalTree> {
    /// A new link and its two index entries.
    pub fn insert(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<()> {
        self.put(lookup, r)?;
        self.codec
            .put_raw(self.ids, Table::ShareIds, r.id.as_bytes(), lookup, None)?;
        self.codec.put_raw(
            self.by_vault,
            Table::VaultShares,
            &key(&[r.beneficiary.as_bytes(), r.id.as_bytes()]),
            lookup,
            None,
        )
    }

    /// A changed link (its download count).
    pub fn put(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<()> {
        self.codec
            .put(self.shares, Table::Shares, lookup, r, Some(r.beneficiary))
    }

    /// A link and its index entries: its key wrap is gone with it. (Through
    /// [`super::Tx::drop_share`], which keeps the vault's count true.)
    fn remove(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<()> {
        self.shares.remove(lookup.as_slice())?;
        self.ids.remove(r.id.as_bytes().as_slice())?;
        self.by_vault
            .remove(key(&[r.beneficiary.as_bytes(), r.id.as_bytes()]))?;
        Ok(())
    }
}

impl super::Tx<'_> {
    /// Removes a link that is still there (its key wrap goes with it) and
    /// counts it out of its vault's links, in the caller's transaction;
    /// false when it was gone already (a concurrent revocation).
    pub fn drop_share(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<bool> {
        if self.shares().by_lookup(lookup)?.is_none() {
            return Ok(false);
        }
        self.shares().remove(lookup, r)?;
        self.beneficiaries().update(r.beneficiary, |b| {
            b.shares = b.shares.saturating_sub(1);
            Ok(())
        })?;
        Ok(true)
    }
}
