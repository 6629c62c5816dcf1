//! The stream adaptors of uploads and downloads: plaintext sealed into the
//! stored format (counted, hashed on other threads, cut at the size limit),
//! and stored objects opened back into authenticated plaintext.

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coffre_crypto::Dek;
use coffre_crypto::object::{self, ObjectHeader, RandomAccess, Sealer};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use ring::digest::{Context, SHA256};

use super::PlaintextStream;
use crate::{Result, VaultError};

/// SHA-256 computed on another thread, so that hashing the plaintext and
/// the stored bytes (two passes at ~2 GB/s) overlaps encryption and disk
/// writes instead of adding to them. Chunks are shared, not copied.
pub(super) struct BackgroundDigest {
    pub tx: tokio::sync::mpsc::Sender<Bytes>,
    handle: std::thread::JoinHandle<String>,
}

impl BackgroundDigest {
    pub fn start() -> Result<Self> {
        // Bounded: a slow hasher holds the upload back instead of memory growing.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(32);
        let handle = std::thread::Builder::new()
            .name("coffre-sha256".into())
            .spawn(move || {
                let mut c = Context::new(&SHA256);
                while let Some(b) = rx.blocking_recv() {
                    c.update(&b);
                }
                hex::encode(c.finish().as_ref())
            })
            .map_err(|_| VaultError::Internal("cannot start a hashing thread"))?;
        Ok(Self { tx, handle })
    }

    pub fn finish(self) -> Result<String> {
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| VaultError::Internal("hashing thread failed"))
    }
}

pub(super) struct UploadStats {
    pub size: u64,
    pub stored: u64,
    pub refused: Option<VaultError>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sealed bytes handed to the store at once: 64 chunks with their tags
/// (1 MiB and a little: few hand-offs to the writer, little held).
const BATCH_CHUNKS: usize = 64;
const BATCH_LEN: usize = BATCH_CHUNKS * (object::CHUNK_LEN + object::TAG_LEN);

pub(super) struct SealState {
    pub body: PlaintextStream,
    pub sealer: Option<Sealer>,
    pub plain: tokio::sync::mpsc::Sender<Bytes>,
    /// CRC-64/NVME of the stored bytes, for scrubbing.
    pub stored_crc: Arc<Mutex<crc_fast::Digest>>,
    pub stats: Arc<Mutex<UploadStats>>,
    pub refusal: Option<VaultError>,
    pub limit: u64,
    /// Sealed bytes ready for the store, in order (first the prefix).
    pub ready: VecDeque<Bytes>,
    /// The batch being filled: sealed chunks, then the plaintext of the
    /// current one from `chunk_start` (sealed in place once full).
    pub batch: Vec<u8>,
    pub chunk_start: usize,
}

impl SealState {
    pub fn new(
        body: PlaintextStream,
        sealer: Sealer,
        prefix: Bytes,
        plain: tokio::sync::mpsc::Sender<Bytes>,
        stats: Arc<Mutex<UploadStats>>,
        refusal: VaultError,
        limit: u64,
    ) -> Self {
        Self {
            body,
            sealer: Some(sealer),
            plain,
            stored_crc: Arc::new(Mutex::new(crc_fast::Digest::new(
                crc_fast::CrcAlgorithm::Crc64Nvme,
            ))),
            stats,
            refusal: Some(refusal),
            limit,
            ready: VecDeque::from([prefix]),
            batch: coffre_store::buffers::take(BATCH_LEN),
            chunk_start: 0,
        }
    }
}

/// Seals a plaintext stream into the ciphertext stream the store consumes,
/// counting both, hashing the plaintext (on another thread) and taking the
/// stored bytes' CRC, and cutting the stream with an error as soon as
/// `limit` is passed (so nothing is stored). Plaintext is copied once, from
/// the network's buffers into a batch, and sealed there in place.
pub(super) fn seal_stream(st: SealState) -> BoxStream<'static, io::Result<Bytes>> {
    futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(out) = st.ready.pop_front() {
                lock(&st.stats).stored += out.len() as u64;
                lock(&st.stored_crc).update(&out);
                return Some((Ok(out), st));
            }
            // Finished (or failed): the stream ends.
            st.sealer.as_ref()?;
            match st.body.next().await {
                Some(Ok(piece)) => {
                    let too_large = {
                        let mut s = lock(&st.stats);
                        s.size += piece.len() as u64;
                        let over = s.size > st.limit;
                        if over {
                            s.refused = st.refusal.take();
                        }
                        over
                    };
                    if too_large {
                        st.sealer = None;
                        return Some((Err(io::Error::other("document too large")), st));
                    }
                    let _ = st.plain.send(piece.clone()).await;
                    if let Err(e) = st.absorb(&piece) {
                        st.sealer = None;
                        return Some((Err(io::Error::other(e)), st));
                    }
                }
                Some(Err(e)) => {
                    st.sealer = None;
                    return Some((Err(e), st));
                }
                None => {
                    let sealer = st.sealer.take()?;
                    let start = st.chunk_start;
                    match sealer.finish_in_place(&mut st.batch[start..]) {
                        Ok(tag) => st.batch.extend_from_slice(&tag),
                        Err(e) => return Some((Err(io::Error::other(e)), st)),
                    }
                    let last = std::mem::take(&mut st.batch);
                    st.ready
                        .push_back(coffre_store::buffers::ciphertext_bytes(last));
                }
            }
        }
    })
    .boxed()
}

