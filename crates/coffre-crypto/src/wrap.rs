//! Key wraps. Every wrap binds what it belongs to (a [`Binding`]), so a wrap
//! copied onto another record fails to open, with the same opaque
//! [`Error::Decryption`] as a wrong key.
//!
//! - DEKs and identities wrapped to an age X25519 recipient: scope keys to a
//!   beneficiary and to structures, DEKs to a scope or to the owner, a
//!   structure key to its caseworkers, a beneficiary's identity to a
//!   recovery trustee.
//! - A DEK wrapped under a key derived from a share link's secret.
//! - A principal's identity sealed twice: inside under argon2id of the
//!   person's secret, outside under the current root key. The outer layer can
//!   be re-sealed to a new root version without the person's secret.

use std::io::{Read, Write};

use argon2::{Algorithm, Argon2, Params, Version};
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::primitives::{aead_open, aead_seal, derive_key};
use crate::root::RootKeyRing;
use crate::{Dek, Error, Identity, Recipient, Result, UserSecret};

pub use crate::binding::Binding;

const KIND_DEK: u8 = 1;
const KIND_IDENTITY: u8 = 2;
const KIND_OTP: u8 = 3;

/// Inside the age envelope: `SHA-256(binding) ‖ kind ‖ secret`. age
/// authenticates its payload, so the binding cannot be altered.
fn age_wrap(secret: &[u8], kind: u8, to: &Recipient, binding: &Binding) -> Result<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(33 + secret.len()));
    plain.extend_from_slice(digest(&SHA256, binding.as_bytes()).as_ref());
    plain.push(kind);
    plain.extend_from_slice(secret);
    let recipient: &dyn age::Recipient = to.as_age();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
        .map_err(|_| Error::InvalidParameter("age recipient"))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = encryptor.wrap_output(&mut out)?;
    w.write_all(&plain)?;
    w.finish()?;
    Ok(out)
}

fn age_unwrap(
    wrapped: &[u8],
    kind: u8,
    with: &Identity,
    binding: &Binding,
) -> Result<Zeroizing<Vec<u8>>> {
    // The buffered parser: `Decryptor::new` re-reads the header byte by
    // byte (quadratic; 37 µs of the 121 µs a wrap took to open).
    let decryptor = age::Decryptor::new_buffered(wrapped).map_err(|_| Error::Decryption)?;
    let identity: &dyn age::Identity = with.as_age();
    let mut r = decryptor
        .decrypt(std::iter::once(identity))
        .map_err(|_| Error::Decryption)?;
    let mut plain = Zeroizing::new(Vec::new());
    r.read_to_end(&mut plain).map_err(|_| Error::Decryption)?;
    if plain.len() < 33 {
        return Err(Error::Decryption);
    }
    let expected = digest(&SHA256, binding.as_bytes());
    let same = plain[..32].ct_eq(expected.as_ref()) & plain[32].ct_eq(&kind);
    if !bool::from(same) {
        return Err(Error::Decryption);
    }
    Ok(Zeroizing::new(plain[33..].to_vec()))
}

/// Wraps a DEK to one age recipient (a scope or the owner).
pub fn wrap_dek(dek: &Dek, to: &Recipient, binding: &Binding) -> Result<Vec<u8>> {
    age_wrap(dek.expose(), KIND_DEK, to, binding)
}

/// Opens a DEK wrapped by [`wrap_dek`].
pub fn unwrap_dek(wrapped: &[u8], with: &Identity, binding: &Binding) -> Result<Dek> {
    Dek::from_slice(&age_unwrap(wrapped, KIND_DEK, with, binding)?)
}

/// Wraps an identity to one age recipient (scope key to a structure,
/// structure key to a caseworker, a beneficiary to a recovery trustee).
pub fn wrap_identity(identity: &Identity, to: &Recipient, binding: &Binding) -> Result<Vec<u8>> {
    age_wrap(
        identity.secret_text().as_bytes(),
        KIND_IDENTITY,
        to,
        binding,
    )
}

/// Opens an identity wrapped by [`wrap_identity`].
pub fn unwrap_identity(wrapped: &[u8], with: &Identity, binding: &Binding) -> Result<Identity> {
    Identity::from_secret_text(&age_unwrap(wrapped, KIND_IDENTITY, with, binding)?)
}

