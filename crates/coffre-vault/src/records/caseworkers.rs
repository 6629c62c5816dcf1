//! Caseworkers and their one-time enrollment codes.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{self, b64, get, put};
use super::{Lookup, TxResult};
use crate::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CaseworkerRecord {
    pub id: PrincipalId,
    pub structure: PrincipalId,
    pub admin: bool,
    pub active: bool,
    /// Blind index of the login.
    pub login_index: String,
    /// Set at enrollment.
    pub recipient: Option<String>,
    #[serde(with = "b64", default)]
    pub sealed_identity: Vec<u8>,
    /// The structure identity wrapped to this caseworker's recipient.
    #[serde(with = "b64", default)]
    pub structure_wrap: Vec<u8>,
    pub created_ms: i64,
}

/// A one-time enrollment code (stored under its lookup key).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EnrollmentRecord {
    pub caseworker: PrincipalId,
    pub structure: PrincipalId,
    pub expires_ms: i64,
    /// The structure identity wrapped under the code.
    #[serde(with = "b64")]
    pub structure_wrap: Vec<u8>,
}

pub(crate) struct Caseworkers<'a, T> {
    t: &'a T,
}

impl<'a, T: Lookup> Caseworkers<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }

    pub fn get(&self, id: PrincipalId) -> Result<Option<CaseworkerRecord>, T::Err> {
        get(self.t, id.as_bytes())
    }
}

impl Caseworkers<'_, sled::Tree> {
    pub fn all(&self) -> Result<Vec<CaseworkerRecord>> {
        let mut out = Vec::new();
        for v in self.t.iter().values() {
            out.push(codec::decode(&v.map_err(super::db_error)?)?);
        }
        Ok(out)
    }
}

impl Caseworkers<'_, TransactionalTree> {
    pub fn put(&self, c: &CaseworkerRecord) -> TxResult<()> {
        put(self.t, c.id.as_bytes(), c)
    }
}

pub(crate) struct Codes<'a, T> {
    t: &'a T,
}

impl<'a, T: Lookup> Codes<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }
}

impl Codes<'_, sled::Tree> {
    /// Lookup keys of the codes pending for a caseworker.
    pub fn of_caseworker(&self, caseworker: PrincipalId) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for kv in self.t.iter() {
            let (k, v) = kv.map_err(super::db_error)?;
            if codec::decode::<EnrollmentRecord>(&v).is_ok_and(|r| r.caseworker == caseworker) {
                out.push(k.to_vec());
            }
        }
        Ok(out)
    }
}

impl Codes<'_, TransactionalTree> {
    pub fn insert(&self, lookup: &[u8], r: &EnrollmentRecord) -> TxResult<()> {
        put(self.t, lookup, r)
    }

    /// Takes a code out (it is used once): its record, if it existed.
    pub fn claim(&self, lookup: &[u8]) -> TxResult<Option<EnrollmentRecord>> {
        match self.t.remove(lookup)? {
            Some(v) => Ok(Some(codec::decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn remove(&self, lookup: &[u8]) -> TxResult<()> {
        self.t.remove(lookup)?;
        Ok(())
    }
}