/// The batch may end with plaintext not yet sealed (an upload refused or
/// cut mid-chunk): wiped, as the sealer's own buffer was.
impl Drop for SealState {
    fn drop(&mut self) {
        coffre_store::buffers::give_back_plaintext(std::mem::take(&mut self.batch));
    }
}

impl SealState {
    /// Copies `piece` into the batch, sealing each chunk in place as it
    /// fills; full batches go to `ready`.
    fn absorb(&mut self, mut piece: &[u8]) -> coffre_crypto::Result<()> {
        while !piece.is_empty() {
            let room = object::CHUNK_LEN - (self.batch.len() - self.chunk_start);
            let (head, rest) = piece.split_at(room.min(piece.len()));
            self.batch.extend_from_slice(head);
            piece = rest;
            if self.batch.len() - self.chunk_start < object::CHUNK_LEN {
                continue;
            }
            let Some(sealer) = self.sealer.as_mut() else {
                return Err(coffre_crypto::Error::InvalidParameter("sealer finished"));
            };
            let start = self.chunk_start;
            let tag = sealer.seal_chunk_in_place(&mut self.batch[start..])?;
            self.batch.extend_from_slice(&tag);
            self.chunk_start = self.batch.len();
            if self.batch.len() + object::CHUNK_LEN + object::TAG_LEN > BATCH_LEN {
                // Only sealed bytes in it: back to the pool as they are
                // once the store has written them.
                let full =
                    std::mem::replace(&mut self.batch, coffre_store::buffers::take(BATCH_LEN));
                self.ready
                    .push_back(coffre_store::buffers::ciphertext_bytes(full));
                self.chunk_start = 0;
            }
        }
        Ok(())
    }
}

/// Sealed chunks opened together: read into one buffer, opened there (as
/// many as the filesystem store reads as one piece).
const OPEN_BATCH: u64 = coffre_store::PIECE_CHUNKS;

/// Stored bytes of whole chunks, from a store's stream, into a buffer of
/// their own. `pending` holds what the last read gave beyond them.
struct ChunkReader {
    stored: BoxStream<'static, coffre_store::Result<Bytes>>,
    pending: Bytes,
}

impl ChunkReader {
    /// Exactly `len` stored bytes; an early end of the stream is damage
    /// (the length comes from the records, not from the store).
    async fn read(&mut self, len: usize) -> io::Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        // (Empty pieces are nothing: skipped.)
        while self.pending.is_empty() {
            match self.stored.next().await {
                // A piece that is exactly what is asked (the filesystem
                // store cuts large objects so): its buffer, taken over.
                Some(Ok(b)) if b.len() == len => return Ok(Vec::from(b)),
                Some(Ok(b)) => self.pending = b,
                Some(Err(e)) => return Err(store_failed(e)),
                None => return Err(bad()),
            }
        }
        let mut out = coffre_store::buffers::take(len);
        while out.len() < len {
            if self.pending.is_empty() {
                self.pending = match self.stored.next().await {
                    Some(Ok(b)) => b,
                    Some(Err(e)) => return Err(store_failed(e)),
                    None => return Err(bad()),
                };
            }
            let take = (len - out.len()).min(self.pending.len());
            out.extend_from_slice(&self.pending.split_to(take));
        }
        Ok(out)
    }
}

fn bad() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, VaultError::Integrity)
}

/// A store's failure while reading: its bytes are not what was stored
/// (damage, as any other), or it could not give them (unavailable).
fn store_failed(e: coffre_store::StoreError) -> io::Error {
    match e {
        coffre_store::StoreError::Integrity(_) => bad(),
        e => io::Error::other(e),
    }
}

