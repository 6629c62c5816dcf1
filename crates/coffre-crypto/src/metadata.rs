//! Keys that protect the metadata store itself.
//!
//! - [`PersonKey`]: one per person. Every record of that person's vault is
//!   sealed under it (AEAD, bound to the record's table and key); the key
//!   itself is kept sealed under the root ring in a file of its own, where
//!   deleting is real (overwritten, then removed). Destroying it at erasure
//!   leaves only unreadable bytes wherever the records may linger (a
//!   log-structured database keeps removed values until it compacts).
//! - [`RecordKey`]: one per server, sealed under the root ring like the
//!   other server secrets. It authenticates (HMAC-SHA-256) every other
//!   record, so someone who can write the database files but holds no root
//!   key cannot forge or alter one (a structure's public key, say).

use ring::hmac;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::binding::Binding;
use crate::primitives::{aead_open, aead_seal, derive_key, fill};
use crate::root::RootKeyRing;
use crate::{Error, PrincipalId, Result};

const PERSON_KEY_LABEL: &[u8] = b"coffre.org/person-records@v1";
const RECORD_KEY_NAME: &str = "record_key";
const RECORD_MAC_LABEL: &[u8] = b"coffre.org/record-mac@v1";

fn person_binding(person: PrincipalId) -> Binding {
    Binding::server_secret(&format!("person-key/{person}"))
}

/// The key of one person's records. Zeroized on drop; never `Clone`.
pub struct PersonKey(Zeroizing<[u8; 32]>);

impl PersonKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        fill(k.as_mut_slice())?;
        Ok(Self(k))
    }

    /// The key sealed under the root ring, bound to its person: what its
    /// file holds.
    pub fn seal(&self, root: &RootKeyRing, person: PrincipalId) -> Result<Vec<u8>> {
        root.seal(self.0.as_slice(), &person_binding(person))
    }

    /// Opens a key sealed by [`PersonKey::seal`] for this person.
    pub fn unseal(sealed: &[u8], root: &RootKeyRing, person: PrincipalId) -> Result<Self> {
        let bytes = root.open(sealed, &person_binding(person))?;
        let mut k = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(Error::Decryption);
        }
        k.copy_from_slice(&bytes);
        Ok(Self(k))
    }

    /// Re-seals under the ring's current version.
    pub fn reseal(sealed: &[u8], root: &RootKeyRing, person: PrincipalId) -> Result<Vec<u8>> {
        root.reseal(sealed, &person_binding(person))
    }

    fn record_key(&self) -> Result<Zeroizing<[u8; 32]>> {
        derive_key(self.0.as_slice(), PERSON_KEY_LABEL, b"records")
    }

    /// Seals one record, bound to `context` (its table and key): a record
    /// moved elsewhere fails to open like a wrong key.
    pub fn seal_record(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        aead_seal(
            &*self.record_key()?,
            &[PERSON_KEY_LABEL, context],
            plaintext,
        )
    }

    /// Opens a record sealed by [`PersonKey::seal_record`].
    pub fn open_record(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        aead_open(&*self.record_key()?, &[PERSON_KEY_LABEL, context], sealed)
    }
}

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey([redacted])")
    }
}

/// The key that authenticates the records not sealed under a person's key.
pub struct RecordKey(Zeroizing<[u8; 32]>);

/// Length of a record's authentication tag.
pub const TAG_LEN: usize = 32;

impl RecordKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        fill(k.as_mut_slice())?;
        Ok(Self(k))
    }

    /// The key sealed under the root ring, for storage.
    pub fn seal(&self, root: &RootKeyRing) -> Result<Vec<u8>> {
        root.seal(self.0.as_slice(), &Binding::server_secret(RECORD_KEY_NAME))
    }

    /// Opens a key sealed by [`RecordKey::seal`].
    pub fn unseal(sealed: &[u8], root: &RootKeyRing) -> Result<Self> {
        let bytes = root.open(sealed, &Binding::server_secret(RECORD_KEY_NAME))?;
        let mut k = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(Error::Decryption);
        }
        k.copy_from_slice(&bytes);
        Ok(Self(k))
    }

    /// Re-seals under the ring's current version.
    pub fn reseal(sealed: &[u8], root: &RootKeyRing) -> Result<Vec<u8>> {
        root.reseal(sealed, &Binding::server_secret(RECORD_KEY_NAME))
    }

    fn mac_key(&self) -> Result<hmac::Key> {
        let k = derive_key(self.0.as_slice(), RECORD_MAC_LABEL, b"hmac")?;
        Ok(hmac::Key::new(hmac::HMAC_SHA256, k.as_slice()))
    }

    /// The tag of `value` stored under `context` (its table and key).
    pub fn tag(&self, context: &[u8], value: &[u8]) -> Result<[u8; TAG_LEN]> {
        let mut ctx = hmac::Context::with_key(&self.mac_key()?);
        ctx.update(&(context.len() as u64).to_be_bytes());
        ctx.update(context);
        ctx.update(value);
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(ctx.sign().as_ref());
        Ok(out)
    }

    /// Whether `tag` is the tag of `value` under `context` (constant time).
    pub fn verify(&self, context: &[u8], value: &[u8], tag: &[u8]) -> Result<bool> {
        Ok(bool::from(self.tag(context, value)?.ct_eq(tag)))
    }
}

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_records_are_bound_and_die_with_the_key() {
        let root = RootKeyRing::generate().unwrap();
        let p = PrincipalId::from_bytes([1; 16]);
        let k = PersonKey::generate().unwrap();
        let sealed_key = k.seal(&root, p).unwrap();
        let r = k
            .seal_record(b"documents/abc", b"{\"title\":\"x\"}")
            .unwrap();
        let again = PersonKey::unseal(&sealed_key, &root, p).unwrap();
        assert_eq!(
            &*again.open_record(b"documents/abc", &r).unwrap(),
            b"{\"title\":\"x\"}"
        );
        // Another context, another person, another key: nothing opens.
        assert!(again.open_record(b"documents/abd", &r).is_err());
        assert!(PersonKey::unseal(&sealed_key, &root, PrincipalId::from_bytes([2; 16])).is_err());
        assert!(
            PersonKey::generate()
                .unwrap()
                .open_record(b"documents/abc", &r)
                .is_err()
        );
    }

    #[test]
    fn record_tags_catch_any_change() {
        let root = RootKeyRing::generate().unwrap();
        let k = RecordKey::generate().unwrap();
        let k2 = RecordKey::unseal(&k.seal(&root).unwrap(), &root).unwrap();
        let t = k
            .tag(b"structures/1", b"{\"recipient\":\"age1...\"}")
            .unwrap();
        assert!(
            k2.verify(b"structures/1", b"{\"recipient\":\"age1...\"}", &t)
                .unwrap()
        );
        assert!(
            !k2.verify(b"structures/1", b"{\"recipient\":\"age1..!\"}", &t)
                .unwrap()
        );
        assert!(
            !k2.verify(b"structures/2", b"{\"recipient\":\"age1...\"}", &t)
                .unwrap()
        );
        assert!(
            !RecordKey::generate()
                .unwrap()
                .verify(b"structures/1", b"{\"recipient\":\"age1...\"}", &t)
                .unwrap()
        );
    }
}
