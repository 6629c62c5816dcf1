//! The stored object, format v1 (specified byte by byte in `docs/FORMAT.md`).
//!
//! ```text
//! object = header(28) ‖ salt(24) ‖ commitment(32) ‖ chunks
//! header = "COFFRE" ‖ format version (0x01) ‖ suite (0x01) ‖ document id(16) ‖ document version(u32 BE)
//! ```
//!
//! The header is the Cobblestone *context*: an object copied under another
//! document id or version fails the key commitment before any chunk opens.
//! Objects never contain wrapped keys: wraps live in the metadata store only,
//! so deleting them erases every copy of the object.
//!
//! Three ways in: sans-IO [`Sealer`]/[`Opener`] (for async bodies), the
//! `std::io` adapters [`ObjectWriter`]/[`ObjectReader`], and [`RandomAccess`]
//! to open chunk *k* alone for HTTP range requests.

use std::io::{self, Read, Write};
use std::ops::Range;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use zeroize::Zeroizing;

use crate::chunked::{self, CHUNK_SIZE, ChunkCipher, SEALED_CHUNK_LEN, StreamOpener, StreamSealer};
use crate::{Dek, DocumentId, Error, Result};

/// `"COFFRE"`.
pub const MAGIC: [u8; 6] = *b"COFFRE";
/// The only object format this build writes.
pub const FORMAT_VERSION: u8 = 1;
/// Suite 1: Cobblestone-256 (AES-256-GCM, HKDF-SHA-512, 16 KiB chunks).
pub const SUITE_COBBLESTONE_256: u8 = 1;
/// Length of the clear header.
pub const HEADER_LEN: usize = 28;
/// Header, salt and commitment: what must be read before any chunk.
pub const PREFIX_LEN: usize = HEADER_LEN + chunked::PREFIX_LEN;
/// Plaintext bytes per chunk (all chunks but the last, which is shorter).
pub const CHUNK_PLAINTEXT_LEN: usize = CHUNK_SIZE;
/// Stored bytes per full chunk (plaintext and tag).
pub const CHUNK_STORED_LEN: usize = SEALED_CHUNK_LEN;

/// The clear header: which document version this object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectHeader {
    /// The document the object holds.
    pub document: DocumentId,
    /// Its version.
    pub version: u32,
}

impl ObjectHeader {
    /// The header of a document version.
    pub fn new(document: DocumentId, version: u32) -> Self {
        Self { document, version }
    }

    /// Its 28 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..6].copy_from_slice(&MAGIC);
        out[6] = FORMAT_VERSION;
        out[7] = SUITE_COBBLESTONE_256;
        out[8..24].copy_from_slice(self.document.as_bytes());
        out[24..28].copy_from_slice(&self.version.to_be_bytes());
        out
    }

    /// Parses the first [`HEADER_LEN`] bytes of an object.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let h = bytes
            .get(..HEADER_LEN)
            .ok_or(Error::Malformed("object header (too short)"))?;
        if h[..6] != MAGIC {
            return Err(Error::NotAnObject);
        }
        if h[6] != FORMAT_VERSION {
            return Err(Error::Unsupported {
                what: "object format version",
                value: h[6].into(),
            });
        }
        if h[7] != SUITE_COBBLESTONE_256 {
            return Err(Error::Unsupported {
                what: "object cipher suite",
                value: h[7].into(),
            });
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&h[8..24]);
        let mut version = [0u8; 4];
        version.copy_from_slice(&h[24..28]);
        Ok(Self {
            document: DocumentId::from_bytes(id),
            version: u32::from_be_bytes(version),
        })
    }

    fn check(&self, prefix: &[u8]) -> Result<()> {
        if ObjectHeader::parse(prefix)? != *self {
            return Err(Error::WrongObject);
        }
        Ok(())
    }
}

/// Plaintext bytes in every chunk of an object but the last.
pub const CHUNK_LEN: usize = CHUNK_SIZE;
/// Bytes of the tag that follows each chunk.
pub const TAG_LEN: usize = chunked::TAG_LEN;

/// Stored length of an object holding `plaintext_len` bytes.
pub fn object_len(plaintext_len: u64) -> u64 {
    chunked::sealed_len(plaintext_len).saturating_add(PREFIX_LEN as u64)
}

