//! C2SP chunked encryption, Cobblestone-256 instantiation
//! (c2sp.org/chunked-encryption): AES-256-GCM, HKDF-SHA-512, 16 KiB chunks,
//! 32-byte key commitment.
//!
//! `key ‖ base_nonce ‖ commitment = HKDF-Expand-SHA-512(input key,
//! "c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM" ‖ 0x00 ‖ salt ‖ context, 76)`;
//! the ciphertext is `salt(24) ‖ commitment(32) ‖ chunks`; chunk `i` is sealed
//! with nonce `base_nonce XOR be96(i)` and empty associated data; every chunk
//! but the last holds exactly 16 KiB of plaintext and the last strictly less
//! (possibly nothing), which is how truncation at a chunk boundary is caught
//! without a final-chunk flag.
//!
//! This module is the bare primitive; [`crate::object`] builds the stored
//! format and the streaming API on it.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Error, Result};

pub(crate) const CHUNK_SIZE: usize = 16 * 1024;
pub(crate) const TAG_LEN: usize = 16;
pub(crate) const SEALED_CHUNK_LEN: usize = CHUNK_SIZE + TAG_LEN;
pub(crate) const SALT_LEN: usize = 24;
pub(crate) const COMMITMENT_LEN: usize = 32;
/// `salt ‖ commitment`, before the first chunk.
pub(crate) const PREFIX_LEN: usize = SALT_LEN + COMMITMENT_LEN;
pub(crate) const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const LABEL: &[u8] = b"c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM\x00";

struct OkmLen;
impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        KEY_LEN + NONCE_LEN + COMMITMENT_LEN
    }
}

/// The per-message AEAD key and base nonce. ring keeps its own expanded key
/// schedule, which it does not zeroize, so these values live only as long as
/// one object is being sealed or opened.
pub(crate) struct ChunkCipher {
    key: LessSafeKey,
    base_nonce: [u8; NONCE_LEN],
}

fn derive(
    input_key: &[u8],
    salt: &[u8; SALT_LEN],
    context: &[u8],
) -> Result<(ChunkCipher, Zeroizing<[u8; COMMITMENT_LEN]>)> {
    if input_key.len() != KEY_LEN {
        return Err(Error::Decryption);
    }
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA512, input_key);
    let info = [LABEL, salt.as_slice(), context];
    let mut okm = Zeroizing::new([0u8; KEY_LEN + NONCE_LEN + COMMITMENT_LEN]);
    prk.expand(&info, OkmLen)?.fill(okm.as_mut_slice())?;
    let key = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, &okm[..KEY_LEN])?);
    let mut base_nonce = [0u8; NONCE_LEN];
    base_nonce.copy_from_slice(&okm[KEY_LEN..KEY_LEN + NONCE_LEN]);
    let mut commitment = Zeroizing::new([0u8; COMMITMENT_LEN]);
    commitment.copy_from_slice(&okm[KEY_LEN + NONCE_LEN..]);
    Ok((ChunkCipher { key, base_nonce }, commitment))
}

impl ChunkCipher {
    /// Starts a new message: draws a salt and returns the cipher and the
    /// `salt ‖ commitment` prefix to write before the chunks.
    pub(crate) fn seal(
        input_key: &[u8; KEY_LEN],
        context: &[u8],
    ) -> Result<(Self, [u8; PREFIX_LEN])> {
        let salt: [u8; SALT_LEN] = crate::primitives::array()?;
        Self::seal_with_salt(input_key, context, &salt)
    }

    pub(crate) fn seal_with_salt(
        input_key: &[u8; KEY_LEN],
        context: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<(Self, [u8; PREFIX_LEN])> {
        let (cipher, commitment) = derive(input_key, salt, context)?;
        let mut prefix = [0u8; PREFIX_LEN];
        prefix[..SALT_LEN].copy_from_slice(salt);
        prefix[SALT_LEN..].copy_from_slice(commitment.as_slice());
        Ok((cipher, prefix))
    }

    /// Reads the `salt ‖ commitment` prefix and checks the commitment, in
    /// constant time, before any chunk can be opened: a wrong key or context
    /// stops here.
    pub(crate) fn open(input_key: &[u8], context: &[u8], prefix: &[u8]) -> Result<Self> {
        let (salt, commitment) = prefix.split_at_checked(SALT_LEN).ok_or(Error::Decryption)?;
        if commitment.len() != COMMITMENT_LEN {
            return Err(Error::Decryption);
        }
        let salt: &[u8; SALT_LEN] = salt.try_into().map_err(|_| Error::Decryption)?;
        let (cipher, expected) = derive(input_key, salt, context)?;
        if bool::from(expected.as_slice().ct_eq(commitment)) {
            Ok(cipher)
        } else {
            Err(Error::Decryption)
        }
    }

    fn nonce(&self, index: u64) -> Nonce {
        let mut nonce = self.base_nonce;
        for (n, c) in nonce[NONCE_LEN - 8..].iter_mut().zip(index.to_be_bytes()) {
            *n ^= c;
        }
        Nonce::assume_unique_for_key(nonce)
    }

    /// Seals `chunk` in place (plaintext in, ciphertext out) and returns the
    /// tag to append. Callers keep chunk sizes right: `CHUNK_SIZE` for all but
    /// the final chunk, less for the final one.
    pub(crate) fn seal_chunk(&self, index: u64, chunk: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        debug_assert!(chunk.len() <= CHUNK_SIZE);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(index), Aad::empty(), chunk)
            .map_err(|_| Error::InvalidParameter("chunk"))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens `sealed` (ciphertext ‖ tag) in place and returns the plaintext
    /// part. Fails unless the length fits the chunk's position: a full chunk
    /// when `last` is false, a short one when it is true.
    pub(crate) fn open_chunk<'a>(
        &self,
        index: u64,
        last: bool,
        sealed: &'a mut [u8],
    ) -> Result<&'a mut [u8]> {
        let ok_len = if last {
            (TAG_LEN..SEALED_CHUNK_LEN).contains(&sealed.len())
        } else {
            sealed.len() == SEALED_CHUNK_LEN
        };
        if !ok_len {
            return Err(Error::Decryption);
        }
        Ok(self
            .key
            .open_in_place(self.nonce(index), Aad::empty(), sealed)?)
    }
}

