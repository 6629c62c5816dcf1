//! The stream adaptors of uploads and downloads: plaintext sealed into the
//! stored format (counted, hashed on other threads, cut at the size limit),
//! and stored objects opened back into authenticated plaintext.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use coffre_crypto::Dek;
use coffre_crypto::object::{self, ObjectHeader, Opener, Sealer};
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

pub(super) struct SealState {
    pub body: PlaintextStream,
    pub sealer: Option<Sealer>,
    pub plain: tokio::sync::mpsc::Sender<Bytes>,
    pub sealed: tokio::sync::mpsc::Sender<Bytes>,
    pub stats: Arc<Mutex<UploadStats>>,
    pub refusal: Option<VaultError>,
    pub limit: u64,
    pub prefix: Option<Bytes>,
}

/// Seals a plaintext stream into the ciphertext stream the store consumes,
/// counting and hashing both (on other threads), and cutting the stream with
/// an error as soon as `limit` is passed (so nothing is stored).
pub(super) fn seal_stream(st: SealState) -> BoxStream<'static, io::Result<Bytes>> {
    futures_util::stream::unfold(Some(st), |st| async move {
        let mut st = st?;
        if let Some(prefix) = st.prefix.take() {
            return st.emit(prefix).await;
        }
        loop {
            let mut out = Vec::new();
            let sealer = st.sealer.as_mut()?;
            match st.body.next().await {
                Some(Ok(chunk)) => {
                    {
                        let mut s = lock(&st.stats);
                        s.size += chunk.len() as u64;
                        if s.size > st.limit {
                            s.refused = st.refusal.take();
                            return Some((Err(io::Error::other("document too large")), None));
                        }
                    }
                    let _ = st.plain.send(chunk.clone()).await;
                    if let Err(e) = sealer.push(&chunk, &mut out) {
                        return Some((Err(io::Error::other(e)), None));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None => {
                    let sealer = st.sealer.take()?;
                    if let Err(e) = sealer.finish(&mut out) {
                        return Some((Err(io::Error::other(e)), None));
                    }
                    return st.emit(Bytes::from(out)).await;
                }
            }
            if !out.is_empty() {
                return st.emit(Bytes::from(out)).await;
            }
        }
    })
    .boxed()
}

impl SealState {
    async fn emit(self, out: Bytes) -> Option<(io::Result<Bytes>, Option<SealState>)> {
        lock(&self.stats).stored += out.len() as u64;
        let _ = self.sealed.send(out.clone()).await;
        Some((Ok(out), Some(self)))
    }
}

/// Decrypts a stored object's stream: authenticated plaintext only; any
/// tampering, truncation or extension ends the stream with an error.
pub(super) fn open_stream(
    dek: Dek,
    header: ObjectHeader,
    stored: BoxStream<'static, coffre_store::Result<Bytes>>,
) -> PlaintextStream {
    struct State {
        dek: Dek,
        header: ObjectHeader,
        stored: BoxStream<'static, coffre_store::Result<Bytes>>,
        prefix: Vec<u8>,
        opener: Option<Opener>,
        done: bool,
    }
    let state = State {
        dek,
        header,
        stored,
        prefix: Vec::new(),
        opener: None,
        done: false,
    };
    let bad = || io::Error::new(io::ErrorKind::InvalidData, VaultError::Integrity);
    futures_util::stream::unfold(state, move |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let mut out = Vec::new();
            match st.stored.next().await {
                Some(Ok(mut chunk)) => {
                    if st.opener.is_none() {
                        let need = object::PREFIX_LEN - st.prefix.len();
                        let take = need.min(chunk.len());
                        st.prefix.extend_from_slice(&chunk[..take]);
                        chunk = chunk.slice(take..);
                        if st.prefix.len() < object::PREFIX_LEN {
                            continue;
                        }
                        match Opener::new(&st.dek, &st.header, &st.prefix) {
                            Ok(o) => st.opener = Some(o),
                            Err(_) => {
                                st.done = true;
                                return Some((Err(bad()), st));
                            }
                        }
                    }
                    let Some(opener) = st.opener.as_mut() else {
                        continue;
                    };
                    if opener.push(&chunk, &mut out).is_err() {
                        st.done = true;
                        return Some((Err(bad()), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(io::Error::other(e)), st));
                }
                None => {
                    st.done = true;
                    let Some(opener) = st.opener.take() else {
                        return Some((Err(bad()), st));
                    };
                    if opener.finish(&mut out).is_err() {
                        return Some((Err(bad()), st));
                    }
                    return Some((Ok(Bytes::from(out)), st));
                }
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), st));
            }
        }
    })
    .boxed()
}
