//! The primitives everything else is built from, and nothing else: the
//! system's randomness, AES-256-GCM with random nonces, HKDF-SHA-256
//! subkeys. A leaf: it uses no other module of the crate.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Fills `buf` from the operating system's randomness (through ring).
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::Rng)
}

/// `N` random bytes.
pub(crate) fn array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

/// AES-256-GCM with a random nonce: `0x01 ‖ nonce(12) ‖ ciphertext ‖ tag`.
pub(crate) fn aead_seal(key: &[u8; 32], aad: &[&[u8]], plaintext: &[u8]) -> Result<Vec<u8>> {
    let key = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, key)?);
    let nonce: [u8; 12] = array()?;
    let aad = aad.concat();
    let mut out = Vec::with_capacity(13 + plaintext.len() + 16);
    out.push(1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut out[13..],
        )
        .map_err(|_| Error::InvalidParameter("sealed value too large"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

pub(crate) fn aead_open(
    key: &[u8; 32],
    aad: &[&[u8]],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if sealed.len() < 13 + 16 || sealed[0] != 1 {
        return Err(Error::Decryption);
    }
    let key = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, key)?);
    let nonce = Nonce::try_assume_unique_for_key(&sealed[1..13])?;
    let aad = aad.concat();
    let mut buf = Zeroizing::new(sealed[13..].to_vec());
    let n = key.open_in_place(nonce, Aad::from(&aad), &mut buf)?.len();
    buf.truncate(n);
    Ok(buf)
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA-256 of a 32-byte secret, for subkeys with distinct labels.
pub(crate) fn derive_key(secret: &[u8], salt: &[u8], label: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(secret);
    let mut out = Zeroizing::new([0u8; 32]);
    prk.expand(&[label], Len32)?.fill(out.as_mut_slice())?;
    Ok(out)
}