/// Decrypts the chunks `chunks` of a stored object from `stored` (which
/// begins with the first of them), keeping the plaintext bytes `keep`
/// (offsets in the document, end exclusive). Each batch of chunks is in a
/// buffer of its own (the store's piece when it is exactly the batch, as
/// the filesystem store reads them; else copied once from its pieces),
/// every chunk authenticated and decrypted there in place, and handed out
/// as slices of that buffer. Any damage, truncation or extension ends the
/// stream with an error before an altered byte.
pub(super) fn open_chunks(
    ra: RandomAccess,
    chunks: Range<u64>,
    stored: BoxStream<'static, coffre_store::Result<Bytes>>,
    keep: Range<u64>,
) -> PlaintextStream {
    struct State {
        ra: RandomAccess,
        next: u64,
        end: u64,
        keep: Range<u64>,
        reader: ChunkReader,
        ready: VecDeque<Bytes>,
        failed: bool,
    }
    let state = State {
        ra,
        next: chunks.start,
        end: chunks.end,
        keep,
        reader: ChunkReader {
            stored,
            pending: Bytes::new(),
        },
        ready: VecDeque::new(),
        failed: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(b) = st.ready.pop_front() {
                return Some((Ok(b), st));
            }
            if st.failed {
                return None;
            }
            if st.next >= st.end {
                // Everything asked was read: anything after it in the
                // stream is an object longer than its record says.
                st.failed = true;
                if st.end == st.ra.chunk_count() && !st.reader.pending.is_empty() {
                    return Some((Err(bad()), st));
                }
                if st.end == st.ra.chunk_count() {
                    // (A store may hand out empty pieces: they are nothing.)
                    while let Some(piece) = st.reader.stored.next().await {
                        match piece {
                            Ok(b) if b.is_empty() => continue,
                            Ok(_) => return Some((Err(bad()), st)),
                            Err(e) => return Some((Err(io::Error::other(e)), st)),
                        }
                    }
                }
                return None;
            }
            let last = (st.next + OPEN_BATCH).min(st.end);
            let (Ok(first), Ok(final_span)) =
                (st.ra.chunk_span(st.next), st.ra.chunk_span(last - 1))
            else {
                st.failed = true;
                return Some((Err(bad()), st));
            };
            let base = first.start;
            let mut batch = match st.reader.read((final_span.end - base) as usize).await {
                Ok(b) => b,
                Err(e) => {
                    st.failed = true;
                    return Some((Err(e), st));
                }
            };
            let mut pieces = Vec::with_capacity((last - st.next) as usize);
            for k in st.next..last {
                let Ok(span) = st.ra.chunk_span(k) else {
                    coffre_store::buffers::give_back_plaintext(batch);
                    st.failed = true;
                    return Some((Err(bad()), st));
                };
                let at = (span.start - base) as usize..(span.end - base) as usize;
                let Some(n) = batch
                    .get_mut(at.clone())
                    .and_then(|sealed| st.ra.open_chunk_in_place(k, sealed).ok())
                else {
                    // Nothing of this batch goes out (its chunks before
                    // the damaged one were opened: wiped).
                    coffre_store::buffers::give_back_plaintext(batch);
                    st.failed = true;
                    return Some((Err(bad()), st));
                };
                // The part of this chunk's plaintext asked for.
                let off = st.ra.plaintext_offset(k);
                let lo = st.keep.start.saturating_sub(off).min(n as u64) as usize;
                let hi = st.keep.end.saturating_sub(off).min(n as u64) as usize;
                if lo < hi {
                    pieces.push(at.start + lo..at.start + hi);
                }
            }
            st.next = last;
            let batch = coffre_store::buffers::plaintext_bytes(batch);
            st.ready.extend(pieces.into_iter().map(|r| batch.slice(r)));
        }
    })
    .boxed()
}

/// Decrypts a whole stored object's stream (prefix first), with
/// [`open_chunks`]: authenticated plaintext only.
pub(super) async fn open_stream(
    dek: Dek,
    header: ObjectHeader,
    stored_size: u64,
    stored: BoxStream<'static, coffre_store::Result<Bytes>>,
) -> io::Result<PlaintextStream> {
    let mut reader = ChunkReader {
        stored,
        pending: Bytes::new(),
    };
    let prefix = reader.read(object::PREFIX_LEN).await?;
    let ra = RandomAccess::new(&dek, &header, &prefix, stored_size).map_err(|_| bad())?;
    let all = 0..ra.chunk_count();
    let keep = 0..ra.plaintext_len();
    let rest = futures_util::stream::once(async move { Ok(reader.pending) })
        .chain(reader.stored)
        .boxed();
    Ok(open_chunks(ra, all, rest, keep))
}
