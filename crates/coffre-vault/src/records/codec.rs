//! How records are stored (schema 2): JSON, protected according to their
//! table.
//!
//! - **Sealed to a person** (every table of one vault: the person, their
//!   scope keys and wraps, grants, documents, links, recoveries):
//!   `person id (16) ‖ AEAD(person key, context, JSON)`. Without the
//!   person's key — sealed under the root ring, destroyed at erasure — the
//!   bytes say nothing, and cannot be forged or moved.
//! - **Authenticated** (structures, caseworkers, logins, codes, links,
//!   indexes, attempts): `JSON ‖ HMAC(record key, context, JSON)`. Someone
//!   who can write the database files but holds no root key cannot change a
//!   structure's public key or a caseworker's structure.
//! - **Clear** (the schema version, root-sealed server secrets, and the
//!   journal, which its hash chain and signed checkpoints protect).
//!
//! The context of a record is its table's name and its key: a value copied
//! under another key, or into another table, fails like a forged one.

use coffre_crypto::PrincipalId;
use coffre_crypto::metadata::{RecordKey, TAG_LEN};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::TransactionalTree;

use super::keyfiles::PersonKeys;
use super::{Lookup, Table, TxFail, TxResult, id_at};
use crate::{Result, VaultError};

/// How one table's values are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protection {
    Person,
    Authenticated,
    Clear,
}

impl Table {
    pub(crate) fn protection(self) -> Protection {
        match self {
            Table::Beneficiaries
            | Table::ScopeHeads
            | Table::Scopes
            | Table::ScopeWraps
            | Table::Grants
            | Table::Documents
            | Table::Shares
            | Table::Recoveries => Protection::Person,
            Table::Meta
            | Table::Audit
            | Table::AuditByVault
            | Table::AuditPinned
            | Table::Checkpoints => Protection::Clear,
            _ => Protection::Authenticated,
        }
    }
}

/// Encodes and decodes the values of every table.
pub(crate) struct Codec {
    record_key: RecordKey,
    pub(super) persons: PersonKeys,
}

fn context(table: Table, key: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(table.name().len() + 1 + key.len());
    c.extend_from_slice(table.name().as_bytes());
    c.push(0);
    c.extend_from_slice(key);
    c
}

/// A record that fails authentication: logged here, where it is found,
/// with its table (never its content).
fn tampered(table: Table) -> VaultError {
    tracing::error!(
        table = table.name(),
        "a metadata record failed authentication: the database files were altered"
    );
    VaultError::Tampered(table.name())
}

impl Codec {
    pub fn new(record_key: RecordKey, persons: PersonKeys) -> Self {
        Self {
            record_key,
            persons,
        }
    }

    /// The authenticated bytes of a stored value.
    pub fn open(&self, table: Table, key: &[u8], stored: &[u8]) -> Result<Vec<u8>> {
        match table.protection() {
            Protection::Clear => Ok(stored.to_vec()),
            Protection::Authenticated => {
                let Some(split) = stored.len().checked_sub(TAG_LEN) else {
                    return Err(tampered(table));
                };
                let (value, tag) = stored.split_at(split);
                if self.record_key.verify(&context(table, key), value, tag)? {
                    Ok(value.to_vec())
                } else {
                    Err(tampered(table))
                }
            }
            Protection::Person => {
                let person = id_at(stored, 0).ok_or_else(|| tampered(table))?;
                let person = PrincipalId::from_bytes(person);
                let k = self.persons.get(person)?;
                match k.open_record(&context(table, key), &stored[16..]) {
                    Ok(v) => Ok(v.to_vec()),
                    Err(_) => Err(tampered(table)),
                }
            }
        }
    }

    /// The stored form of `value` (its owner's id for a person's table).
    pub fn seal(
        &self,
        table: Table,
        key: &[u8],
        value: &[u8],
        person: Option<PrincipalId>,
    ) -> Result<Vec<u8>> {
        match table.protection() {
            Protection::Clear => Ok(value.to_vec()),
            Protection::Authenticated => {
                let mut out = Vec::with_capacity(value.len() + TAG_LEN);
                out.extend_from_slice(value);
                out.extend_from_slice(&self.record_key.tag(&context(table, key), value)?);
                Ok(out)
            }
            Protection::Person => {
                let person =
                    person.ok_or(VaultError::Internal("a person's record needs its person"))?;
                let k = self.persons.get(person)?;
                let mut out = person.as_bytes().to_vec();
                out.extend_from_slice(&k.seal_record(&context(table, key), value)?);
                Ok(out)
            }
        }
    }

    pub fn decode<V: DeserializeOwned>(
        &self,
        table: Table,
        key: &[u8],
        stored: &[u8],
    ) -> Result<V> {
        let bytes = self.open(table, key, stored)?;
        serde_json::from_slice(&bytes)
            .map_err(|_| VaultError::Db("a metadata record does not decode".into()))
    }

    pub fn encode<V: Serialize>(
        &self,
        table: Table,
        key: &[u8],
        value: &V,
        person: Option<PrincipalId>,
    ) -> Result<Vec<u8>> {
        self.seal(table, key, &serde_json::to_vec(value)?, person)
    }

    /// Reads and decodes one record.
    pub fn get<T: Lookup, V: DeserializeOwned>(
        &self,
        tree: &T,
        table: Table,
        key: &[u8],
    ) -> std::result::Result<Option<V>, T::Err> {
        match tree.lookup(key)? {
            Some(v) => Ok(Some(self.decode(table, key, &v)?)),
            None => Ok(None),
        }
    }

    /// Reads one record's authenticated bytes.
    pub fn get_raw<T: Lookup>(
        &self,
        tree: &T,
        table: Table,
        key: &[u8],
    ) -> std::result::Result<Option<Vec<u8>>, T::Err> {
        match tree.lookup(key)? {
            Some(v) => Ok(Some(self.open(table, key, &v)?)),
            None => Ok(None),
        }
    }

    /// Encodes and writes one record inside a transaction.
    pub fn put<V: Serialize>(
        &self,
        tree: &TransactionalTree,
        table: Table,
        key: &[u8],
        value: &V,
        person: Option<PrincipalId>,
    ) -> TxResult<()> {
        let v = self
            .encode(table, key, value, person)
            .map_err(TxFail::Abort)?;
        tree.insert(key, v)?;
        Ok(())
    }

    /// Writes raw bytes (an index entry, a wrap) with their protection.
    pub fn put_raw(
        &self,
        tree: &TransactionalTree,
        table: Table,
        key: &[u8],
        value: &[u8],
        person: Option<PrincipalId>,
    ) -> TxResult<()> {
        let v = self
            .seal(table, key, value, person)
            .map_err(TxFail::Abort)?;
        tree.insert(key, v)?;
        Ok(())
    }
}

/// Bytes as base64 in JSON.
pub(crate) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}
