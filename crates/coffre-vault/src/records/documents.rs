//! Document records (one per document version: sizes, digests, sealed
//! title and names, the wrap of its key), and their per-vault index.

use coffre_crypto::{DocumentId, PrincipalId};
use serde::{Deserialize, Serialize};
use sled::transaction::TransactionalTree;

use super::codec::{Codec, b64};
use super::{Lookup, Table, TxResult, db_error, key};
use crate::Result;
use crate::model::{Category, Date};

/// How a document's key is wrapped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "to")]
pub(crate) enum KeyWrap {
    /// To the owner's recipient only.
    Owner {
        #[serde(with = "b64")]
        wrap: Vec<u8>,
    },
    /// To the scope key of the document's category, at this epoch.
    Scope {
        epoch: u32,
        #[serde(with = "b64")]
        wrap: Vec<u8>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DocumentRecord {
    pub id: DocumentId,
    pub version: u32,
    pub beneficiary: PrincipalId,
    pub category: Category,
    pub size: u64,
    pub stored_size: u64,
    /// SHA-256 of the plaintext (hex), as the export manifest states it.
    pub sha256: String,
    /// SHA-256 of the stored object (hex), for scrubbing: documents
    /// uploaded before `stored_crc64` (empty for later ones).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stored_sha256: String,
    /// CRC-64/NVME of the stored object, for scrubbing (rot, not forgery:
    /// `SECURITY.md`). `None` for documents uploaded before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_crc64: Option<u64>,
    pub uploaded_ms: i64,
    /// `beneficiary:<id>` or `caseworker:<id>`.
    pub uploaded_by: String,
    /// The paper's own expiry date.
    pub expires_on: Option<Date>,
    #[serde(with = "b64")]
    pub sealed_title: Vec<u8>,
    #[serde(with = "b64")]
    pub sealed_filename: Vec<u8>,
    #[serde(with = "b64")]
    pub sealed_content_type: Vec<u8>,
    /// Free notes (who gave the paper, where the original is), sealed; empty
    /// when there are none.
    #[serde(with = "b64", default)]
    pub sealed_notes: Vec<u8>,
    pub key: KeyWrap,
    /// The same fields sealed for listings under the key of the scope
    /// epoch (or owner) the document is listed under
    /// (`coffre_crypto::listing`); empty until someone who can derive that
    /// key has sealed them.
    #[serde(with = "b64", default)]
    pub listing_seal: Vec<u8>,
}

impl DocumentRecord {
    pub fn private(&self) -> bool {
        matches!(self.key, KeyWrap::Owner { .. })
    }

    /// The fields as sealed under the document's key: what a listing seal
    /// is bound to.
    pub fn sealed_fields(&self) -> [&[u8]; 4] {
        [
            &self.sealed_title,
            &self.sealed_filename,
            &self.sealed_content_type,
            &self.sealed_notes,
        ]
    }
}

pub(crate) struct Documents<'a, T> {
    codec: &'a Codec,
    docs: &'a T,
    by_vault: &'a T,
}

impl<'a, T: Lookup> Documents<'a, T> {
    pub(super) fn new(codec: &'a Codec, docs: &'a T, by_vault: &'a T) -> Self {
        Self {
            codec,
            docs,
            by_vault,
        }
    }

    pub fn get(&self, id: DocumentId) -> Result<Option<DocumentRecord>, T::Err> {
        self.codec.get(self.docs, Table::Documents, id.as_bytes())
    }
}

impl Documents<'_, sled::Tree> {
    /// Every document of a vault.
    pub fn of_vault(&self, b: PrincipalId) -> Result<Vec<DocumentRecord>> {
        let mut out = Vec::new();
        for kv in self.by_vault.scan_prefix(b.as_bytes()) {
            let (k, v) = kv.map_err(db_error)?;
            self.codec.open(Table::VaultDocuments, &k, &v)?;
            if let Some(d) =
                self.codec
                    .get::<_, DocumentRecord>(self.docs, Table::Documents, &k[16..])?
                && d.beneficiary == b
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Every document of every vault (scrub, gc).
    pub fn all(&self) -> Result<Vec<DocumentRecord>> {
        let mut out = Vec::new();
        for kv in self.docs.iter() {
            let (k, v) = kv.map_err(db_error)?;
            out.push(self.codec.decode(Table::Documents, &k, &v)?);
        }
        Ok(out)
    }
}

impl Documents<'_, TransactionalTree> {
    /// A new document and its index entry.
    pub fn insert(&self, d: &DocumentRecord) -> TxResult<()> {
        self.put(d)?;
        self.codec.put_raw(
            self.by_vault,
            Table::VaultDocuments,
            &key(&[d.beneficiary.as_bytes(), d.id.as_bytes()]),
            &[],
            None,
        )
    }

    /// A changed document (title, date, key wrap).
    pub fn put(&self, d: &DocumentRecord) -> TxResult<()> {
        self.codec.put(
            self.docs,
            Table::Documents,
            d.id.as_bytes(),
            d,
            Some(d.beneficiary),
        )
    }

    pub fn remove(&self, d: &DocumentRecord) -> TxResult<()> {
        self.docs.remove(d.id.as_bytes().as_slice())?;
        self.by_vault
            .remove(key(&[d.beneficiary.as_bytes(), d.id.as_bytes()]))?;
        Ok(())
    }
}