/// Sans-IO streaming sealer: plaintext in, sealed chunks out, with at most
/// one partial chunk buffered.
pub(crate) struct StreamSealer {
    cipher: ChunkCipher,
    partial: Zeroizing<Vec<u8>>,
    index: u64,
}

impl StreamSealer {
    pub(crate) fn new(cipher: ChunkCipher) -> Self {
        Self {
            cipher,
            partial: Zeroizing::new(Vec::with_capacity(CHUNK_SIZE)),
            index: 0,
        }
    }

    /// Seals `plaintext`, appending sealed chunks to `out`. A full chunk is sealed as soon as it is complete: the final
    /// chunk is always the short one, so no lookahead is needed.
    pub(crate) fn push(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        while !plaintext.is_empty() {
            if self.partial.is_empty() && plaintext.len() >= CHUNK_SIZE {
                let (chunk, rest) = plaintext.split_at(CHUNK_SIZE);
                emit(&self.cipher, &mut self.index, chunk, out)?;
                plaintext = rest;
            } else {
                let take = (CHUNK_SIZE - self.partial.len()).min(plaintext.len());
                let (head, rest) = plaintext.split_at(take);
                self.partial.extend_from_slice(head);
                plaintext = rest;
                if self.partial.len() == CHUNK_SIZE {
                    emit(&self.cipher, &mut self.index, &self.partial, out)?;
                    self.partial.clear();
                }
            }
        }
        Ok(())
    }

    /// Seals the final, short chunk (empty when the message length is a
    /// multiple of the chunk size).
    pub(crate) fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        emit(&self.cipher, &mut self.index, &self.partial, out)
    }

    /// Seals the next full chunk in place: `chunk` holds exactly
    /// `CHUNK_SIZE` bytes of plaintext, the caller's own buffer (no copy);
    /// returns the tag to write after it. Refused while `push` holds a
    /// partial chunk (the two ways cannot be mixed mid-chunk).
    pub(crate) fn seal_full_in_place(&mut self, chunk: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        if !self.partial.is_empty() || chunk.len() != CHUNK_SIZE {
            return Err(Error::InvalidParameter(
                "a full chunk, with nothing pending",
            ));
        }
        let tag = self.cipher.seal_chunk(self.index, chunk)?;
        self.index = self
            .index
            .checked_add(1)
            .ok_or(Error::InvalidParameter("message too long"))?;
        Ok(tag)
    }

    /// Seals the final, short chunk in place (`last` holds fewer than
    /// `CHUNK_SIZE` bytes, maybe none); returns its tag.
    pub(crate) fn finish_in_place(self, last: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        if !self.partial.is_empty() || last.len() >= CHUNK_SIZE {
            return Err(Error::InvalidParameter(
                "a short final chunk, with nothing pending",
            ));
        }
        self.cipher.seal_chunk(self.index, last)
    }
}

fn emit(cipher: &ChunkCipher, index: &mut u64, chunk: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.reserve(chunk.len() + TAG_LEN);
    out.extend_from_slice(chunk);
    let tag = cipher.seal_chunk(*index, &mut out[start..])?;
    out.extend_from_slice(&tag);
    *index = index
        .checked_add(1)
        .ok_or(Error::InvalidParameter("message too long"))?;
    Ok(())
}

/// Sans-IO streaming opener: sealed chunks in, authenticated plaintext out.
///
/// A chunk's plaintext is released only once that chunk has authenticated,
/// and a full chunk only once at least one more byte has arrived (it cannot
/// be the last). What was released before an error is authentic but may be
/// incomplete: the stream is whole only when [`StreamOpener::finish`]
/// returns `Ok`. After any error the opener stays failed.
pub(crate) struct StreamOpener {
    cipher: ChunkCipher,
    pending: Vec<u8>,
    index: u64,
    failed: bool,
}

