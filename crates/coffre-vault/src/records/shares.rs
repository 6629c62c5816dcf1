//! Share links: found by the lookup key derived from the link's secret,
//! by their id (revocation), and per vault.

use coffre_crypto::{DocumentId, PrincipalId, ShareId};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{b64, get, put};
use super::{Lookup, TxResult, key};
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
}

pub(crate) struct Shares<'a, T> {
    shares: &'a T,
    ids: &'a T,
    by_vault: &'a T,
}

impl<'a, T: Lookup> Shares<'a, T> {
    pub(super) fn new(shares: &'a T, ids: &'a T, by_vault: &'a T) -> Self {
        Self {
            shares,
            ids,
            by_vault,
        }
    }

    pub fn by_lookup(&self, lookup: &LookupKey) -> Result<Option<ShareRecord>, T::Err> {
        get(self.shares, lookup)
    }

    /// A link by its id, with its lookup key.
    pub fn by_id(&self, id: ShareId) -> Result<Option<(LookupKey, ShareRecord)>, T::Err> {
        let Some(lookup) = self.ids.lookup(id.as_bytes())? else {
            return Ok(None);
        };
        let lookup: LookupKey = lookup
            .as_ref()
            .try_into()
            .map_err(|_| VaultError::Integrity)?;
        Ok(self.by_lookup(&lookup)?.map(|r| (lookup, r)))
    }
}

impl Shares<'_, sled::Tree> {
    /// Every link of a vault, with its lookup key.
    pub fn of_vault(&self, b: PrincipalId) -> Result<Vec<(LookupKey, ShareRecord)>> {
        let mut out = Vec::new();
        for v in self.by_vault.scan_prefix(b.as_bytes()).values() {
            let v = v.map_err(super::db_error)?;
            let lookup: LookupKey = v.as_ref().try_into().map_err(|_| VaultError::Integrity)?;
            if let Some(r) = self.by_lookup(&lookup)? {
                out.push((lookup, r));
            }
        }
        Ok(out)
    }

    pub fn count_of_vault(&self, b: PrincipalId) -> usize {
        self.by_vault.scan_prefix(b.as_bytes()).count()
    }
}

impl Shares<'_, TransactionalTree> {
    /// A new link and its two index entries.
    pub fn insert(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<()> {
        put(self.shares, lookup, r)?;
        self.ids
            .insert(r.id.as_bytes().as_slice(), lookup.as_slice())?;
        self.by_vault.insert(
            key(&[r.beneficiary.as_bytes(), r.id.as_bytes()]),
            lookup.as_slice(),
        )?;
        Ok(())
    }

    /// A changed link (its download count).
    pub fn put(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<()> {
        put(self.shares, lookup, r)
    }

    /// A link and its index entries: its key wrap is gone with it.
    pub fn remove(&self, lookup: &LookupKey, r: &ShareRecord) -> TxResult<()> {
        self.shares.remove(lookup.as_slice())?;
        self.ids.remove(r.id.as_bytes().as_slice())?;
        self.by_vault
            .remove(key(&[r.beneficiary.as_bytes(), r.id.as_bytes()]))?;
        Ok(())
    }
}
