//! Consent grants, and their per-vault index.

use coffre_crypto::{GrantId, PrincipalId};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::Codec;
use super::{Lookup, Table, TxResult, db_error, key};
use crate::Result;
use crate::model::{Category, Permission};

/// A consent: a beneficiary lets a structure view and/or upload papers of
/// some categories until a date.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    pub beneficiary: PrincipalId,
    pub structure: PrincipalId,
    pub categories: Vec<Category>,
    pub permissions: Vec<Permission>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    /// The sweeper has removed its wraps after expiry.
    #[serde(default)]
    pub swept: bool,
}

impl GrantRecord {
    /// Neither revoked nor expired at `now_ms`.
    pub fn live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && now_ms < self.expires_ms
    }

    /// Live, with `permission`, on `category`.
    pub fn gives(&self, now_ms: i64, category: Category, permission: Permission) -> bool {
        self.live(now_ms)
            && self.categories.contains(&category)
            && self.permissions.contains(&permission)
    }
}

pub(crate) struct Grants<'a, T> {
    codec: &'a Codec,
    grants: &'a T,
    by_vault: &'a T,
}

impl<'a, T: Lookup> Grants<'a, T> {
    pub(super) fn new(codec: &'a Codec, grants: &'a T, by_vault: &'a T) -> Self {
        Self {
            codec,
            grants,
            by_vault,
        }
    }

    pub fn get(&self, id: GrantId) -> Result<Option<GrantRecord>, T::Err> {
        self.codec.get(self.grants, Table::Grants, id.as_bytes())
    }
}

impl Grants<'_, sled::Tree> {
    /// Every grant of a vault, live or not.
    pub fn of_vault(&self, b: PrincipalId) -> Result<Vec<GrantRecord>> {
        let mut out = Vec::new();
        for kv in self.by_vault.scan_prefix(b.as_bytes()) {
            let (k, v) = kv.map_err(db_error)?;
            self.codec.open(Table::VaultGrants, &k, &v)?;
            if let Some(g) =
                self.codec
                    .get::<_, GrantRecord>(self.grants, Table::Grants, &k[16..])?
                && g.beneficiary == b
            {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// Every grant of every vault (the expiry sweeper).
    pub fn all(&self) -> Result<Vec<GrantRecord>> {
        let mut out = Vec::new();
        for kv in self.grants.iter() {
            let (k, v) = kv.map_err(db_error)?;
            out.push(self.codec.decode(Table::Grants, &k, &v)?);
        }
        Ok(out)
    }
}

impl Grants<'_, TransactionalTree> {
    /// A new grant and its index entry.
    pub fn insert(&self, g: &GrantRecord) -> TxResult<()> {
        self.put(g)?;
        self.codec.put_raw(
            self.by_vault,
            Table::VaultGrants,
            &key(&[g.beneficiary.as_bytes(), g.id.as_bytes()]),
            &[],
            None,
        )
    }

    /// A changed grant (revoked, swept).
    pub fn put(&self, g: &GrantRecord) -> TxResult<()> {
        self.codec.put(
            self.grants,
            Table::Grants,
            g.id.as_bytes(),
            g,
            Some(g.beneficiary),
        )
    }

    pub fn remove(&self, g: &GrantRecord) -> TxResult<()> {
        self.grants.remove(g.id.as_bytes().as_slice())?;
        self.by_vault
            .remove(key(&[g.beneficiary.as_bytes(), g.id.as_bytes()]))?;
        Ok(())
    }
}
