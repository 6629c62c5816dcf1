//! The root key ring: the server's own secret, loaded once at start.
//!
//! Versioned 32-byte keys. The ring seals (a) the outer layer of every
//! principal's sealed identity and (b) server-held secrets such as the audit
//! signing key and the blind-index key. Rotation adds a version and the
//! vault re-seals every outer layer; retiring the old versions then bounds
//! what an old database backup can reveal.
//!
//! On disk the ring is an age file, encrypted either to an age X25519
//! identity file or to a passphrase with a fixed scrypt work factor (never
//! age's auto-calibrated one, which makes a file written on a fast host
//! unreadable on a slow one).

use std::io::{Read, Write};

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use crate::binding::Binding;
use crate::primitives::{aead_open, aead_seal, derive_key};
use crate::{Error, Identity, Recipient, Result, UserSecret};

const FILE_MAGIC: &[u8; 16] = b"COFFRE-ROOTKEYS\x01";
const SEAL_FORMAT: u8 = 1;
/// At most this many versions in one ring; rotation retires old ones.
pub const MAX_VERSIONS: usize = 64;

/// scrypt work factor (log2 N) of a passphrase-protected root key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptWorkFactor(u8);

impl ScryptWorkFactor {
    /// What production files use: 2^18, about a second on a small server.
    pub const STANDARD: ScryptWorkFactor = ScryptWorkFactor(18);
    /// The most a file may demand when read back.
    pub const MAX: u8 = 18;

    /// A lower factor (10..=18), for tests only: the name says so wherever
    /// it is called.
    pub fn weak_for_tests(log_n: u8) -> Result<Self> {
        if (10..=Self::MAX).contains(&log_n) {
            Ok(Self(log_n))
        } else {
            Err(Error::InvalidParameter(
                "scrypt work factor must be within 10..=18",
            ))
        }
    }
}

struct RootKey {
    version: u32,
    /// Boxed, so that growing the ring's `Vec` moves a pointer and never
    /// leaves a copy of the key behind in freed memory.
    key: Box<Zeroizing<[u8; 32]>>,
}

/// The versioned root keys. No `Clone`; keys zeroize on drop.
pub struct RootKeyRing {
    /// Sorted by version; the last one is current.
    keys: Vec<RootKey>,
}

impl RootKeyRing {
    /// A new ring with version 1.
    pub fn generate() -> Result<Self> {
        let mut ring = Self { keys: Vec::new() };
        ring.push(1)?;
        Ok(ring)
    }

    fn push(&mut self, version: u32) -> Result<()> {
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        crate::primitives::fill(key.as_mut_slice())?;
        self.keys.push(RootKey { version, key });
        Ok(())
    }

    /// The version new seals use.
    pub fn current_version(&self) -> u32 {
        self.keys.last().map_or(0, |k| k.version)
    }

