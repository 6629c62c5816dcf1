//! The data directory: where the root key ring file, the sled database and
//! (by default) the objects live.
//!
//! ```text
//! <dir>/root-keys.age        the root key ring, age-encrypted
//! <dir>/root-identity.txt    the age identity that opens it (mode 0600), when
//!                            protected by an identity file kept beside it
//! <dir>/db/                  sled metadata
//! <dir>/person-keys/         the per-person key files
//! <dir>/journal/             the audit journal (records/journal.rs)
//! <dir>/objects/             the filesystem object store
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use coffre_crypto::root::{RootKeyRing, ScryptWorkFactor};
use coffre_crypto::{Identity, UserSecret};

use crate::{Result, VaultError};

pub const ROOT_KEYS_FILE: &str = "root-keys.age";
pub const ROOT_IDENTITY_FILE: &str = "root-identity.txt";
pub const DB_DIR: &str = "db";
/// The per-person key files (beside the database).
pub const PERSON_KEYS_DIR: &str = "person-keys";
/// The audit journal's files (beside the database).
pub const JOURNAL_DIR: &str = "journal";
/// Where a restore stages its work, in the target data directory.
pub const RESTORE_STAGING: &str = "restore.partial";

/// How the root key ring file is protected.
#[derive(Debug)]
pub enum RootProtection {
    /// An age identity file; created (mode 0600) on first start if missing.
    IdentityFile(PathBuf),
    /// A passphrase (scrypt, work factor 2^18).
    Passphrase(UserSecret),
}

/// What opening the data directory found.
#[derive(Debug)]
pub struct Opened {
    pub root: RootKeyRing,
    /// True when this call created the directory's keys.
    pub created: bool,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VaultError + 'a {
    move |e| VaultError::Db(format!("{action} {}: {e}", path.display()))
}

/// Writes a file readable by its owner only, durably, without replacing an
/// existing one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
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
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", parent))?;
    }
    Ok(())
}

/// Opens the data directory, creating it and its root key ring on first use.
pub fn open_or_init(dir: &Path, protection: &RootProtection) -> Result<Opened> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).map_err(io("create", dir))?;
    if dir.join(RESTORE_STAGING).exists() {
        return Err(VaultError::Db(format!(
            "{} holds an unfinished restore ({}): run `coffre backup restore` again before starting",
            dir.display(),
            RESTORE_STAGING
        )));
    }
    let keys = dir.join(ROOT_KEYS_FILE);
    if keys.exists() {
        let file = std::fs::read(&keys).map_err(io("read", &keys))?;
        let root = match protection {
            RootProtection::IdentityFile(p) => {
                let text = std::fs::read_to_string(p).map_err(io("read", p))?;
                RootKeyRing::from_file_with_identity(&file, &Identity::from_identity_file(&text)?)?
            }
            RootProtection::Passphrase(pass) => {
                RootKeyRing::from_file_with_passphrase(&file, pass)?
            }
        };
        return Ok(Opened {
            root,
            created: false,
        });
    }
    if dir.join(DB_DIR).exists() {
        return Err(VaultError::Db(format!(
            "{} holds a database but no {ROOT_KEYS_FILE} (an interrupted restore, or a lost file): \
             put the root key file back, or restore the backup again into an empty directory",
            dir.display()
        )));
    }
    let root = RootKeyRing::generate()?;
    let file = match protection {
        RootProtection::IdentityFile(p) => {
            let identity = if p.exists() {
                Identity::from_identity_file(&std::fs::read_to_string(p).map_err(io("read", p))?)?
            } else {
                let id = Identity::generate();
                write_private(p, id.to_identity_file().as_bytes())?;
                id
            };
            root.to_file_for_recipient(&identity.recipient())?
        }
        RootProtection::Passphrase(pass) => {
            root.to_file_with_passphrase(pass, ScryptWorkFactor::STANDARD)?
        }
    };
    write_private(&keys, &file)?;
    Ok(Opened {
        root,
        created: true,
    })
}

/// Replaces the root key ring file (after a rotation), atomically.
pub fn save_root(dir: &Path, root: &RootKeyRing, protection: &RootProtection) -> Result<()> {
    let file = match protection {
        RootProtection::IdentityFile(p) => {
            let id =
                Identity::from_identity_file(&std::fs::read_to_string(p).map_err(io("read", p))?)?;
            root.to_file_for_recipient(&id.recipient())?
        }
        RootProtection::Passphrase(pass) => {
            root.to_file_with_passphrase(pass, ScryptWorkFactor::STANDARD)?
        }
    };
    let tmp = dir.join(format!("{ROOT_KEYS_FILE}.new"));
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &file)?;
    let keys = dir.join(ROOT_KEYS_FILE);
    // The old ring (with the versions just retired) is overwritten once
    // the new one is in place, so that its blocks do not linger in free
    // space (copy-on-write file systems and flash may still keep them).
    let old = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&keys);
    std::fs::rename(&tmp, &keys).map_err(io("rename", &keys))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))?;
    if let Ok(mut old) = old {
        let len = old.metadata().map_or(0, |m| m.len());
        old.write_all(&vec![0u8; usize::try_from(len).unwrap_or(0)])
            .and_then(|()| old.sync_all())
            .map_err(io("overwrite", &keys))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_then_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let protection = RootProtection::IdentityFile(dir.path().join(ROOT_IDENTITY_FILE));
        let first = open_or_init(dir.path(), &protection).unwrap();
        assert!(first.created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [ROOT_IDENTITY_FILE, ROOT_KEYS_FILE] {
                let mode = std::fs::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
        let again = open_or_init(dir.path(), &protection).unwrap();
        assert!(!again.created);
        assert_eq!(again.root.versions(), first.root.versions());

        // Rotation saved and reloaded.
        let mut root = again.root;
        root.rotate().unwrap();
        save_root(dir.path(), &root, &protection).unwrap();
        assert_eq!(
            open_or_init(dir.path(), &protection)
                .unwrap()
                .root
                .versions(),
            vec![1, 2]
        );

        // A database without its key file: refused, never a fresh ring.
        let lost = tempfile::tempdir().unwrap();
        std::fs::create_dir(lost.path().join(DB_DIR)).unwrap();
        let e = open_or_init(
            lost.path(),
            &RootProtection::IdentityFile(lost.path().join(ROOT_IDENTITY_FILE)),
        )
        .unwrap_err();
        assert!(e.to_string().contains("holds a database but no"), "{e}");
        assert!(!lost.path().join(ROOT_KEYS_FILE).exists());

        // An unfinished restore: refused until it is finished.
        let unfinished = tempfile::tempdir().unwrap();
        std::fs::create_dir(unfinished.path().join(RESTORE_STAGING)).unwrap();
        assert!(
            open_or_init(
                unfinished.path(),
                &RootProtection::IdentityFile(unfinished.path().join(ROOT_IDENTITY_FILE)),
            )
            .is_err()
        );
        assert!(!unfinished.path().join(ROOT_KEYS_FILE).exists());

        // Another identity does not open it.
        let other = RootProtection::IdentityFile(dir.path().join("other.txt"));
        std::fs::write(
            dir.path().join("other.txt"),
            Identity::generate().to_identity_file().as_bytes(),
        )
        .unwrap();
        assert!(open_or_init(dir.path(), &other).is_err());
    }
}