/// Plaintext length of an object of `object_len` stored bytes, or an error
/// for a length no valid object has (truncated or extended).
pub fn plaintext_len(object_len: u64) -> Result<u64> {
    object_len
        .checked_sub(PREFIX_LEN as u64)
        .and_then(chunked::plaintext_len)
        .ok_or(Error::Decryption)
}

/// Sans-IO sealer. Emit [`Sealer::new`]'s prefix, then what every
/// [`Sealer::push`] appends, then what [`Sealer::finish`] appends. An object
/// whose sealer was never finished fails to open.
pub struct Sealer {
    inner: StreamSealer,
}

impl Sealer {
    /// Returns the sealer and the object's first [`PREFIX_LEN`] bytes.
    pub fn new(dek: &Dek, header: &ObjectHeader) -> Result<(Self, [u8; PREFIX_LEN])> {
        let h = header.to_bytes();
        let (cipher, p) = ChunkCipher::seal(dek.expose(), &h)?;
        Ok((
            Self {
                inner: StreamSealer::new(cipher),
            },
            join_prefix(&h, &p),
        ))
    }

    #[cfg(test)]
    pub(crate) fn with_salt(
        dek: &Dek,
        header: &ObjectHeader,
        salt: &[u8; chunked::SALT_LEN],
    ) -> Result<(Self, [u8; PREFIX_LEN])> {
        let h = header.to_bytes();
        let (cipher, p) = ChunkCipher::seal_with_salt(dek.expose(), &h, salt)?;
        Ok((
            Self {
                inner: StreamSealer::new(cipher),
            },
            join_prefix(&h, &p),
        ))
    }

    /// Seals a piece of plaintext, appending what is ready to `out`.
    pub fn push(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.inner.push(plaintext, out)
    }

    /// Seals the rest and the final chunk into `out`.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        self.inner.finish(out)
    }

    /// Seals one full chunk — exactly [`CHUNK_LEN`] plaintext bytes in a
    /// buffer the caller owns — in place, and returns the tag the caller
    /// writes right after it. For callers that fill chunk-sized buffers
    /// themselves (uploads): no copy. Refused after a [`Sealer::push`] that
    /// left part of a chunk pending.
    pub fn seal_chunk_in_place(&mut self, chunk: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        self.inner.seal_full_in_place(chunk)
    }

    /// Seals the final chunk — fewer than [`CHUNK_LEN`] bytes, maybe none —
    /// in place, and returns its tag; the object ends after it.
    pub fn finish_in_place(self, last: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        self.inner.finish_in_place(last)
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

fn join_prefix(header: &[u8; HEADER_LEN], rest: &[u8; chunked::PREFIX_LEN]) -> [u8; PREFIX_LEN] {
    let mut out = [0u8; PREFIX_LEN];
    out[..HEADER_LEN].copy_from_slice(header);
    out[HEADER_LEN..].copy_from_slice(rest);
    out
}

fn open_cipher(dek: &Dek, expected: &ObjectHeader, prefix: &[u8]) -> Result<ChunkCipher> {
    let prefix = prefix.get(..PREFIX_LEN).ok_or(Error::Decryption)?;
    expected.check(prefix)?;
    let (header, rest) = prefix.split_at(HEADER_LEN);
    ChunkCipher::open(dek.expose(), header, rest)
}

/// Sans-IO opener, the mirror of [`Sealer`]. Plaintext handed out before an
/// error is authentic but possibly incomplete; the object is whole only when
/// [`Opener::finish`] returns `Ok`.
pub struct Opener {
    inner: StreamOpener,
}

impl Opener {
    /// Checks the header against `expected` and the key commitment.
    pub fn new(dek: &Dek, expected: &ObjectHeader, prefix: &[u8]) -> Result<Self> {
        Ok(Self {
            inner: StreamOpener::new(open_cipher(dek, expected, prefix)?),
        })
    }

    /// Feeds stored bytes that follow the prefix; appends plaintext to `out`.
    pub fn push(&mut self, stored: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.inner.push(stored, out)
    }

    /// Checks and opens the final chunk into `out`; fails on truncation.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.inner.finish(out)
    }
}