/// Wraps a second-factor secret to its caseworker's own identity: only
/// their password (which opens that identity) lets the server check a
/// code, so a copy of the disks and the root key yields no codes.
pub fn wrap_otp_secret(
    secret: &crate::otp::OtpSecret,
    to: &Recipient,
    binding: &Binding,
) -> Result<Vec<u8>> {
    age_wrap(secret.expose(), KIND_OTP, to, binding)
}

/// Opens a secret wrapped by [`wrap_otp_secret`].
pub fn unwrap_otp_secret(
    wrapped: &[u8],
    with: &Identity,
    binding: &Binding,
) -> Result<crate::otp::OtpSecret> {
    crate::otp::OtpSecret::from_slice(&age_unwrap(wrapped, KIND_OTP, with, binding)?)
}

/// A 256-bit bearer secret: a share link's, or a one-time enrolment code's.
/// The holder carries it; the server keeps only [`ShareSecret::lookup_key`]
/// and what is wrapped under a key derived from it (a DEK for a share link,
/// a structure identity for an enrolment code), so a database leak opens
/// nothing.
pub struct ShareSecret(pub(crate) Zeroizing<[u8; 32]>);

const SHARE_SALT: &[u8] = b"coffre.org/share-link@v1";

impl ShareSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<Self> {
        let mut s = Zeroizing::new([0u8; 32]);
        crate::primitives::fill(s.as_mut_slice())?;
        Ok(Self(s))
    }

    /// The token to put in the link: 43 characters of URL-safe base64.
    pub fn to_token(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0.as_slice()))
    }

    /// Parses a token made by [`ShareSecret::to_token`].
    pub fn from_token(token: &str) -> Result<Self> {
        use base64::Engine;
        let mut s = Zeroizing::new([0u8; 32]);
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.trim())
                .map_err(|_| Error::Malformed("share link token"))?,
        );
        if bytes.len() != 32 {
            return Err(Error::Malformed("share link token"));
        }
        s.copy_from_slice(&bytes);
        Ok(Self(s))
    }

    /// What the server stores to find the link's row: a one-way function of
    /// the secret, useless for unwrapping.
    pub fn lookup_key(&self) -> Result<[u8; 32]> {
        Ok(*derive_key(self.0.as_slice(), SHARE_SALT, b"lookup")?)
    }

    /// Wraps a DEK under a key derived from this secret.
    pub fn wrap_dek(&self, dek: &Dek, binding: &Binding) -> Result<Vec<u8>> {
        let key = derive_key(self.0.as_slice(), SHARE_SALT, b"wrap")?;
        aead_seal(
            &key,
            &[b"coffre.org/share-wrap@v1", binding.as_bytes()],
            dek.expose(),
        )
    }

    /// Opens a DEK wrapped by [`ShareSecret::wrap_dek`].
    pub fn unwrap_dek(&self, wrapped: &[u8], binding: &Binding) -> Result<Dek> {
        let key = derive_key(self.0.as_slice(), SHARE_SALT, b"wrap")?;
        Dek::from_slice(&aead_open(
            &key,
            &[b"coffre.org/share-wrap@v1", binding.as_bytes()],
            wrapped,
        )?)
    }

    /// Wraps an identity under this secret (a structure identity handed to
    /// whoever enrols with this code).
    pub fn wrap_identity(&self, identity: &Identity, binding: &Binding) -> Result<Vec<u8>> {
        let key = derive_key(self.0.as_slice(), SHARE_SALT, b"wrap-identity")?;
        aead_seal(
            &key,
            &[b"coffre.org/code-wrap@v1", binding.as_bytes()],
            identity.secret_text().as_bytes(),
        )
    }

    /// Opens an identity wrapped by [`ShareSecret::wrap_identity`].
    pub fn unwrap_identity(&self, wrapped: &[u8], binding: &Binding) -> Result<Identity> {
        let key = derive_key(self.0.as_slice(), SHARE_SALT, b"wrap-identity")?;
        Identity::from_secret_text(&aead_open(
            &key,
            &[b"coffre.org/code-wrap@v1", binding.as_bytes()],
            wrapped,
        )?)
    }
}

impl std::fmt::Debug for ShareSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareSecret([redacted])")
    }
}

