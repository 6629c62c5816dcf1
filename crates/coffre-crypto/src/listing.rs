//! Listing seals: what a listing shows of a document (title, file name,
//! type, notes) sealed a second time, under a key derived from the
//! identity that opens the document's key — the scope identity of its
//! category and epoch, or the owner's identity for a private paper.
//!
//! Why: opening a document's key costs one X25519 operation (about 53 µs
//! here, the floor of any public-key step), so a listing that opened every
//! key could not list 1,000 papers in 20 ms. With listing seals it derives
//! one key per category and opens each entry with AES-GCM.
//!
//! Who can derive a listing key is exactly who holds the identity it comes
//! from: the person, and structures holding that scope identity through a
//! live *view* consent. A structure with upload-only consent holds only the
//! scope's public key: it wraps new keys to it, and can neither derive the
//! listing key nor read nor write a listing seal (its uploads get theirs
//! from the next reader).
//!
//! A seal is bound to the document version, to the key it is listed under
//! (owner, or scope epoch) and to the fields as sealed under the document's
//! key, which stay the reference: after a rotation, a privacy change or a
//! new title, the old seal no longer opens, and the reader falls back to
//! the document's key. No code path has to remember to retire a seal.

use zeroize::Zeroizing;

use crate::primitives::{aead_open, aead_seal, derive_key};
use crate::{DocumentId, Error, Identity, Result};

const SALT: &[u8] = b"coffre.org/listing-key@v1";
const AAD_LABEL: &[u8] = b"coffre.org/listing-seal@v1";
/// Longest field (as for the fields sealed under the DEK).
const MAX_FIELD: usize = 4096;

/// What a listing shows of a document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedFields {
    /// The title.
    pub title: String,
    /// The file name.
    pub filename: String,
    /// The content type.
    pub content_type: String,
    /// Free notes, empty when there are none.
    pub notes: String,
}

/// Which key a document is listed under: its owner's identity (a private
/// paper) or the scope identity of this epoch (a shared one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListedUnder {
    /// The owner's own identity.
    Owner,
    /// The scope identity of its category at this epoch.
    Scope(u32),
}

/// A key opening the listing seals of one scope epoch (or of one owner's
/// private papers). Zeroized on drop.
pub struct ListingKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ListingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListingKey([redacted])")
    }
}

/// What a seal is bound to: `reference` holds the same fields as sealed
/// under the document's key.
fn aad(document: DocumentId, version: u32, under: ListedUnder, reference: &[&[u8]]) -> Vec<u8> {
    let mut a = AAD_LABEL.to_vec();
    a.extend_from_slice(document.as_bytes());
    a.extend_from_slice(&version.to_be_bytes());
    match under {
        ListedUnder::Owner => a.push(0),
        ListedUnder::Scope(epoch) => {
            a.push(1);
            a.extend_from_slice(&epoch.to_be_bytes());
        }
    }
    for r in reference {
        a.extend_from_slice(&(r.len() as u64).to_be_bytes());
        a.extend_from_slice(r);
    }
    a
}

impl ListingKey {
    /// The listing key of an identity: HKDF-SHA-256 of its secret, under a
    /// label of its own (the identity's X25519 use never sees this key).
    pub fn of(identity: &Identity) -> Result<Self> {
        let secret = identity.secret_text();
        Ok(Self(derive_key(secret.as_bytes(), SALT, b"listing")?))
    }

    /// Seals `fields` for one document version listed `under` this key;
    /// `reference` is the same fields as sealed under the document's key
    /// (title, file name, type, notes, as stored).
    pub fn seal(
        &self,
        document: DocumentId,
        version: u32,
        under: ListedUnder,
        reference: &[&[u8]],
        fields: &ListedFields,
    ) -> Result<Vec<u8>> {
        let parts = [
            &fields.title,
            &fields.filename,
            &fields.content_type,
            &fields.notes,
        ];
        let mut plain = Zeroizing::new(Vec::new());
        for p in parts {
            if p.len() > MAX_FIELD {
                return Err(Error::InvalidParameter("field longer than 4096 bytes"));
            }
            plain.extend_from_slice(&(p.len() as u32).to_be_bytes());
            plain.extend_from_slice(p.as_bytes());
        }
        aead_seal(
            &self.0,
            &[&aad(document, version, under, reference)],
            &plain,
        )
    }

