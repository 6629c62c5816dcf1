//! Documents: streamed upload and download, ranges, listing, edits,
//! privacy, deletion (crypto-erasure), papers about to expire.
//!
//! Write order (invariant 2): the object is fully written to the store, then
//! the metadata is committed, then the journal entry is appended and the
//! database flushed — only then does the caller get an answer. A crash
//! before the metadata commit leaves an orphan object for garbage
//! collection.

mod edit;
mod read;
pub use read::{DeskOverview, DeskPaper};
mod streams;
mod upload;

use std::io;

use bytes::Bytes;
use coffre_crypto::listing::ListedFields;
use coffre_crypto::object::{self, Field, ObjectHeader};
use coffre_crypto::{Dek, DocumentId, PrincipalId};
use coffre_store::ObjectKey;
use futures_util::stream::BoxStream;
use serde::Serialize;

use crate::model::{Category, Date};
use crate::records::DocumentRecord;
use crate::{Result, Vault, VaultError};

/// Plaintext flowing in (upload) or out (download).
pub type PlaintextStream = BoxStream<'static, io::Result<Bytes>>;

const MAX_TITLE: usize = 300;
const MAX_FILENAME: usize = 255;
const MAX_CONTENT_TYPE: usize = 127;
const MAX_NOTES: usize = 2000;

/// What comes with an upload besides the bytes.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    pub category: Option<Category>,
    pub title: Option<String>,
    pub filename: String,
    pub content_type: Option<String>,
    pub expires_on: Option<Date>,
    pub private: Option<bool>,
    pub notes: Option<String>,
}

/// A document as its reader sees it (titles decrypted for them).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DocumentInfo {
    pub document_id: DocumentId,
    pub beneficiary_id: PrincipalId,
    pub title: String,
    pub category: Category,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at_ms: i64,
    pub uploaded_by: String,
    pub expires_on: Option<Date>,
    pub private: bool,
    pub notes: Option<String>,
}

impl DocumentInfo {
    /// A description from the fields a listing shows (opened from its
    /// listing seal or with its key).
    pub(crate) fn listed(d: &DocumentRecord, f: ListedFields) -> Self {
        Self {
            document_id: d.id,
            beneficiary_id: d.beneficiary,
            title: f.title,
            category: d.category,
            filename: f.filename,
            content_type: f.content_type,
            size: d.size,
            sha256: d.sha256.clone(),
            uploaded_at_ms: d.uploaded_ms,
            uploaded_by: d.uploaded_by.clone(),
            expires_on: d.expires_on,
            private: d.private(),
            notes: (!f.notes.is_empty()).then_some(f.notes),
        }
    }

    /// What a listing seal holds of it.
    pub(crate) fn listed_fields(&self) -> ListedFields {
        ListedFields {
            title: self.title.clone(),
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            notes: self.notes.clone().unwrap_or_default(),
        }
    }
}

/// One line of text, trimmed, printable, at most `max` characters.
pub(crate) fn text(s: &str, max: usize, what: &str) -> Result<String> {
    let s = s.trim();
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(VaultError::Invalid(format!(
            "{what}: at most {max} printable characters"
        )));
    }
    Ok(s.to_owned())
}

/// Notes may span lines; other control characters are refused.
fn notes_text(s: &str) -> Result<String> {
    let s = s.trim();
    if s.chars().count() > MAX_NOTES || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(VaultError::Invalid(format!(
            "notes: at most {MAX_NOTES} characters"
        )));
    }
    Ok(s.to_owned())
}

fn header(d: &DocumentRecord) -> ObjectHeader {
    ObjectHeader::new(d.id, d.version)
}

fn object_key(d: &DocumentRecord) -> ObjectKey {
    ObjectKey::document(d.id, d.version)
}

impl Vault {
    /// A document's description, its sealed fields opened with its key.
    pub(crate) fn info(&self, d: &DocumentRecord, dek: &Dek) -> Result<DocumentInfo> {
        let h = header(d);
        let fields = object::FieldOpener::new(dek)?;
        let open = |f, v: &[u8]| -> Result<String> { Ok(fields.open(&h, f, v)?.to_string()) };
        Ok(DocumentInfo::listed(
            d,
            ListedFields {
                title: open(Field::Title, &d.sealed_title)?,
                filename: open(Field::FileName, &d.sealed_filename)?,
                content_type: open(Field::ContentType, &d.sealed_content_type)?,
                notes: if d.sealed_notes.is_empty() {
                    String::new()
                } else {
                    open(Field::Notes, &d.sealed_notes)?
                },
            },
        ))
    }
}
