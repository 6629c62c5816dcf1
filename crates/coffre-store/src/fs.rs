//! The filesystem backend, the embedded default: objects under
//! `<root>/objects/<key>`, uploads staged in `<root>/tmp/`.
//!
//! A put writes a temporary file, fsyncs it, renames it into place and
//! fsyncs the directory: a reader sees the old object or the whole new one,
//! and once `put` returns the object survives a crash or power loss. Keys are
//! validated by [`ObjectKey`], so a path never leaves the root.

use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use std::io::Write;

use bytes::Bytes;

use crate::{
    BodyStream, KeyPrefix, ListEntry, ListPage, MAX_LIST_PAGE, ObjectBody, ObjectKey, ObjectStore,
    PutReceipt, Result, StoreError, check_range,
};

/// The pieces a large object is read in: its prefix, then runs of
/// [`crate::PIECE_CHUNKS`] stored chunks, each in a buffer of its own (see
/// `buffers`), so the vault opens each run where it was read, without a
/// copy. One blocking-pool hop per piece, and the next piece is read while
/// the reader works on the current one.
const FIRST_PIECE: usize = coffre_crypto::object::PREFIX_LEN;
const PIECE: usize = crate::PIECE_CHUNKS as usize * coffre_crypto::object::CHUNK_STORED_LEN;
/// Objects up to this size are read in one go, on a blocking thread, into
/// a buffer of their own that the reader may then decrypt in place: no copy
/// through tokio's file buffer, one hand-off (issue 15). The memory held is
/// what streaming a larger object holds (its read buffer and what the
/// opener keeps).
const WHOLE_READ: u64 = 2 * 1024 * 1024;
/// An upload's file is synced every this many bytes as it is written, on
/// another thread (`writeback`), and once more, whole, before it is renamed
/// into place.
const SYNC_EVERY: usize = 4 * 1024 * 1024;

#[derive(Debug)]
/// Objects as files under a directory: the embedded default.
pub struct FsStore {
    root: PathBuf,
    objects: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// fsync of a directory, so a rename or a new entry in it is durable.
async fn sync_dir(dir: &Path) -> Result<()> {
    let d = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&d).and_then(|f| f.sync_all()))
        .await
        .map_err(|e| StoreError::Io {
            action: "sync directory",
            path: dir.to_path_buf(),
            source: io::Error::other(e),
        })?
        .map_err(io_err("sync directory", dir))
}

/// Creates a directory (and its parents) only its owner may enter,
/// whatever the umask.
async fn private_dir(dir: &Path) -> io::Result<()> {
    let mut b = tokio::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    b.mode(0o700);
    b.create(dir).await
}

/// Creates a file only its owner may read, whatever the umask.
fn private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        for dir in [&root, &objects, &tmp] {
            private_dir(dir)
                .await
                .map_err(io_err("create directory", dir))?;
        }
        // Every shard directory exists, durably, before the first put: a put
        // then only ever adds an entry to an existing, synced directory.
        let docs = objects.join("doc");
        for shard in 0..=255u8 {
            let d = docs.join(format!("{shard:02x}"));
            private_dir(&d)
                .await
                .map_err(io_err("create directory", &d))?;
        }
        sync_dir(&docs).await?;
        sync_dir(&objects).await?;
        sync_dir(&root).await?;
        Ok(Self {
            root,
            objects,
            tmp,
            counter: AtomicU64::new(0),
        })
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        let mut p = self.objects.clone();
        p.extend(key.components());
        p
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        self.tmp
            .join(format!("{}-{}-{}.part", std::process::id(), nanos, n))
    }

    /// Writes the body on a blocking thread fed through a bounded channel:
    /// chunks are handed over without copying, and the disk writes overlap
    /// whatever produces the body (encryption, hashing).
    async fn write_tmp(&self, tmp: &Path, mut body: BodyStream) -> Result<u64> {
        // Four pieces ahead at most (upload batches are about 1 MiB).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let path = tmp.to_path_buf();
        let writer = tokio::task::spawn_blocking(move || -> io::Result<()> {
            let mut f = private_file(&path)?;
            let mut syncer = crate::writeback::Syncer::default();
            let mut unsynced = 0;
            while let Some(b) = rx.blocking_recv() {
                f.write_all(&b)?;
                unsynced += b.len();
                // The disk writes what came so far while the rest is still
                // being sealed and hashed: the last sync then waits for the
                // last few MiB only, not the whole paper (issue 15). On a
                // thread of its own, so this one goes on writing.
                if unsynced >= SYNC_EVERY {
                    syncer.request(&f)?;
                    unsynced = 0;
                }
            }
            syncer.finish()?;
            f.sync_all()
        });
        let mut size = 0u64;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => {
                    size += c.len() as u64;
                    if tx.send(c).await.is_err() {
                        // The writer stopped on an error; it reports it below.
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(StoreError::Body(e));
                    break;
                }
            }
        }
        drop(tx);
        let written = writer.await.map_err(|e| StoreError::Io {
            action: "write",
            path: tmp.to_path_buf(),
            source: io::Error::other(e),
        })?;
        if let Some(f) = failure {
            return Err(f);
        }
        written.map_err(io_err("write", tmp))?;
        Ok(size)
    }

    async fn open_file(&self, key: &ObjectKey) -> Result<(tokio::fs::File, u64)> {
        let path = self.path(key);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => StoreError::NotFound {
                    key: key.to_string(),
                },
                _ => StoreError::Io {
                    action: "open",
                    path: path.clone(),
                    source: e,
                },
            })?;
        let len = file.metadata().await.map_err(io_err("stat", &path))?.len();
        Ok((file, len))
    }
}

