//! Recoveries under way: started by a structure admin, confirmed by a
//! second member of the same structure, completed with the new secret the
//! person types; they expire if not completed.

use coffre_crypto::{PrincipalId, RecoveryId};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::Codec;
use super::{Lookup, Table, TxResult, db_error};
use crate::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingRecovery {
    pub id: RecoveryId,
    pub beneficiary: PrincipalId,
    pub structure: PrincipalId,
    pub started_by: PrincipalId,
    pub confirmed_by: Option<PrincipalId>,
    pub expires_ms: i64,
}

pub(crate) struct Recoveries<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Recoveries<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }

    pub fn get(&self, id: RecoveryId) -> Result<Option<PendingRecovery>, T::Err> {
        self.codec.get(self.t, Table::Recoveries, id.as_bytes())
    }
}

impl Recoveries<'_, sled::Tree> {
    /// Every recovery under way (a handful at most).
    pub fn all(&self) -> Result<Vec<PendingRecovery>> {
        let mut out = Vec::new();
        for kv in self.t.iter() {
            let (k, v) = kv.map_err(db_error)?;
            out.push(self.codec.decode(Table::Recoveries, &k, &v)?);
        }
        Ok(out)
    }
}

impl Recoveries<'_, TransactionalTree> {
    pub fn put(&self, r: &PendingRecovery) -> TxResult<()> {
        self.codec.put(
            self.t,
            Table::Recoveries,
            r.id.as_bytes(),
            r,
            Some(r.beneficiary),
        )
    }

    pub fn remove(&self, id: RecoveryId) -> TxResult<()> {
        self.t.remove(id.as_bytes().as_slice())?;
        Ok(())
    }
}