    /// Every version held.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.version).collect()
    }

    /// Adds a new current version and returns it. Seals made from now on use
    /// it; older seals still open until their version is retired.
    pub fn rotate(&mut self) -> Result<u32> {
        if self.keys.len() >= MAX_VERSIONS {
            return Err(Error::InvalidParameter(
                "too many root key versions; retire old ones first",
            ));
        }
        let next = self
            .current_version()
            .checked_add(1)
            .ok_or(Error::InvalidParameter("root key version overflow"))?;
        self.push(next)?;
        Ok(next)
    }

    /// A copy of this ring with one more version, made current; `self` is
    /// left unchanged so the new ring can be saved before it is used.
    pub fn rotated(&self) -> Result<Self> {
        let mut next = self.copy();
        next.rotate()?;
        Ok(next)
    }

    /// A copy of this ring holding only its current version.
    pub fn current_only(&self) -> Self {
        let mut next = self.copy();
        next.retire_old_versions();
        next
    }

    fn copy(&self) -> Self {
        Self {
            keys: self
                .keys
                .iter()
                .map(|k| RootKey {
                    version: k.version,
                    key: Box::new(Zeroizing::new(**k.key)),
                })
                .collect(),
        }
    }

    /// Destroys every version but the current one and returns those
    /// destroyed. Call only once everything is re-sealed.
    pub fn retire_old_versions(&mut self) -> Vec<u32> {
        let keep = self.keys.len().saturating_sub(1);
        self.keys.drain(..keep).map(|k| k.version).collect()
    }

    fn key(&self, version: u32) -> Result<Zeroizing<[u8; 32]>> {
        let k = self
            .keys
            .iter()
            .find(|k| k.version == version)
            .ok_or(Error::UnknownRootKeyVersion(version))?;
        // A subkey, so the raw root key is used for nothing but derivation.
        derive_key(
            k.key.as_slice(),
            b"coffre.org/root-seal@v1",
            &version.to_be_bytes(),
        )
    }

    /// Seals `plaintext` under the current version:
    /// `0x01 ‖ version(u32 BE) ‖ AEAD blob`, bound to `binding`.
    pub fn seal(&self, plaintext: &[u8], binding: &Binding) -> Result<Vec<u8>> {
        let version = self.current_version();
        let key = self.key(version)?;
        let v = version.to_be_bytes();
        let mut out = vec![SEAL_FORMAT];
        out.extend_from_slice(&v);
        out.extend_from_slice(&aead_seal(&key, &[&v, binding.as_bytes()], plaintext)?);
        Ok(out)
    }

    /// Opens a value sealed by any version still in the ring.
    pub fn open(&self, sealed: &[u8], binding: &Binding) -> Result<Zeroizing<Vec<u8>>> {
        let version = Self::sealed_version(sealed)?;
        let key = self.key(version)?;
        aead_open(
            &key,
            &[&version.to_be_bytes(), binding.as_bytes()],
            &sealed[5..],
        )
    }

    /// Re-seals under the current version (a no-op copy when already current).
    pub fn reseal(&self, sealed: &[u8], binding: &Binding) -> Result<Vec<u8>> {
        if Self::sealed_version(sealed)? == self.current_version() {
            self.open(sealed, binding)?;
            return Ok(sealed.to_vec());
        }
        self.seal(&self.open(sealed, binding)?, binding)
    }

    /// Which root version sealed this value (clear; not secret).
    pub fn sealed_version(sealed: &[u8]) -> Result<u32> {
        match sealed {
            [SEAL_FORMAT, a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(Error::Decryption),
        }
    }

    pub(crate) fn serialize(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(20 + self.keys.len() * 36));
        out.extend_from_slice(FILE_MAGIC);
        out.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        for k in &self.keys {
            out.extend_from_slice(&k.version.to_be_bytes());
            out.extend_from_slice(k.key.as_slice());
        }
        out
    }

    fn deserialize(bytes: &[u8]) -> Result<Self> {
        let bad = || Error::RootKeyFile("unexpected content (not a Coffre root key ring)");
        let rest = bytes.strip_prefix(FILE_MAGIC.as_slice()).ok_or_else(bad)?;
        let (count, mut rest) = rest.split_at_checked(4).ok_or_else(bad)?;
        let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize;
        if count == 0 || count > MAX_VERSIONS || rest.len() != count * 36 {
            return Err(bad());
        }
        let mut keys: Vec<RootKey> = Vec::with_capacity(count);
        for _ in 0..count {
            let (entry, tail) = rest.split_at(36);
            let version = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
            if keys.last().is_some_and(|k| k.version >= version) {
                return Err(bad());
            }
            let mut key = Box::new(Zeroizing::new([0u8; 32]));
            key.copy_from_slice(&entry[4..]);
            keys.push(RootKey { version, key });
            rest = tail;
        }
        Ok(Self { keys })
    }

    fn encrypt_to(&self, recipient: &dyn age::Recipient) -> Result<Vec<u8>> {
        let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
            .map_err(|_| Error::InvalidParameter("age recipient"))?;
        let mut out = Vec::new();
        let mut w = encryptor.wrap_output(&mut out)?;
        w.write_all(&self.serialize())?;
        w.finish()?;
        Ok(out)
    }

    fn decrypt_with(file: &[u8], identity: &dyn age::Identity) -> Result<Self> {
        let decryptor = age::Decryptor::new(file).map_err(|e| match e {
            age::DecryptError::ExcessiveWork { .. } => {
                Error::RootKeyFile("scrypt work factor above the accepted maximum")
            }
            _ => Error::RootKeyFile("not an age file, or damaged"),
        })?;
        let mut reader = decryptor
            .decrypt(std::iter::once(identity))
            .map_err(|e| match e {
                age::DecryptError::ExcessiveWork { .. } => {
                    Error::RootKeyFile("scrypt work factor above the accepted maximum")
                }
                _ => Error::RootKeyFile("wrong identity or passphrase, or damaged file"),
            })?;
        let mut plain = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut plain)
            .map_err(|_| Error::RootKeyFile("damaged file (payload does not authenticate)"))?;
        Self::deserialize(&plain)
    }

    /// The ring as an age file encrypted to an X25519 recipient (the public
    /// half of the operator's identity file).
    pub fn to_file_for_recipient(&self, recipient: &Recipient) -> Result<Vec<u8>> {
        self.encrypt_to(recipient.as_age())
    }

    /// Opens a ring file with the age identity it is encrypted to.
    pub fn from_file_with_identity(file: &[u8], identity: &Identity) -> Result<Self> {
        Self::decrypt_with(file, identity.as_age())
    }

    /// The ring as an age file encrypted to a passphrase, with a fixed
    /// scrypt work factor.
    pub fn to_file_with_passphrase(
        &self,
        passphrase: &UserSecret,
        work: ScryptWorkFactor,
    ) -> Result<Vec<u8>> {
        if passphrase.expose().is_empty() {
            return Err(Error::InvalidParameter("empty passphrase"));
        }
        let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.expose().to_owned()));
        r.set_work_factor(work.0);
        self.encrypt_to(&r)
    }

    /// Opens a ring file with its passphrase.
    pub fn from_file_with_passphrase(file: &[u8], passphrase: &UserSecret) -> Result<Self> {
        let mut id = age::scrypt::Identity::new(SecretString::from(passphrase.expose().to_owned()));
        id.set_max_work_factor(ScryptWorkFactor::MAX);
        Self::decrypt_with(file, &id)
    }
}

