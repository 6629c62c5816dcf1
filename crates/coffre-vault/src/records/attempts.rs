//! Failed login attempts per account, as stored (the states and their
//! transitions are `crate::lockout`'s).

use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::Codec;
use super::{Lookup, Table, TxResult};

/// Failed login attempts of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AttemptRecord {
    pub failures: u32,
    /// 0 when not locked.
    pub locked_until_ms: i64,
    /// Failures since the last successful login, to tell the owner.
    pub unreported: u32,
    /// When the counter last changed (stale unlocked ones are swept).
    #[serde(default)]
    pub last_ms: i64,
}

pub(crate) struct Attempts<'a, T> {
    codec: &'a Codec,
    t: &'a T,
}

impl<'a, T: Lookup> Attempts<'a, T> {
    pub(super) fn new(codec: &'a Codec, t: &'a T) -> Self {
        Self { codec, t }
    }

    /// The account's counter (a fresh one when there is none).
    pub fn get(&self, account: &[u8]) -> Result<AttemptRecord, T::Err> {
        Ok(self
            .codec
            .get(self.t, Table::Attempts, account)?
            .unwrap_or_default())
    }
}

impl Attempts<'_, sled::Tree> {
    /// The keys of every counter of an account (one per client, and the
    /// account's own).
    pub fn of_account(&self, account: &[u8]) -> crate::Result<Vec<Vec<u8>>> {
        self.t
            .scan_prefix(account)
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(super::db_error))
            .collect()
    }

    /// The keys of the counters last changed before `before` that lock
    /// nothing at `now`.
    pub fn stale(&self, before: i64, now: i64) -> crate::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for kv in self.t.iter() {
            let (k, _) = kv.map_err(super::db_error)?;
            let a: AttemptRecord = self
                .codec
                .get(self.t, Table::Attempts, &k)?
                .unwrap_or_default();
            if a.last_ms < before && a.locked_until_ms <= now {
                out.push(k.to_vec());
            }
        }
        Ok(out)
    }
}

impl Attempts<'_, TransactionalTree> {
    pub fn put(&self, account: &[u8], a: &AttemptRecord) -> TxResult<()> {
        self.codec.put(self.t, Table::Attempts, account, a, None)
    }

    pub fn remove(&self, account: &[u8]) -> TxResult<()> {
        self.t.remove(account)?;
        Ok(())
    }
}