/// Opens a whole stored object held in a buffer the caller owns, in place:
/// every chunk is authenticated and decrypted where it lies, and the
/// plaintext is the returned ranges of `object`, in order (no copy; the tags
/// and the prefix stay between them). Any damage, truncation or extension
/// is an error, and then nothing in `object` is to be used.
pub fn open_in_place(
    dek: &Dek,
    expected: &ObjectHeader,
    object: &mut [u8],
) -> Result<Vec<Range<usize>>> {
    let cipher = open_cipher(dek, expected, object)?;
    let body_len = object.len() - PREFIX_LEN;
    let plaintext = chunked::plaintext_len(body_len as u64).ok_or(Error::Decryption)?;
    let chunks = usize::try_from(plaintext / CHUNK_SIZE as u64)
        .map_err(|_| Error::Decryption)?
        .saturating_add(1);
    let mut ranges = Vec::with_capacity(chunks);
    let mut at = PREFIX_LEN;
    for index in 0..chunks {
        let last = index + 1 == chunks;
        let end = if last {
            object.len()
        } else {
            at + SEALED_CHUNK_LEN
        };
        let sealed = object.get_mut(at..end).ok_or(Error::Decryption)?;
        let n = cipher.open_chunk(index as u64, last, sealed)?.len();
        ranges.push(at..at + n);
        at = end;
    }
    Ok(ranges)
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opener([redacted])")
    }
}

/// Pieces larger than this are sealed in slices, so a writer's buffer stays
/// bounded whatever the caller hands to `write`.
const WRITE_SLICE: usize = 16 * CHUNK_SIZE;

/// Encrypting writer. **Must** be [`finish`](ObjectWriter::finish)ed: dropped
/// early, it leaves a truncated object that will not open.
pub struct ObjectWriter<W: Write> {
    sealer: Option<Sealer>,
    inner: W,
    out: Vec<u8>,
}

impl<W: Write> ObjectWriter<W> {
    /// Writes the prefix to `inner` at once.
    pub fn new(dek: &Dek, header: &ObjectHeader, mut inner: W) -> Result<Self> {
        let (sealer, prefix) = Sealer::new(dek, header)?;
        inner.write_all(&prefix)?;
        Ok(Self {
            sealer: Some(sealer),
            inner,
            out: Vec::with_capacity(WRITE_SLICE + 32 * 16),
        })
    }

    /// Writes the final chunk and returns the inner writer (not flushed).
    pub fn finish(mut self) -> Result<W> {
        let sealer = self
            .sealer
            .take()
            .ok_or(Error::InvalidParameter("writer already finished"))?;
        self.out.clear();
        sealer.finish(&mut self.out)?;
        self.inner.write_all(&self.out)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ObjectWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let sealer = self
            .sealer
            .as_mut()
            .ok_or_else(|| io::Error::other("writer already finished"))?;
        let take = buf.len().min(WRITE_SLICE);
        self.out.clear();
        sealer
            .push(&buf[..take], &mut self.out)
            .map_err(io::Error::other)?;
        self.inner.write_all(&self.out)?;
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> std::fmt::Debug for ObjectWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectWriter([redacted])")
    }
}

const READ_BLOCK: usize = 4 * SEALED_CHUNK_LEN;

/// Decrypting reader over a whole stored object. Returns
/// `io::ErrorKind::InvalidData` (wrapping [`Error::Decryption`]) on any
/// tampering, truncation or extension, and keeps returning it.
pub struct ObjectReader<R: Read> {
    opener: Option<Opener>,
    inner: R,
    stored: Vec<u8>,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    failed: bool,
}

