//! The journal's tables: entries by sequence number, their per-vault
//! index, the per-vault index of the entries kept in view (security events),
//! and signed checkpoints. Only the journal's writer task appends.

use coffre_crypto::PrincipalId;
use coffre_crypto::audit::{Checkpoint, Record};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{db_error, key};
use crate::{Result, VaultError};

// The journal's tables are in clear: its hash chain and signed checkpoints
// are what protect them (and an auditor must read them without any key).
fn decode<V: DeserializeOwned>(bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes)
        .map_err(|_| VaultError::Db("a journal record does not decode".into()))
}

fn encode<V: Serialize>(v: &V) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

fn get<V: DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<V>> {
    match tree.get(key).map_err(db_error)? {
        Some(v) => Ok(Some(decode(&v)?)),
        None => Ok(None),
    }
}

pub(crate) struct JournalStore<'a> {
    audit: &'a sled::Tree,
    by_vault: &'a sled::Tree,
    pinned: &'a sled::Tree,
    checkpoints: &'a sled::Tree,
}

impl<'a> JournalStore<'a> {
    pub(super) fn new(
        audit: &'a sled::Tree,
        by_vault: &'a sled::Tree,
        pinned: &'a sled::Tree,
        checkpoints: &'a sled::Tree,
    ) -> Self {
        Self {
            audit,
            by_vault,
            pinned,
            checkpoints,
        }
    }

    /// Keeps an entry of a vault in view whatever follows it.
    pub fn pin(&self, b: PrincipalId, seq: u64) -> Result<()> {
        self.pinned
            .insert(key(&[b.as_bytes(), &seq.to_be_bytes()]), &[])
            .map_err(db_error)?;
        Ok(())
    }

    /// The newest `limit` pinned entries of a vault, newest first.
    pub fn pinned_of_vault(&self, b: PrincipalId, limit: usize) -> Result<Vec<Record>> {
        self.indexed(self.pinned, b, limit)
    }

    /// Appends an entry (and indexes it under its vault).
    pub fn append(&self, r: &Record, vault: Option<PrincipalId>) -> Result<()> {
        let seq = r.entry.seq.to_be_bytes();
        self.audit.insert(seq, encode(r)?).map_err(db_error)?;
        if let Some(b) = vault {
            self.by_vault
                .insert(key(&[b.as_bytes(), &seq]), &[])
                .map_err(db_error)?;
        }
        Ok(())
    }

    pub fn put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        self.checkpoints
            .insert(c.seq.to_be_bytes(), encode(c)?)
            .map_err(db_error)?;
        Ok(())
    }

    pub fn last(&self) -> Result<Option<Record>> {
        match self.audit.last().map_err(db_error)? {
            Some((_, v)) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn record(&self, seq: u64) -> Result<Option<Record>> {
        get(self.audit, &seq.to_be_bytes())
    }

    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>> {
        match self.checkpoints.last().map_err(db_error)? {
            Some((_, v)) => Ok(Some(decode(&v)?)),
            None => Ok(None),
        }
    }

    /// The checkpoint signing entry `seq`, if one does.
    pub fn checkpoint_at(&self, seq: u64) -> Result<Option<Checkpoint>> {
        get(self.checkpoints, &seq.to_be_bytes())
    }

    /// The first checkpoint at or after `seq`.
    pub fn checkpoint_from(&self, seq: u64) -> Result<Option<Checkpoint>> {
        match self.checkpoints.range(seq.to_be_bytes()..).next() {
            Some(kv) => Ok(Some(decode(&kv.map_err(db_error)?.1)?)),
            None => Ok(None),
        }
    }

    /// The last checkpoint strictly before `seq`.
    pub fn checkpoint_before(&self, seq: u64) -> Result<Option<Checkpoint>> {
        match self.checkpoints.range(..seq.to_be_bytes()).next_back() {
            Some(kv) => Ok(Some(decode(&kv.map_err(db_error)?.1)?)),
            None => Ok(None),
        }
    }

    /// Entries `from..=to`.
    pub fn range(&self, from: u64, to: u64) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        for kv in self.audit.range(from.to_be_bytes()..=to.to_be_bytes()) {
            out.push(decode(&kv.map_err(db_error)?.1)?);
        }
        Ok(out)
    }

    /// Checkpoints signing entries `from..=to`.
    pub fn checkpoints_in(&self, from: u64, to: u64) -> Result<Vec<Checkpoint>> {
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        for kv in self
            .checkpoints
            .range(from.to_be_bytes()..=to.to_be_bytes())
        {
            out.push(decode(&kv.map_err(db_error)?.1)?);
        }
        Ok(out)
    }

    /// The first entry (oldest first) for which `pick` holds.
    pub fn first_where(&self, pick: impl Fn(&Record) -> bool) -> Result<Option<Record>> {
        for kv in self.audit.iter() {
            let r: Record = decode(&kv.map_err(db_error)?.1)?;
            if pick(&r) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// The last entry at or before `seq` (newest first) for which `pick` holds.
    pub fn last_where(&self, seq: u64, pick: impl Fn(&Record) -> bool) -> Result<Option<Record>> {
        for kv in self.audit.range(..=seq.to_be_bytes()).rev() {
            let r: Record = decode(&kv.map_err(db_error)?.1)?;
            if pick(&r) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// A page of a vault's entries, newest first: the `limit` entries
    /// before entry `before` (from the newest when `None`).
    pub fn page_of_vault(
        &self,
        b: PrincipalId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let start = key(&[b.as_bytes(), &0u64.to_be_bytes()]);
        let end = key(&[b.as_bytes(), &before.unwrap_or(u64::MAX).to_be_bytes()]);
        let mut out = Vec::new();
        for k in self.by_vault.range(start..end).keys().rev() {
            if out.len() >= limit {
                break;
            }
            let k = k.map_err(db_error)?;
            if let Some(r) = get::<Record>(self.audit, &k[16..])? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The newest `limit` entries an index names under a vault, newest first.
    fn indexed(&self, index: &sled::Tree, b: PrincipalId, limit: usize) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for k in index.scan_prefix(b.as_bytes()).keys().rev() {
            if out.len() >= limit {
                break;
            }
            let k = k.map_err(db_error)?;
            if let Some(r) = get::<Record>(self.audit, &k[16..])? {
                out.push(r);
            }
        }
        Ok(out)
    }
}