/// `len` bytes of `file` from offset `at`, as pieces of `first` bytes then
/// `each` bytes (the last shorter). Each piece is read on the
/// blocking pool into a buffer of its own, and the next one is started as
/// soon as one is handed out: reading overlaps what the reader does with
/// the previous piece, and no thread waits on a slow reader.
fn pieces(
    file: std::fs::File,
    at: u64,
    len: u64,
    first: usize,
    each: usize,
    path: PathBuf,
) -> ObjectBody {
    type Read = tokio::task::JoinHandle<io::Result<(std::fs::File, Vec<u8>)>>;
    fn read(file: std::fs::File, at: u64, n: usize) -> Read {
        tokio::task::spawn_blocking(move || {
            std::io::Seek::seek(&mut &file, SeekFrom::Start(at))?;
            let mut buf = crate::buffers::take(n);
            std::io::Read::read_to_end(&mut std::io::Read::take(&file, n as u64), &mut buf)?;
            if buf.len() != n {
                // The file became shorter than it was when opened.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok((file, buf))
        })
    }
    struct State {
        next: Option<Read>,
        at: u64,
        left: u64,
        each: usize,
        path: PathBuf,
    }
    let n = (first as u64).min(len);
    let state = State {
        next: (len > 0).then(|| read(file, at, n as usize)),
        at: at + n,
        left: len - n,
        each,
        path,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let reading = st.next.take()?;
        let (file, buf) = match reading.await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let short = format!("{} is shorter than when it was opened", st.path.display());
                return Some((Err(StoreError::Integrity(short)), st));
            }
            Ok(Err(e)) => return Some((Err(io_err("read", &st.path)(e)), st)),
            Err(e) => return Some((Err(io_err("read", &st.path)(io::Error::other(e))), st)),
        };
        if st.left > 0 {
            let n = (st.each as u64).min(st.left);
            st.left -= n;
            st.next = Some(read(file, st.at, n as usize));
            st.at += n;
        }
        Some((Ok(Bytes::from(buf)), st))
    })
    .boxed();
    ObjectBody { len, stream }
}