impl<R: Read> ObjectReader<R> {
    /// Reads the prefix and checks header and key commitment.
    pub fn new(dek: &Dek, expected: &ObjectHeader, mut inner: R) -> Result<Self> {
        let mut prefix = [0u8; PREFIX_LEN];
        inner.read_exact(&mut prefix).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => Error::Decryption,
            _ => Error::Io(e),
        })?;
        Ok(Self {
            opener: Some(Opener::new(dek, expected, &prefix)?),
            inner,
            stored: vec![0u8; READ_BLOCK],
            plain: Zeroizing::new(Vec::with_capacity(READ_BLOCK)),
            pos: 0,
            failed: false,
        })
    }

    fn refill(&mut self) -> io::Result<()> {
        self.plain.clear();
        self.pos = 0;
        while self.plain.is_empty() {
            let Some(opener) = self.opener.as_mut() else {
                return Ok(());
            };
            let n = match self.inner.read(&mut self.stored) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let res = if n == 0 {
                let opener = self
                    .opener
                    .take()
                    .ok_or_else(|| io::Error::other("reader state"))?;
                opener.finish(&mut self.plain)
            } else {
                opener.push(&self.stored[..n], &mut self.plain)
            };
            if let Err(e) = res {
                self.failed = true;
                self.plain.clear();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for ObjectReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Error::Decryption,
            ));
        }
        if self.pos == self.plain.len() {
            self.refill()?;
        }
        let avail = &self.plain[self.pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> std::fmt::Debug for ObjectReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectReader([redacted])")
    }
}

/// Opens single chunks of an object whose stored length is known, for range
/// requests: fetch the prefix and the [`chunk_span`](RandomAccess::chunk_span)
/// of each chunk needed. Take the length from the metadata store, never from
/// the object store: a length read from a truncated object would make its
/// earlier chunks look like a whole (authentic, but incomplete) object.
///
/// Each chunk is authenticated on its own and bound to its position; the
/// length check makes a truncated or extended object fail here too.
pub struct RandomAccess {
    cipher: ChunkCipher,
    plaintext_len: u64,
    chunks: u64,
}

impl RandomAccess {
    /// Random access to an object of `object_len` bytes whose first [`PREFIX_LEN`] bytes are `prefix`.
    pub fn new(dek: &Dek, expected: &ObjectHeader, prefix: &[u8], object_len: u64) -> Result<Self> {
        let plaintext_len = plaintext_len(object_len)?;
        let cipher = open_cipher(dek, expected, prefix)?;
        Ok(Self {
            cipher,
            plaintext_len,
            chunks: plaintext_len / CHUNK_SIZE as u64 + 1,
        })
    }

    /// The plaintext length.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// How many chunks.
    pub fn chunk_count(&self) -> u64 {
        self.chunks
    }

    /// The chunks holding the plaintext bytes `range` (end exclusive, clamped
    /// to the plaintext length). Empty for an empty range.
    pub fn chunks_for(&self, range: Range<u64>) -> Range<u64> {
        let end = range.end.min(self.plaintext_len);
        if range.start >= end {
            return 0..0;
        }
        let c = CHUNK_SIZE as u64;
        range.start / c..(end - 1) / c + 1
    }

    /// Offset of chunk `index`'s first plaintext byte.
    pub fn plaintext_offset(&self, index: u64) -> u64 {
        index.saturating_mul(CHUNK_SIZE as u64)
    }

    /// Where chunk `index` sits in the stored object (end exclusive).
    pub fn chunk_span(&self, index: u64) -> Result<Range<u64>> {
        if index >= self.chunks {
            return Err(Error::InvalidParameter("chunk index beyond the object"));
        }
        let start = PREFIX_LEN as u64 + index * SEALED_CHUNK_LEN as u64;
        let len = if index + 1 == self.chunks {
            (self.plaintext_len % CHUNK_SIZE as u64) + chunked::TAG_LEN as u64
        } else {
            SEALED_CHUNK_LEN as u64
        };
        Ok(start..start + len)
    }