    /// Opens a seal made by [`ListingKey::seal`] for the same document
    /// version, key and reference fields; any other is
    /// [`Error::Decryption`].
    pub fn open(
        &self,
        document: DocumentId,
        version: u32,
        under: ListedUnder,
        reference: &[&[u8]],
        sealed: &[u8],
    ) -> Result<ListedFields> {
        let plain = aead_open(
            &self.0,
            &[&aad(document, version, under, reference)],
            sealed,
        )?;
        let mut rest: &[u8] = &plain;
        let mut next = || -> Result<String> {
            if rest.len() < 4 {
                return Err(Error::Decryption);
            }
            let (len, tail) = rest.split_at(4);
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > tail.len() || len > MAX_FIELD {
                return Err(Error::Decryption);
            }
            let (s, tail) = tail.split_at(len);
            rest = tail;
            String::from_utf8(s.to_vec()).map_err(|_| Error::Decryption)
        };
        let fields = ListedFields {
            title: next()?,
            filename: next()?,
            content_type: next()?,
            notes: next()?,
        };
        if !rest.is_empty() {
            return Err(Error::Decryption);
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> ListedFields {
        ListedFields {
            title: "Titre de séjour".into(),
            filename: "titre.pdf".into(),
            content_type: "application/pdf".into(),
            notes: String::new(),
        }
    }

    #[test]
    fn opens_only_for_its_document_version_and_key() {
        let scope = Identity::generate();
        let key = ListingKey::of(&scope).unwrap();
        let d = DocumentId::from_bytes([1; 16]);
        let r: &[&[u8]] = &[b"title sealed under the DEK", b"file name"];
        let sealed = key.seal(d, 1, ListedUnder::Scope(3), r, &fields()).unwrap();
        assert_eq!(
            key.open(d, 1, ListedUnder::Scope(3), r, &sealed).unwrap(),
            fields()
        );
        // A new title under the document's key retires the seal.
        let retitled: &[&[u8]] = &[b"another title", b"file name"];
        assert!(
            key.open(d, 1, ListedUnder::Scope(3), retitled, &sealed)
                .is_err()
        );
        // Another version, epoch, kind of key, document, or identity: no.
        for (doc, v, under) in [
            (d, 2, ListedUnder::Scope(3)),
            (d, 1, ListedUnder::Scope(4)),
            (d, 1, ListedUnder::Owner),
            (DocumentId::from_bytes([2; 16]), 1, ListedUnder::Scope(3)),
        ] {
            assert!(matches!(
                key.open(doc, v, under, r, &sealed),
                Err(Error::Decryption)
            ));
        }
        let other = ListingKey::of(&Identity::generate()).unwrap();
        assert!(other.open(d, 1, ListedUnder::Scope(3), r, &sealed).is_err());
        // The same identity always gives the same key.
        let again = ListingKey::of(&scope).unwrap();
        assert!(again.open(d, 1, ListedUnder::Scope(3), r, &sealed).is_ok());
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(key.open(d, 1, ListedUnder::Scope(3), r, &bad).is_err());
        assert!(key.open(d, 1, ListedUnder::Scope(3), r, &[]).is_err());
    }

    #[test]
    fn long_fields_are_refused() {
        let key = ListingKey::of(&Identity::generate()).unwrap();
        let mut f = fields();
        f.title = "x".repeat(4097);
        let d = DocumentId::from_bytes([1; 16]);
        assert!(key.seal(d, 1, ListedUnder::Owner, &[], &f).is_err());
    }
}