/// Sorted names of a directory's entries; empty if it does not exist.
fn sorted_names(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(StoreError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source: e,
            });
        }
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(io_err("list", dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn list_blocking(
    objects: &Path,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<ListPage> {
    let mut page = ListPage::default();
    let doc_dir = objects.join("doc");
    for shard in sorted_names(&doc_dir)? {
        let shard_prefix = format!("doc/{shard}/");
        // Skip shards that cannot hold keys under the prefix or after the token.
        if !(shard_prefix.starts_with(prefix) || prefix.starts_with(&shard_prefix)) {
            continue;
        }
        if after.is_some_and(|a| shard_prefix.as_str() < a && !a.starts_with(&shard_prefix)) {
            continue;
        }
        let dir = doc_dir.join(&shard);
        for name in sorted_names(&dir)? {
            let text = format!("{shard_prefix}{name}");
            if !text.starts_with(prefix) || after.is_some_and(|a| text.as_str() <= a) {
                continue;
            }
            let Ok(key) = ObjectKey::parse(&text) else {
                continue;
            };
            if page.entries.len() == limit {
                page.next = page.entries.last().map(|e| e.key.to_string());
                return Ok(page);
            }
            let meta = std::fs::metadata(dir.join(&name)).map_err(io_err("stat", &dir))?;
            page.entries.push(ListEntry {
                key,
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
    Ok(page)
}

#[async_trait::async_trait]
impl ObjectStore for FsStore {
    async fn put(&self, key: &ObjectKey, body: BodyStream) -> Result<PutReceipt> {
        let tmp = self.tmp_path();
        let size = match self.write_tmp(&tmp, body).await {
            Ok(size) => size,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.objects).to_path_buf();
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(StoreError::Io {
                action: "rename into",
                path,
                source: e,
            });
        }
        sync_dir(&parent).await?;
        Ok(PutReceipt { size })
    }

    async fn get(&self, key: &ObjectKey) -> Result<ObjectBody> {
        // Open, stat and (for a small object) read in one trip to the
        // blocking pool: each trip costs a hand-off between threads, and a
        // download of a paper is a few of them otherwise.
        let path = self.path(key);
        let p = path.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&p).map_err(|e| ("open", e))?;
            let len = f.metadata().map_err(|e| ("stat", e))?.len();
            if len > WHOLE_READ {
                return Ok((f, len, None));
            }
            // A buffer used before when there is one (see `buffers`): the
            // vault opens the object in it and gives it back.
            let mut v = crate::buffers::take(len as usize);
            // No more than the length found at open, whatever the file
            // became since.
            std::io::Read::read_to_end(&mut std::io::Read::take(&f, len), &mut v)
                .map_err(|e| ("read", e))?;
            Ok((f, len, Some(v)))
        })
        .await
        .map_err(|e| StoreError::Io {
            action: "read",
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        let (file, len, whole) = opened.map_err(|(action, e)| match e.kind() {
            io::ErrorKind::NotFound if action == "open" => StoreError::NotFound {
                key: key.to_string(),
            },
            _ => StoreError::Io {
                action,
                path: path.clone(),
                source: e,
            },
        })?;
        let Some(whole) = whole else {
            return Ok(pieces(file, 0, len, FIRST_PIECE, PIECE, path));
        };
        let bytes = Bytes::from(whole);
        Ok(ObjectBody {
            len,
            stream: futures_util::stream::once(async move { Ok(bytes) }).boxed(),
        })
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<ObjectBody> {
        let (file, size) = self.open_file(key).await?;
        check_range(key, &range, size)?;
        let path = self.path(key);
        let len = range.end - range.start;
        // Ranges the vault asks start at a chunk: runs of chunks again.
        Ok(pieces(
            file.into_std().await,
            range.start,
            len,
            PIECE,
            PIECE,
            path,
        ))
    }

    async fn head(&self, key: &ObjectKey) -> Result<u64> {
        Ok(self.open_file(key).await?.1)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "delete",
                    path,
                    source: e,
                });
            }
        }
        if let Some(parent) = path.parent() {
            sync_dir(parent).await?;
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &KeyPrefix,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage> {
        let objects = self.objects.clone();
        let prefix = prefix.as_str().to_owned();
        let after = after.map(str::to_owned);
        let limit = limit.clamp(1, MAX_LIST_PAGE);
        tokio::task::spawn_blocking(move || {
            list_blocking(&objects, &prefix, after.as_deref(), limit)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("listing task failed: {e}")))?
    }

    async fn cleanup_incomplete(&self, older_than: Duration) -> Result<u64> {
        let mut removed = 0;
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut rd = tokio::fs::read_dir(&self.tmp)
            .await
            .map_err(io_err("list", &self.tmp))?;
        while let Some(entry) = rd.next_entry().await.map_err(io_err("list", &self.tmp))? {
            let meta = entry.metadata().await.map_err(io_err("stat", &self.tmp))?;
            if meta.is_file() && meta.modified().is_ok_and(|m| m <= cutoff) {
                tokio::fs::remove_file(entry.path())
                    .await
                    .map_err(io_err("delete", &self.tmp))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn check(&self) -> Result<()> {
        tokio::fs::metadata(&self.objects)
            .await
            .map_err(io_err("stat", &self.objects))?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("filesystem store at {}", self.root.display())
    }
}