    /// Authenticates and decrypts chunk `index` from its stored bytes.
    pub fn open_chunk(&self, index: u64, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut buf = Zeroizing::new(stored.to_vec());
        let n = self.open_chunk_in_place(index, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The same in a buffer the caller owns: `sealed` (exactly chunk
    /// `index`'s stored bytes) is authenticated and decrypted where it
    /// lies; its first `n` bytes (returned) are then the plaintext, the
    /// rest is the tag. On error nothing in `sealed` is to be used.
    pub fn open_chunk_in_place(&self, index: u64, sealed: &mut [u8]) -> Result<usize> {
        let span = self.chunk_span(index)?;
        if sealed.len() as u64 != span.end - span.start {
            return Err(Error::Decryption);
        }
        Ok(self
            .cipher
            .open_chunk(index, index + 1 == self.chunks, sealed)?
            .len())
    }
}

impl std::fmt::Debug for RandomAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomAccess")
            .field("plaintext_len", &self.plaintext_len)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

/// Small descriptive fields of a document, sealed under its DEK so the
/// server never holds them in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// The title.
    Title,
    /// The file name.
    FileName,
    /// The content type.
    ContentType,
    /// Free notes.
    Notes,
    /// Whom a share link was made for ("CAF de Lyon"), sealed with the
    /// link's record.
    Recipient,
}

impl Field {
    fn tag(self) -> u8 {
        match self {
            Field::Title => 1,
            Field::FileName => 2,
            Field::ContentType => 3,
            Field::Notes => 4,
            Field::Recipient => 5,
        }
    }
}

const FIELD_FORMAT: u8 = 1;
const FIELD_NONCE_LEN: usize = 12;
/// Longest field accepted, so a sealed field stays a small metadata value.
pub const MAX_FIELD_LEN: usize = 4096;

struct FieldKeyLen;
impl hkdf::KeyType for FieldKeyLen {
    fn len(&self) -> usize {
        32
    }
}

fn field_key(dek: &Dek) -> Result<LessSafeKey> {
    // Domain-separated from the Cobblestone derivation, which uses the same
    // DEK with the "c2sp.org/chunked-encryption" label.
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA512, dek.expose());
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&[b"coffre.org/fields@v1"], FieldKeyLen)?
        .fill(key.as_mut_slice())?;
    Ok(LessSafeKey::new(UnboundKey::new(
        &aead::AES_256_GCM,
        key.as_slice(),
    )?))
}

