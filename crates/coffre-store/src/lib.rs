//! Ciphertext object storage for Coffre.
//!
//! One async trait, [`ObjectStore`], with two backends chosen by
//! configuration ([`StoreConfig`]): [`FsStore`], objects under the data
//! directory (the embedded default), and [`S3Store`], any S3-compatible
//! bucket (AWS, Scaleway, OVH, MinIO, Ceph RGW, Garage). Both pass the same
//! conformance suite (`tests/conformance.rs`).
//!
//! The store only ever sees what `coffre-crypto` produced: ciphertext objects
//! under [`ObjectKey`]s made of random ids. It knows nothing of people.

#![deny(missing_docs)]

pub mod buffers;
mod error;
mod fs;
mod key;
mod s3;
#[cfg(feature = "test-server")]
pub mod testing;
mod writeback;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use error::{Result, StoreError};
pub use fs::FsStore;
pub use key::{KeyPrefix, ObjectKey};
pub use s3::{S3Config, S3Credentials, S3Store};

/// A body to upload: chunks of bytes, of a total length that need not be
/// known in advance. An `Err` item aborts the upload and leaves nothing
/// visible.
pub type BodyStream = BoxStream<'static, std::io::Result<Bytes>>;

/// How many stored chunks of the object format the filesystem store reads
/// as one piece of a large object (after the prefix, alone), and the vault
/// opens together: a piece that is exactly such a run is opened where it
/// was read. Other stores cut their bodies as they like; readers accept
/// any cut.
/// (64 chunks of 16 KiB: a little over 1 MiB, so a 64 MiB paper is read in
/// 64 hand-offs to the blocking pool rather than 256.)
pub const PIECE_CHUNKS: u64 = 64;

/// The bytes of a stored object (or of a range of it).
pub struct ObjectBody {
    /// Length of what the stream yields.
    pub len: u64,
    /// The bytes.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl fmt::Debug for ObjectBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBody")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl ObjectBody {
    /// Collects the whole body in memory. For tests and small objects only.
    pub async fn collect(self) -> Result<Vec<u8>> {
        use futures_util::TryStreamExt;
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0).min(1 << 26));
        let mut s = self.stream;
        while let Some(chunk) = s.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

/// What `put` stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutReceipt {
    /// Bytes stored.
    pub size: u64,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The key.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, if the store says.
    pub modified: Option<SystemTime>,
}

/// One page of a listing. Pass `next` back as `after` for the next page.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Keys in lexicographic order.
    pub entries: Vec<ListEntry>,
    /// Where the next page starts, if any.
    pub next: Option<String>,
}

/// Most keys one `list` call returns (S3's own page limit).
pub const MAX_LIST_PAGE: usize = 1000;

/// An object store holding Coffre's ciphertext objects.
///
/// Contract (checked by the conformance suite for every backend):
/// - `put` is atomic: until it returns `Ok`, readers see the old object or
///   none; when it returns `Ok` the object is durable. A failed body or an
///   interrupted upload leaves nothing visible.
/// - `get_range` yields exactly the bytes asked for, or
///   [`StoreError::InvalidRange`] when the range leaves the object.
/// - `delete` of a missing key succeeds (deletion is idempotent).
/// - `list` returns keys in lexicographic order, at most `limit`
///   (capped at [`MAX_LIST_PAGE`]) per page.
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Stores a body of unknown length under `key`, atomically and durably.
    async fn put(&self, key: &ObjectKey, body: BodyStream) -> Result<PutReceipt>;
    /// The whole object, streamed.
    async fn get(&self, key: &ObjectKey) -> Result<ObjectBody>;
    /// Bytes `range` of the object, streamed.
    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<ObjectBody>;
    /// Size of the object.
    async fn head(&self, key: &ObjectKey) -> Result<u64>;
    /// Removes the object; removing what is not there is no error.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;
    /// One page of keys under `prefix`, after the key `after`.
    async fn list(&self, prefix: &KeyPrefix, after: Option<&str>, limit: usize)
    -> Result<ListPage>;
    /// Removes what interrupted uploads left behind (temporary files,
    /// multipart uploads) that is older than `older_than`. Returns how many.
    async fn cleanup_incomplete(&self, older_than: Duration) -> Result<u64>;
    /// Checks that the store answers (for readiness probes).
    async fn check(&self) -> Result<()>;
    /// One line for operators: backend and location, no credentials.
    fn describe(&self) -> String;
    /// Whether reading may fail for reasons beyond this host (a network,
    /// another server down). The vault then asks [`ObjectStore::head`]
    /// before journaling a download as given, so that a store out of reach
    /// fails it first; a local store is not asked (the extra trip cost
    /// downloads about a twentieth of their throughput).
    fn remote(&self) -> bool {
        false
    }
}

/// Which store to use.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// Objects under this directory (created if missing).
    Filesystem {
        /// The directory.
        root: std::path::PathBuf,
    },
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// Opens the store a configuration names.
pub async fn open(config: &StoreConfig) -> Result<Arc<dyn ObjectStore>> {
    Ok(match config {
        StoreConfig::Filesystem { root } => Arc::new(FsStore::open(root).await?),
        StoreConfig::S3(c) => Arc::new(S3Store::connect(c.clone()).await?),
    })
}

/// Checks a requested range against an object size.
fn check_range(key: &ObjectKey, range: &Range<u64>, size: u64) -> Result<()> {
    if range.start > range.end || range.end > size {
        return Err(StoreError::InvalidRange {
            key: key.to_string(),
            start: range.start,
            end: range.end,
            size,
        });
    }
    Ok(())
}
