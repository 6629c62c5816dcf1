//! Consent grants, and their per-vault index.

use coffre_crypto::{GrantId, PrincipalId};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{self, get, put};
use super::{Lookup, TxResult, key};
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
    grants: &'a T,
    by_vault: &'a T,
}

impl<'a, T: Lookup> Grants<'a, T> {
    pub(super) fn new(grants: &'a T, by_vault: &'a T) -> Self {
        Self { grants, by_vault }
    }

    pub fn get(&self, id: GrantId) -> Result<Option<GrantRecord>, T::Err> {
        get(self.grants, id.as_bytes())
    }
}

impl Grants<'_, sled::Tree> {
    /// Every grant of a vault, live or not.
    pub fn of_vault(&self, b: PrincipalId) -> Result<Vec<GrantRecord>> {
        let mut out = Vec::new();
        for k in self.by_vault.scan_prefix(b.as_bytes()).keys() {
            let k = k.map_err(super::db_error)?;
            if let Some(g) = get(self.grants, &k[16..])? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// Every grant of every vault (the expiry sweeper).
    pub fn all(&self) -> Result<Vec<GrantRecord>> {
        let mut out = Vec::new();
        for v in self.grants.iter().values() {
            out.push(codec::decode(&v.map_err(super::db_error)?)?);
        }
        Ok(out)
    }
}

impl Grants<'_, TransactionalTree> {
    /// A new grant and its index entry.
    pub fn insert(&self, g: &GrantRecord) -> TxResult<()> {
        put(self.grants, g.id.as_bytes(), g)?;
        self.by_vault
            .insert(key(&[g.beneficiary.as_bytes(), g.id.as_bytes()]), &[])?;
        Ok(())
    }

    /// A changed grant (revoked, swept).
    pub fn put(&self, g: &GrantRecord) -> TxResult<()> {
        put(self.grants, g.id.as_bytes(), g)
    }

    pub fn remove(&self, g: &GrantRecord) -> TxResult<()> {
        self.grants.remove(g.id.as_bytes().as_slice())?;
        self.by_vault
            .remove(key(&[g.beneficiary.as_bytes(), g.id.as_bytes()]))?;
        Ok(())
    }
}