fn field_aad(header: &ObjectHeader, field: Field) -> [u8; HEADER_LEN + 1] {
    let mut aad = [0u8; HEADER_LEN + 1];
    aad[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    aad[HEADER_LEN] = field.tag();
    aad
}

/// Seals a title, file name, content type or note:
/// `0x01 ‖ nonce(12) ‖ AES-256-GCM(ciphertext ‖ tag)`, bound to the document
/// version and to which field it is.
pub fn seal_field(
    dek: &Dek,
    header: &ObjectHeader,
    field: Field,
    plaintext: &str,
) -> Result<Vec<u8>> {
    if plaintext.len() > MAX_FIELD_LEN {
        return Err(Error::InvalidParameter("field longer than 4096 bytes"));
    }
    let key = field_key(dek)?;
    let nonce: [u8; FIELD_NONCE_LEN] = crate::primitives::array()?;
    let mut out = Vec::with_capacity(1 + FIELD_NONCE_LEN + plaintext.len() + 16);
    out.push(FIELD_FORMAT);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext.as_bytes());
    let aad = field_aad(header, field);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad[..]),
            &mut out[start..],
        )
        .map_err(|_| Error::InvalidParameter("field"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens a sealed field; any mismatch (other document, version or field,
/// altered bytes, wrong DEK) is [`Error::Decryption`].
pub fn open_field(
    dek: &Dek,
    header: &ObjectHeader,
    field: Field,
    sealed: &[u8],
) -> Result<Zeroizing<String>> {
    FieldOpener::new(dek)?.open(header, field, sealed)
}

/// Opens several fields of one document with one key derivation (a
/// description opens three or four; each [`open_field`] derives again).
pub struct FieldOpener(LessSafeKey);

impl std::fmt::Debug for FieldOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldOpener([redacted])")
    }
}

impl FieldOpener {
    /// The fields' key of `dek`.
    pub fn new(dek: &Dek) -> Result<Self> {
        Ok(Self(field_key(dek)?))
    }

    /// As [`open_field`].
    pub fn open(
        &self,
        header: &ObjectHeader,
        field: Field,
        sealed: &[u8],
    ) -> Result<Zeroizing<String>> {
        open_with(&self.0, header, field, sealed)
    }
}

fn open_with(
    key: &LessSafeKey,
    header: &ObjectHeader,
    field: Field,
    sealed: &[u8],
) -> Result<Zeroizing<String>> {
    let (&format, rest) = sealed.split_first().ok_or(Error::Decryption)?;
    if format != FIELD_FORMAT || rest.len() < FIELD_NONCE_LEN + 16 {
        return Err(Error::Decryption);
    }
    let (nonce, ct) = rest.split_at(FIELD_NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Decryption)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let aad = field_aad(header, field);
    let n = key
        .open_in_place(nonce, Aad::from(&aad[..]), &mut buf)?
        .len();
    buf.truncate(n);
    let text = String::from_utf8(std::mem::take(&mut *buf)).map_err(|_| Error::Decryption)?;
    Ok(Zeroizing::new(text))
}

#[cfg(test)]
mod kat;

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ObjectHeader {
        ObjectHeader::new(DocumentId::random().unwrap(), 3)
    }

    fn seal_all(dek: &Dek, h: &ObjectHeader, data: &[u8]) -> Vec<u8> {
        let mut w = ObjectWriter::new(dek, h, Vec::new()).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn header_round_trip_and_rejections() {
        let h = header();
        let b = h.to_bytes();
        assert_eq!(ObjectHeader::parse(&b).unwrap(), h);
        let mut bad = b;
        bad[0] = b'X';
        assert!(matches!(ObjectHeader::parse(&bad), Err(Error::NotAnObject)));
        let mut bad = b;
        bad[6] = 2;
        assert!(matches!(
            ObjectHeader::parse(&bad),
            Err(Error::Unsupported { .. })
        ));
        let mut bad = b;
        bad[7] = 9;
        assert!(matches!(
            ObjectHeader::parse(&bad),
            Err(Error::Unsupported { .. })
        ));
        assert!(ObjectHeader::parse(&b[..27]).is_err());
    }

    #[test]
    fn random_access_matches_stream() {
        let dek = Dek::generate().unwrap();
        let h = header();
        let data: Vec<u8> = (0..(3 * CHUNK_SIZE + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let obj = seal_all(&dek, &h, &data);
        assert_eq!(obj.len() as u64, object_len(data.len() as u64));
        let ra = RandomAccess::new(&dek, &h, &obj, obj.len() as u64).unwrap();
        assert_eq!(ra.chunk_count(), 4);
        assert_eq!(ra.chunks_for(16383..16385), 0..2);
        assert_eq!(ra.chunks_for(5..5), 0..0);
        for k in 0..4 {
            let span = ra.chunk_span(k).unwrap();
            let plain = ra
                .open_chunk(k, &obj[span.start as usize..span.end as usize])
                .unwrap();
            let off = ra.plaintext_offset(k) as usize;
            assert_eq!(&plain[..], &data[off..off + plain.len()]);
        }
        // A chunk opened at another index fails.
        let s0 = ra.chunk_span(0).unwrap();
        assert!(
            ra.open_chunk(1, &obj[s0.start as usize..s0.end as usize])
                .is_err()
        );
        // A length no object can have is refused up front; a plausible but
        // wrong one makes the final chunk fail.
        assert!(RandomAccess::new(&dek, &h, &obj, (PREFIX_LEN + CHUNK_STORED_LEN) as u64).is_err());
        let short = RandomAccess::new(&dek, &h, &obj, obj.len() as u64 - 1).unwrap();
        let last = short.chunk_span(3).unwrap();
        assert!(
            short
                .open_chunk(3, &obj[last.start as usize..last.end as usize])
                .is_err()
        );
        assert!(ra.chunk_span(4).is_err());
    }

    #[test]
    fn fields_are_bound_to_document_and_field() {
        let dek = Dek::generate().unwrap();
        let h = header();
        let sealed = seal_field(&dek, &h, Field::Title, "Titre de séjour").unwrap();
        assert_eq!(
            &*open_field(&dek, &h, Field::Title, &sealed).unwrap(),
            "Titre de séjour"
        );
        assert!(open_field(&dek, &h, Field::FileName, &sealed).is_err());
        let other = ObjectHeader::new(h.document, h.version + 1);
        assert!(open_field(&dek, &other, Field::Title, &sealed).is_err());
        assert!(open_field(&Dek::generate().unwrap(), &h, Field::Title, &sealed).is_err());
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(open_field(&dek, &h, Field::Title, &bad).is_err());
        assert!(seal_field(&dek, &h, Field::Notes, &"x".repeat(MAX_FIELD_LEN + 1)).is_err());
    }

    /// Opening in place gives the stream's plaintext, and any damage,
    /// truncation or extension is refused.
    #[test]
    fn opening_in_place_matches_the_stream_and_refuses_damage() {
        let dek = Dek::generate().unwrap();
        let h = header();
        for len in [
            0,
            1,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            3 * CHUNK_LEN + 77,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 241) as u8).collect();
            let sealed = seal_all(&dek, &h, &data);
            let mut buf = sealed.clone();
            let ranges = open_in_place(&dek, &h, &mut buf).unwrap();
            let got: Vec<u8> = ranges
                .iter()
                .flat_map(|r| buf[r.clone()].to_vec())
                .collect();
            assert_eq!(got, data, "length {len}");
            // A flipped bit anywhere past the header, a byte cut, a byte added.
            for at in [PREFIX_LEN - 1, PREFIX_LEN, sealed.len() - 1] {
                let mut bad = sealed.clone();
                bad[at] ^= 1;
                assert!(open_in_place(&dek, &h, &mut bad).is_err(), "flip at {at}");
            }
            let mut cut = sealed[..sealed.len() - 1].to_vec();
            assert!(open_in_place(&dek, &h, &mut cut).is_err());
            let mut longer = sealed.clone();
            longer.push(0);
            assert!(open_in_place(&dek, &h, &mut longer).is_err());
            let other = Dek::generate().unwrap();
            assert!(open_in_place(&other, &h, &mut sealed.clone()).is_err());
        }
        assert!(open_in_place(&dek, &h, &mut [0u8; 10]).is_err());
    }

    /// The in-place entry points make the same bytes as `push`, for any
    /// length (none, one chunk exactly, a short tail), and refuse a chunk
    /// of the wrong size or one after a pending partial push.
    #[test]
    fn sealing_in_place_makes_the_same_object() {
        let dek = Dek::generate().unwrap();
        let h = header();
        let salt = [5u8; chunked::SALT_LEN];
        for len in [
            0,
            1,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            3 * CHUNK_LEN + 77,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (mut a, pa) = Sealer::with_salt(&dek, &h, &salt).unwrap();
            let mut pushed = pa.to_vec();
            a.push(&data, &mut pushed).unwrap();
            a.finish(&mut pushed).unwrap();

            let (mut b, pb) = Sealer::with_salt(&dek, &h, &salt).unwrap();
            let mut in_place = pb.to_vec();
            let mut chunks = data.chunks(CHUNK_LEN).peekable();
            let mut last = Vec::new();
            while let Some(c) = chunks.next() {
                if c.len() == CHUNK_LEN {
                    let mut buf = c.to_vec();
                    let tag = b.seal_chunk_in_place(&mut buf).unwrap();
                    in_place.extend_from_slice(&buf);
                    in_place.extend_from_slice(&tag);
                } else {
                    assert!(chunks.peek().is_none());
                    last = c.to_vec();
                }
            }
            let tag = b.finish_in_place(&mut last).unwrap();
            in_place.extend_from_slice(&last);
            in_place.extend_from_slice(&tag);
            assert_eq!(in_place, pushed, "length {len}");
            let mut out = Vec::new();
            ObjectReader::new(&dek, &h, &in_place[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data);
        }
        let (mut s, _) = Sealer::new(&dek, &h).unwrap();
        assert!(s.seal_chunk_in_place(&mut [0u8; 100]).is_err());
        let mut out = Vec::new();
        s.push(&[1, 2, 3], &mut out).unwrap();
        assert!(s.seal_chunk_in_place(&mut vec![0u8; CHUNK_LEN]).is_err());
        assert!(s.finish_in_place(&mut []).is_err());
    }

    #[test]
    fn writer_must_be_finished() {
        let dek = Dek::generate().unwrap();
        let h = header();
        let mut w = ObjectWriter::new(&dek, &h, Vec::new()).unwrap();
        w.write_all(&[1u8; 40000]).unwrap();
        // Steal what was written without finishing: it must not open.
        let partial = std::mem::take(&mut w.inner);
        drop(w);
        let mut r = ObjectReader::new(&dek, &h, &partial[..]).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            r.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