/// argon2id cost of the inner seal. Stored with each seal so the cost can be
/// raised later without breaking older seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Refuses costs below OWASP's floor, and above a ceiling that keeps one
    /// login from exhausting the server.
    fn check(&self) -> Result<()> {
        let strong_enough = (self.memory_kib >= 19 * 1024 && self.iterations >= 2)
            || (self.memory_kib >= 46 * 1024 && self.iterations >= 1);
        if !strong_enough || self.parallelism == 0 {
            return Err(Error::InvalidParameter(
                "argon2id cost below the OWASP minimum",
            ));
        }
        if self.memory_kib > 1024 * 1024 || self.iterations > 16 || self.parallelism > 8 {
            return Err(Error::InvalidParameter(
                "argon2id cost above the accepted maximum",
            ));
        }
        Ok(())
    }

    fn derive(&self, secret: &UserSecret, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        self.check()?;
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|_| Error::InvalidParameter("argon2id parameters"))?;
        let need = params.block_count();
        let mut out = Zeroizing::new([0u8; 32]);
        // Each thread keeps its own working memory from one derivation to
        // the next (19 MiB with OWASP's parameters): allocated once, so the
        // allocator does not keep a freed copy per thread that ever ran
        // one; and wiped after each use (argon2's own allocation is freed
        // without being wiped).
        thread_local! {
            static MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        MEMORY.with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < need {
                memory.resize(need, argon2::Block::default());
            }
            let blocks = &mut memory[..need];
            let result = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into_with_memory(
                    secret.expose().as_bytes(),
                    salt,
                    out.as_mut_slice(),
                    &mut *blocks,
                );
            blocks.iter_mut().for_each(zeroize::Zeroize::zeroize);
            result.map_err(|_| Error::InvalidParameter("argon2id input"))
        })?;
        Ok(out)
    }
}

const INNER_FORMAT: u8 = 1;
const INNER_HEADER_LEN: usize = 1 + 12 + 16;

/// Seals `identity` for storage: inner layer under argon2id(`secret`),
/// outer layer under the ring's current root key.
///
/// Inner: `0x01 ‖ m(u32) ‖ t(u32) ‖ p(u32) ‖ salt(16) ‖ AEAD(identity)`;
/// the whole inner blob is then sealed by [`RootKeyRing::seal`].
pub fn seal_identity(
    identity: &Identity,
    secret: &UserSecret,
    params: KdfParams,
    binding: &Binding,
    root: &RootKeyRing,
) -> Result<Vec<u8>> {
    let salt: [u8; 16] = crate::primitives::array()?;
    let key = params.derive(secret, &salt)?;
    let mut inner = Vec::with_capacity(INNER_HEADER_LEN + 128);
    inner.push(INNER_FORMAT);
    inner.extend_from_slice(&params.memory_kib.to_be_bytes());
    inner.extend_from_slice(&params.iterations.to_be_bytes());
    inner.extend_from_slice(&params.parallelism.to_be_bytes());
    inner.extend_from_slice(&salt);
    let sealed = aead_seal(
        &key,
        &[b"coffre.org/identity-inner@v1", &inner, binding.as_bytes()],
        identity.secret_text().as_bytes(),
    )?;
    inner.extend_from_slice(&sealed);
    root.seal(&inner, binding)
}

/// Opens a sealed identity with the person's secret. A wrong secret, a wrong
/// binding, an unknown root version or altered bytes all give
/// [`Error::Decryption`] (or [`Error::UnknownRootKeyVersion`] for a retired
/// root key, which is an operator problem, not a guess).
pub fn open_identity(
    sealed: &[u8],
    secret: &UserSecret,
    binding: &Binding,
    root: &RootKeyRing,
) -> Result<Identity> {
    let inner = root.open(sealed, binding)?;
    let header = inner.get(..INNER_HEADER_LEN).ok_or(Error::Decryption)?;
    if header[0] != INNER_FORMAT {
        return Err(Error::Decryption);
    }
    let word = |i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&header[i..i + 4]);
        u32::from_be_bytes(w)
    };
    let params = KdfParams {
        memory_kib: word(1),
        iterations: word(5),
        parallelism: word(9),
    };
    let salt = &header[13..29];
    let key = params.derive(secret, salt)?;
    let plain = aead_open(
        &key,
        &[b"coffre.org/identity-inner@v1", header, binding.as_bytes()],
        &inner[INNER_HEADER_LEN..],
    )?;
    Identity::from_secret_text(&plain)
}

/// Re-seals the outer layer under the ring's current root key. Needs no
/// secret of the person: the inner layer is carried over as it is.
pub fn reseal_identity(sealed: &[u8], binding: &Binding, root: &RootKeyRing) -> Result<Vec<u8>> {
    root.reseal(sealed, binding)
}
