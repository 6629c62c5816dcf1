//! Structures (CCAS, associations): the units that receive consent.

use coffre_crypto::PrincipalId;
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{self, get, put};
use super::{Lookup, TxResult};
use crate::Result;

/// A structure. Its private key exists only wrapped to its caseworkers (and
/// to one-time enrollment codes); `recipient` is its public half.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StructureRecord {
    pub id: PrincipalId,
    pub name: String,
    pub recipient: String,
    pub created_ms: i64,
}

pub(crate) struct Structures<'a, T> {
    t: &'a T,
}

impl<'a, T: Lookup> Structures<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }

    pub fn get(&self, id: PrincipalId) -> Result<Option<StructureRecord>, T::Err> {
        get(self.t, id.as_bytes())
    }
}

impl Structures<'_, sled::Tree> {
    pub fn all(&self) -> Result<Vec<StructureRecord>> {
        let mut out = Vec::new();
        for v in self.t.iter().values() {
            out.push(codec::decode(&v.map_err(super::db_error)?)?);
        }
        Ok(out)
    }
}

impl Structures<'_, TransactionalTree> {
    pub fn put(&self, s: &StructureRecord) -> TxResult<()> {
        put(self.t, s.id.as_bytes(), s)
    }
}
