//! Object keys. Made of random ids only, so no key ever carries personal
//! data; sharded by the first byte of the id so that a filesystem directory
//! stays small and listing or garbage collection can go shard by shard.
//!
//! Grammar (the only keys this crate accepts):
//! `doc/<2 hex>/<32 hex document id>-v<decimal version>`, where the shard is
//! the id's first byte.

use std::fmt;

use coffre_crypto::DocumentId;

use crate::{Result, StoreError};

/// Ordered as its text, which is the listing order.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    text: String,
    document: DocumentId,
    version: u32,
}

impl ObjectKey {
    /// The object of one document version.
    pub fn document(document: DocumentId, version: u32) -> Self {
        let id = document.to_string();
        Self {
            text: format!("doc/{}/{}-v{}", &id[..2], id, version),
            document,
            version,
        }
    }

    /// Parses a key read back from a listing; refuses anything outside the
    /// grammar (so no key can name a path outside the store).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || StoreError::InvalidKey(s.chars().take(200).collect());
        let rest = s.strip_prefix("doc/").ok_or_else(bad)?;
        let (shard, name) = rest.split_once('/').ok_or_else(bad)?;
        let (id, version) = name.split_once("-v").ok_or_else(bad)?;
        let document: DocumentId = id.parse().map_err(|_| bad())?;
        let is_lower_hex = id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let version: u32 = version.parse().map_err(|_| bad())?;
        let canonical = Self::document(document, version);
        if !is_lower_hex || shard != &id[..2] || canonical.text != s {
            return Err(bad());
        }
        Ok(canonical)
    }

    /// The document version this key holds.
    pub fn document_version(&self) -> (DocumentId, u32) {
        (self.document, self.version)
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Path components, for the filesystem backend.
    pub(crate) fn components(&self) -> impl Iterator<Item = &str> {
        self.text.split('/')
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({})", self.text)
    }
}

/// A listing prefix: all documents, or one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// Every document object.
    pub fn documents() -> Self {
        Self("doc/".into())
    }

    /// The documents of one shard (first byte of the id).
    pub fn shard(first_byte: u8) -> Self {
        Self(format!("doc/{first_byte:02x}/"))
    }

    /// The prefix as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_reject_anything_else() {
        let id = DocumentId::random().unwrap();
        let k = ObjectKey::document(id, 7);
        assert_eq!(ObjectKey::parse(k.as_str()).unwrap(), k);
        assert_eq!(k.document_version(), (id, 7));
        assert!(
            k.as_str()
                .starts_with(KeyPrefix::shard(id.as_bytes()[0]).as_str())
        );
        let hex = id.to_string();
        for bad in [
            String::new(),
            "doc/".into(),
            format!("doc/zz/{hex}-v1"),
            format!("doc/{}/{hex}-v1/../../etc", &hex[..2]),
            format!("doc/{}/{}-v1", &hex[..2], hex.to_uppercase()),
            format!("doc/{}/{hex}-v01", &hex[..2]),
            format!("doc/{}/{hex}-v", &hex[..2]),
            format!("/doc/{}/{hex}-v1", &hex[..2]),
            format!("doc/{}/../{hex}-v1", &hex[..2]),
        ] {
            assert!(ObjectKey::parse(&bad).is_err(), "{bad:?} accepted");
        }
    }
}
