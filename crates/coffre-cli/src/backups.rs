//! Backups `serve` takes by itself: every DEK wrap lives in the metadata
//! database, so losing it loses every paper. One at start when the newest is
//! older than the interval, then one per interval; the oldest beyond `keep`
//! are deleted (they hold erased people's keys: the retention is the
//! horizon of erasure, SECURITY.md says so).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use coffre_crypto::Recipient;
use coffre_vault::{RootFile, Vault};

use crate::settings::{BackupRecipients, BackupSchedule};

const PREFIX: &str = "coffre-";
const SUFFIX: &str = ".backup.age";
/// After a failed backup, the next try comes this much later.
const RETRY: Duration = Duration::from_secs(15 * 60);

/// A backup found in the destination.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub taken: SystemTime,
}

/// The file name of a backup taken at `at` (sorts in time order).
fn file_name(at: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(at)
        .to_string()
        .replace(':', "-");
    format!("{PREFIX}{stamp}{SUFFIX}")
}

fn taken_at(name: &str) -> Option<SystemTime> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    // 2026-11-30T22-00-00Z → 2026-11-30T22:00:00Z
    let (date, time) = stamp.split_once('T')?;
    humantime::parse_rfc3339(&format!("{date}T{}", time.replace('-', ":"))).ok()
}

/// The whole backups in `dir`, oldest first (partial ones are not listed).
pub fn list(dir: &Path) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Found> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            taken_at(&name).map(|taken| Found {
                path: e.path(),
                taken,
            })
        })
        .collect();
    found.sort_by_key(|f| f.taken);
    found
}

pub fn newest(dir: &Path) -> Option<Found> {
    list(dir).pop()
}

/// Deletes the oldest backups beyond `keep`, and partial files left by a
/// backup interrupted more than a day ago.
fn prune(dir: &Path, keep: usize) -> usize {
    let all = list(dir);
    let mut removed = 0;
    for old in all.iter().take(all.len().saturating_sub(keep)) {
        match std::fs::remove_file(&old.path) {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(path = %old.path.display(), error = %e, "cannot delete an old backup")
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|a| a > Duration::from_secs(86_400)));
            if stale && e.file_name().to_string_lossy().ends_with(".partial") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    removed
}

/// The recipients, now that the data directory (and a new identity) exist.
pub fn recipients(to: &BackupRecipients) -> anyhow::Result<Vec<Recipient>> {
    match to {
        BackupRecipients::Configured(r) => Ok(r.clone()),
        BackupRecipients::RootIdentity(path) => {
            let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("cannot read the root identity {}: {e}", path.display())
            })?);
            let id = coffre_crypto::Identity::from_identity_file(&text)
                .map_err(|_| anyhow::anyhow!("{} is not an age identity file", path.display()))?;
            Ok(vec![id.recipient()])
        }
    }
}

/// Takes one backup now; answers its path.
pub async fn take(
    vault: &Vault,
    root_file: &dyn RootFile,
    schedule: &BackupSchedule,
    to: &[Recipient],
) -> Result<PathBuf, String> {
    let path = schedule.dir.join(file_name(SystemTime::now()));
    let summary = coffre_api::admin::write_backup(vault, root_file, to, &path).await?;
    tracing::info!(
        path = %path.display(),
        records = summary.records,
        documents = summary.documents,
        "scheduled backup written"
    );
    let removed = prune(&schedule.dir, schedule.keep);
    if removed > 0 {
        tracing::info!(removed, keep = schedule.keep, "old backups deleted");
    }
    Ok(path)
}

/// How long until the next backup is due.
fn due_in(schedule: &BackupSchedule) -> Duration {
    match newest(&schedule.dir) {
        None => Duration::ZERO,
        Some(f) => {
            let age = f.taken.elapsed().unwrap_or(Duration::ZERO);
            schedule.every.saturating_sub(age)
        }
    }
}

/// The schedule, for as long as the server runs.
pub async fn run(
    vault: Vault,
    root_file: std::sync::Arc<dyn RootFile>,
    schedule: BackupSchedule,
    to: Vec<Recipient>,
) {
    loop {
        tokio::time::sleep(due_in(&schedule)).await;
        if let Err(e) = take(&vault, root_file.as_ref(), &schedule, &to).await {
            tracing::error!(
                dir = %schedule.dir.display(),
                error = %e,
                "scheduled backup failed; next try in 15 minutes"
            );
            tokio::time::sleep(RETRY).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_time_and_read_back() {
        let t = humantime::parse_rfc3339("2026-11-30T22:05:09Z").unwrap();
        let name = file_name(t);
        assert_eq!(name, "coffre-2026-11-30T22-05-09Z.backup.age");
        assert_eq!(taken_at(&name), Some(t));
        assert_eq!(
            taken_at("coffre-2026-11-30T22-05-09Z.backup.age.partial"),
            None
        );
        assert_eq!(taken_at("backup-123.age"), None);

        let dir = tempfile::tempdir().unwrap();
        for h in 0..10u64 {
            let at = t + Duration::from_secs(h * 3600);
            std::fs::write(dir.path().join(file_name(at)), b"x").unwrap();
        }
        std::fs::write(dir.path().join("unrelated.txt"), b"x").unwrap();
        assert_eq!(prune(dir.path(), 7), 3);
        let left = list(dir.path());
        assert_eq!(left.len(), 7);
        assert_eq!(left[0].taken, t + Duration::from_secs(3 * 3600));
        assert_eq!(
            newest(dir.path()).unwrap().taken,
            t + Duration::from_secs(9 * 3600)
        );
        assert!(dir.path().join("unrelated.txt").exists());
    }
}
