//! The files where per-person keys live: one file per person,
//! `<dir>/<first byte of the id, hex>/<id>.key`, holding the key sealed
//! under the root ring.
//!
//! A file, not a database record, because deleting a file is real: at
//! erasure the file is overwritten with zeros, synced, then removed, and
//! with it every record of the vault becomes unreadable — also the copies a
//! log-structured database keeps of removed values until it compacts.
//! (On a copy-on-write file system or a worn-out flash cell the old blocks
//! may survive the overwrite: `SECURITY.md` says so.)

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use coffre_crypto::PrincipalId;
use coffre_crypto::metadata::PersonKey;
use coffre_crypto::root::RootKeyRing;

use crate::{Result, VaultError};

/// Most keys kept open in memory; past it, the cache starts again empty
/// (they are read back from their files on demand).
const CACHE_MAX: usize = 100_000;

pub(crate) struct PersonKeys {
    dir: PathBuf,
    root: Arc<RwLock<Arc<RootKeyRing>>>,
    cache: Mutex<HashMap<PrincipalId, Arc<PersonKey>>>,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VaultError + 'a {
    move |e| VaultError::Db(format!("{action} {}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

/// Creates a directory (and its parents) readable by its owner only.
pub(crate) fn private_dir(path: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).map_err(io("create", path))
}

/// Writes a new file readable by its owner only, durably.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))?;
    f.sync_all().map_err(io("sync", path))?;
    if let Some(parent) = path.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn key_path(dir: &Path, id: PrincipalId) -> PathBuf {
    dir.join(format!("{:02x}", id.as_bytes()[0]))
        .join(format!("{id}.key"))
}

/// Puts back a key file from a backup (restore only, into an empty
/// directory).
pub(crate) fn restore_file(dir: &Path, id: PrincipalId, sealed: &[u8]) -> Result<()> {
    let path = key_path(dir, id);
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    write_new(&path, sealed)
}

impl PersonKeys {
    pub fn open(dir: PathBuf, root: Arc<RwLock<Arc<RootKeyRing>>>) -> Result<Self> {
        private_dir(&dir)?;
        Ok(Self {
            dir,
            root,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn root(&self) -> Arc<RootKeyRing> {
        self.root
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn path(&self, id: PrincipalId) -> PathBuf {
        key_path(&self.dir, id)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PrincipalId, Arc<PersonKey>>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key of a person; `Integrity` when it is gone (erased) or does
    /// not open.
    pub fn get(&self, id: PrincipalId) -> Result<Arc<PersonKey>> {
        if let Some(k) = self.cache().get(&id) {
            return Ok(k.clone());
        }
        let path = self.path(id);
        let sealed = match std::fs::read(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VaultError::Integrity);
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        let key = Arc::new(PersonKey::unseal(&sealed, &self.root(), id)?);
        let mut cache = self.cache();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(id, key.clone());
        Ok(key)
    }

    /// A new key for a new person, written durably before it is used.
    pub fn create(&self, id: PrincipalId) -> Result<Arc<PersonKey>> {
        let key = PersonKey::generate()?;
        let path = self.path(id);
        if let Some(parent) = path.parent() {
            private_dir(parent)?;
        }
        write_new(&path, &key.seal(&self.root(), id)?)?;
        let key = Arc::new(key);
        self.cache().insert(id, key.clone());
        Ok(key)
    }

    /// Destroys a person's key: the file is overwritten with zeros and
    /// synced, then removed (and the directory synced). Idempotent.
    pub fn destroy(&self, id: PrincipalId) -> Result<()> {
        self.cache().remove(&id);
        let path = self.path(id);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("inspect", &path)(e)),
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        f.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])
            .map_err(io("overwrite", &path))?;
        f.sync_all().map_err(io("sync", &path))?;
        drop(f);
        std::fs::remove_file(&path).map_err(io("remove", &path))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Every person with a key file, and when the file was written.
    pub fn list(&self) -> Result<Vec<(PrincipalId, std::time::SystemTime)>> {
        list_files(&self.dir)
    }

    /// How many key files `dir` holds (none when it does not exist).
    pub fn count_files(dir: &Path) -> Result<usize> {
        if !dir.exists() {
            return Ok(0);
        }
        Ok(list_files(dir)?.len())
    }

    /// The sealed bytes of a person's key file (backups).
    pub fn sealed(&self, id: PrincipalId) -> Result<Vec<u8>> {
        let path = self.path(id);
        std::fs::read(&path).map_err(io("read", &path))
    }

    /// Re-seals one key file under the ring's current version: a new file
    /// written and synced, then renamed over the old one.
    pub fn reseal(&self, id: PrincipalId, root: &RootKeyRing) -> Result<()> {
        let path = self.path(id);
        let sealed = std::fs::read(&path).map_err(io("read", &path))?;
        if RootKeyRing::sealed_version(&sealed).ok() == Some(root.current_version()) {
            return Ok(());
        }
        let resealed = PersonKey::reseal(&sealed, root, id)?;
        let tmp = path.with_extension("key.new");
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, &resealed)?;
        // The old file, held open across the rename, is overwritten once
        // the new one is in place: its blocks do not stay behind in free
        // space holding the key under the retired root version (which
        // opens with the same identity). Copy-on-write file systems and
        // flash may still keep them (SECURITY.md).
        let mut old = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        old.write_all(&vec![0u8; sealed.len()])
            .map_err(io("overwrite", &path))?;
        old.sync_all().map_err(io("sync", &path))?;
        Ok(())
    }

    /// How many key files are sealed under another version than `version`.
    pub fn stale(&self, version: u32) -> Result<u64> {
        let mut n = 0;
        for (id, _) in self.list()? {
            let sealed = self.sealed(id)?;
            n += u64::from(RootKeyRing::sealed_version(&sealed).map_or(true, |v| v != version));
        }
        Ok(n)
    }
}

fn list_files(dir: &Path) -> Result<Vec<(PrincipalId, std::time::SystemTime)>> {
    let mut out = Vec::new();
    let shards = match std::fs::read_dir(dir) {
        Ok(s) => s,
        Err(e) => return Err(io("list", dir)(e)),
    };
    for shard in shards.flatten() {
        let Ok(files) = std::fs::read_dir(shard.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            let Some(id) = name
                .strip_suffix(".key")
                .and_then(|i| i.parse::<PrincipalId>().ok())
            else {
                continue;
            };
            let modified = f
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            out.push((id, modified));
        }
    }
    Ok(out)
}