impl StreamOpener {
    pub(crate) fn new(cipher: ChunkCipher) -> Self {
        Self {
            cipher,
            pending: Vec::with_capacity(SEALED_CHUNK_LEN),
            index: 0,
            failed: false,
        }
    }

    pub(crate) fn push(&mut self, mut sealed: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(Error::Decryption);
        }
        while !sealed.is_empty() {
            if self.pending.len() == SEALED_CHUNK_LEN {
                // More bytes follow, so the buffered full chunk is not the last.
                self.release(false, out)?;
            } else if self.pending.is_empty() && sealed.len() > SEALED_CHUNK_LEN {
                let (chunk, rest) = sealed.split_at(SEALED_CHUNK_LEN);
                let start = out.len();
                out.extend_from_slice(chunk);
                let opened = self
                    .cipher
                    .open_chunk(self.index, false, &mut out[start..])
                    .map(|p| p.len());
                self.advance(opened, start, out)?;
                sealed = rest;
            } else {
                let take = (SEALED_CHUNK_LEN - self.pending.len()).min(sealed.len());
                let (head, rest) = sealed.split_at(take);
                self.pending.extend_from_slice(head);
                sealed = rest;
            }
        }
        Ok(())
    }

    /// Opens the buffered final chunk. Fails if the stream ended on a full
    /// chunk, inside a chunk, or without any chunk.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(Error::Decryption);
        }
        let res = self.release(true, out);
        // Nothing may be pushed after the end.
        self.failed = true;
        res
    }

    /// Opens the buffered chunk and appends its plaintext to `out`.
    fn release(&mut self, last: bool, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let opened = match self.cipher.open_chunk(self.index, last, &mut self.pending) {
            Ok(plain) => {
                out.extend_from_slice(plain);
                Ok(plain.len())
            }
            Err(e) => Err(e),
        };
        // The buffer held plaintext after a successful open.
        self.pending.fill(0);
        self.pending.clear();
        self.advance(opened, start, out)
    }

    fn advance(&mut self, opened: Result<usize>, start: usize, out: &mut Vec<u8>) -> Result<()> {
        match opened {
            Ok(len) => {
                out.truncate(start + len);
                self.index = self.index.checked_add(1).ok_or(Error::Decryption)?;
                Ok(())
            }
            Err(e) => {
                // ring leaves unspecified bytes behind on failure: never
                // let them reach the caller.
                out[start..].fill(0);
                out.truncate(start);
                self.failed = true;
                Err(e)
            }
        }
    }
}

/// Length of the chunk stream (without prefix) for a plaintext length.
pub(crate) fn sealed_len(plaintext_len: u64) -> u64 {
    let chunks = plaintext_len / CHUNK_SIZE as u64 + 1;
    plaintext_len.saturating_add(chunks * TAG_LEN as u64)
}

/// Inverse of [`sealed_len`]; `None` for a length no message can have.
pub(crate) fn plaintext_len(sealed_len: u64) -> Option<u64> {
    let full = sealed_len / SEALED_CHUNK_LEN as u64;
    let rest = sealed_len % SEALED_CHUNK_LEN as u64;
    if rest < TAG_LEN as u64 {
        return None;
    }
    Some(full * CHUNK_SIZE as u64 + rest - TAG_LEN as u64)
}

/// Whole-message decryption through the streaming opener, fed in pieces of
/// `step` bytes; returns what was released and the outcome.
#[cfg(test)]
pub(crate) fn open_streaming(
    input_key: &[u8],
    context: &[u8],
    ct: &[u8],
    step: usize,
) -> (Vec<u8>, Result<()>) {
    let mut out = Vec::new();
    let Some((prefix, body)) = ct.split_at_checked(PREFIX_LEN) else {
        return (out, Err(Error::Decryption));
    };
    let cipher = match ChunkCipher::open(input_key, context, prefix) {
        Ok(c) => c,
        Err(e) => return (out, Err(e)),
    };
    let mut opener = StreamOpener::new(cipher);
    for piece in body.chunks(step.max(1)) {
        if let Err(e) = opener.push(piece, &mut out) {
            return (out, Err(e));
        }
    }
    let res = opener.finish(&mut out);
    (out, res)
}

#[cfg(test)]
mod wycheproof_vectors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for n in [0u64, 1, 16383, 16384, 16385, 32768, 10 * 16384 + 7] {
            assert_eq!(plaintext_len(sealed_len(n)), Some(n), "n = {n}");
        }
        // A stream ending on a full chunk, or inside a tag, is no message.
        assert_eq!(plaintext_len(SEALED_CHUNK_LEN as u64), None);
        assert_eq!(plaintext_len(15), None);
        assert_eq!(plaintext_len(0), None);
    }

    #[test]
    fn nonce_xors_big_endian_counter_into_low_bytes() {
        let (c, _) = ChunkCipher::seal_with_salt(&[7; 32], b"", &[1; SALT_LEN]).unwrap();
        let base = c.base_nonce;
        let n = c.nonce(0x0102);
        let bytes = n.as_ref();
        assert_eq!(bytes[..10], base[..10]);
        assert_eq!(bytes[10], base[10] ^ 0x01);
        assert_eq!(bytes[11], base[11] ^ 0x02);
    }
}
