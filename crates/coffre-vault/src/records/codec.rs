//! How records are stored: JSON values (schema 1).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Lookup, TxFail, TxResult};
use crate::{Result, VaultError};

pub(super) fn decode<V: DeserializeOwned>(bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes)
        .map_err(|_| VaultError::Db("a metadata record does not decode".into()))
}

pub(super) fn encode<V: Serialize>(value: &V) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

/// Reads and decodes one record.
pub(super) fn get<T: Lookup, V: DeserializeOwned>(
    tree: &T,
    key: &[u8],
) -> std::result::Result<Option<V>, T::Err> {
    match tree.lookup(key)? {
        Some(v) => Ok(Some(decode(&v)?)),
        None => Ok(None),
    }
}

/// Encodes and writes one record inside a transaction.
pub(super) fn put<V: Serialize>(
    tree: &sled::transaction::TransactionalTree,
    key: &[u8],
    value: &V,
) -> TxResult<()> {
    tree.insert(key, encode(value).map_err(TxFail::Abort)?)?;
    Ok(())
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