impl std::fmt::Debug for RootKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RootKeyRing {{ versions: {:?}, keys: [redacted] }}",
            self.versions()
        )
    }
}

/// Key of the blind indexes of login identifiers: HMAC-SHA-256, so the
/// database can find an account by identifier without holding it in clear.
/// A server secret sealed under the root ring, not derived from a root
/// version, so root rotation leaves every index valid.
pub struct BlindIndexKey(pub(crate) Zeroizing<[u8; 32]>);

const BLIND_INDEX_NAME: &str = "blind-index-key";

impl BlindIndexKey {
    /// A new random key.
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        crate::primitives::fill(k.as_mut_slice())?;
        Ok(Self(k))
    }

    /// The index of `value` in the namespace `domain` (e.g. "beneficiary-login").
    pub fn index(&self, domain: &str, value: &str) -> [u8; 32] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_slice());
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(&(domain.len() as u64).to_be_bytes());
        ctx.update(domain.as_bytes());
        ctx.update(value.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// The key sealed under the root ring.
    pub fn seal(&self, root: &RootKeyRing) -> Result<Vec<u8>> {
        root.seal(self.0.as_slice(), &Binding::server_secret(BLIND_INDEX_NAME))
    }

    /// Re-seals under the ring's current version.
    pub fn reseal(sealed: &[u8], root: &RootKeyRing) -> Result<Vec<u8>> {
        root.reseal(sealed, &Binding::server_secret(BLIND_INDEX_NAME))
    }

    /// Opens a key sealed by [`BlindIndexKey::seal`].
    pub fn unseal(sealed: &[u8], root: &RootKeyRing) -> Result<Self> {
        let bytes = root.open(sealed, &Binding::server_secret(BLIND_INDEX_NAME))?;
        let mut k = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(Error::Decryption);
        }
        k.copy_from_slice(&bytes);
        Ok(Self(k))
    }
}

