//! Failed login attempts per account, as stored (the states and their
//! transitions are `crate::lockout`'s).

use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{get, put};
use super::{Lookup, TxResult};

/// Failed login attempts of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AttemptRecord {
    pub failures: u32,
    /// 0 when not locked.
    pub locked_until_ms: i64,
    /// Failures since the last successful login, to tell the owner.
    pub unreported: u32,
}

pub(crate) struct Attempts<'a, T> {
    t: &'a T,
}

impl<'a, T: Lookup> Attempts<'a, T> {
    pub(super) fn new(t: &'a T) -> Self {
        Self { t }
    }

    /// The account's counter (a fresh one when there is none).
    pub fn get(&self, account: &[u8]) -> Result<AttemptRecord, T::Err> {
        Ok(get(self.t, account)?.unwrap_or_default())
    }
}

impl Attempts<'_, TransactionalTree> {
    pub fn put(&self, account: &[u8], a: &AttemptRecord) -> TxResult<()> {
        put(self.t, account, a)
    }

    pub fn remove(&self, account: &[u8]) -> TxResult<()> {
        self.t.remove(account)?;
        Ok(())
    }
}