impl std::fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_reseal_retire() {
        let mut ring = RootKeyRing::generate().unwrap();
        let b = Binding::server_secret("x");
        let old = ring.seal(b"secret", &b).unwrap();
        assert_eq!(RootKeyRing::sealed_version(&old).unwrap(), 1);
        assert_eq!(ring.rotate().unwrap(), 2);
        let new = ring.reseal(&old, &b).unwrap();
        assert_eq!(RootKeyRing::sealed_version(&new).unwrap(), 2);
        assert_eq!(ring.retire_old_versions(), vec![1]);
        assert_eq!(&ring.open(&new, &b).unwrap()[..], b"secret");
        assert!(matches!(
            ring.open(&old, &b),
            Err(Error::UnknownRootKeyVersion(1))
        ));
        assert!(ring.open(&new, &Binding::server_secret("y")).is_err());
    }

    #[test]
    fn rotated_and_current_only_copies_leave_the_original_alone() {
        let ring = RootKeyRing::generate().unwrap();
        let b = Binding::server_secret("x");
        let old = ring.seal(b"secret", &b).unwrap();
        let next = ring.rotated().unwrap();
        assert_eq!((ring.versions(), next.versions()), (vec![1], vec![1, 2]));
        let new = next.reseal(&old, &b).unwrap();
        assert_eq!(RootKeyRing::sealed_version(&new).unwrap(), 2);
        assert!(ring.open(&new, &b).is_err());
        let last = next.current_only();
        assert_eq!((next.versions(), last.versions()), (vec![1, 2], vec![2]));
        assert_eq!(&last.open(&new, &b).unwrap()[..], b"secret");
        assert!(last.open(&old, &b).is_err());
        assert_eq!(&next.open(&old, &b).unwrap()[..], b"secret");
    }

    #[test]
    fn file_round_trips_with_identity_and_passphrase() {
        let mut ring = RootKeyRing::generate().unwrap();
        ring.rotate().unwrap();
        let b = Binding::server_secret("x");
        let sealed = ring.seal(b"v", &b).unwrap();

        let id = Identity::generate();
        let file = ring.to_file_for_recipient(&id.recipient()).unwrap();
        let back = RootKeyRing::from_file_with_identity(&file, &id).unwrap();
        assert_eq!(back.versions(), vec![1, 2]);
        assert_eq!(&back.open(&sealed, &b).unwrap()[..], b"v");
        assert!(RootKeyRing::from_file_with_identity(&file, &Identity::generate()).is_err());

        let pass = UserSecret::from("correct horse battery staple");
        let file = ring
            .to_file_with_passphrase(&pass, ScryptWorkFactor::weak_for_tests(10).unwrap())
            .unwrap();
        let back = RootKeyRing::from_file_with_passphrase(&file, &pass).unwrap();
        assert_eq!(&back.open(&sealed, &b).unwrap()[..], b"v");
        assert!(matches!(
            RootKeyRing::from_file_with_passphrase(&file, &UserSecret::from("wrong")),
            Err(Error::RootKeyFile(_))
        ));
        assert!(ScryptWorkFactor::weak_for_tests(19).is_err());
        assert!(ScryptWorkFactor::weak_for_tests(9).is_err());
    }

    #[test]
    fn blind_index_survives_root_rotation() {
        let mut ring = RootKeyRing::generate().unwrap();
        let k = BlindIndexKey::generate().unwrap();
        let sealed = k.seal(&ring).unwrap();
        let before = k.index("beneficiary", "marie.d");
        ring.rotate().unwrap();
        let resealed = ring
            .reseal(&sealed, &Binding::server_secret(BLIND_INDEX_NAME))
            .unwrap();
        ring.retire_old_versions();
        let k2 = BlindIndexKey::unseal(&resealed, &ring).unwrap();
        assert_eq!(k2.index("beneficiary", "marie.d"), before);
        assert_ne!(k2.index("caseworker", "marie.d"), before);
    }
}
