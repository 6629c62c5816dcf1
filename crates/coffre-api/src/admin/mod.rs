//! The operator's channel: a Unix socket in the data directory (mode 0600;
//! being able to open it is the credential). One JSON request per line; the
//! answer is one JSON line, which long work (scrub) precedes with progress
//! lines. The messages are [`protocol`]'s, which the `coffre` command uses
//! too.

pub mod protocol;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use coffre_crypto::Recipient;
use coffre_crypto::archive::ArchiveWriter;
use coffre_vault::{RootFile, Vault};
use protocol::{
    AuditPageReply, AuditRangeReply, BackupReply, CaseworkerListReply, Deactivated, GcReply,
    MetricsReply, Progress, Request, RotationReply, ScrubReply, SecondFactorCode, StatusReply,
    StructureCreated, StructureInfo, StructureList, answer_line, progress_line,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

/// Longest request line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Most recipients of one backup.
const MAX_RECIPIENTS: usize = 16;

/// What the operator's commands reach.
#[derive(Clone)]
pub struct Operator {
    pub vault: Vault,
    /// The store, described for `status`.
    pub store: String,
    pub data_dir: PathBuf,
    pub root_file: Arc<dyn RootFile>,
    /// Where backups go when the command names no recipient (the root
    /// identity's recipient, when there is one).
    pub default_backup_recipient: Option<Recipient>,
    /// The HTTP server's metrics.
    pub metrics: Arc<crate::Metrics>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("store", &self.store)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Binds the socket (replacing a stale one) with mode 0600. It is created in
/// a fresh directory only the server can enter, given its mode there, and
/// only then renamed into place: at no moment can another user connect to it.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let parent = path.parent().unwrap_or(Path::new("."));
    // Left by a server that died while binding (one server per data
    // directory: the database lock is taken before this runs).
    if let Ok(entries) = std::fs::read_dir(parent) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(".adm-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    // Short: a Unix socket path has at most 107 bytes.
    let private = parent.join(format!(".adm-{}", std::process::id()));
    let mut b = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&private)?;
    let staged = private.join("admin.sock");
    let result = (|| {
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        let _ = std::fs::remove_file(path);
        std::fs::rename(&staged, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

pub async fn serve(listener: UnixListener, op: Operator) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let op = op.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r.take(MAX_LINE as u64 * 64)).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.len() > MAX_LINE {
                    let refused = answer_line::<()>(&Err("request too long".into()));
                    let _ = w.write_all(format!("{refused}\n").as_bytes()).await;
                    break;
                }
                let (ptx, mut prx) = mpsc::channel::<Progress>(8);
                let work = handle(&op, &line, ptx);
                tokio::pin!(work);
                let answer = loop {
                    tokio::select! {
                        a = &mut work => break a,
                        Some(p) = prx.recv() => {
                            if w.write_all(format!("{}\n", progress_line(p)).as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                };
                if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

fn refused<R>(e: impl std::fmt::Display) -> Result<R, String> {
    Err(e.to_string())
}

/// The answer line of one request.
async fn handle(op: &Operator, line: &str, progress: mpsc::Sender<Progress>) -> String {
    let req: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(_) => return answer_line::<()>(&refused("bad request: not a known command")),
    };
    let vault = &op.vault;
    match req {
        Request::StructureCreate { name, admin_login } => {
            answer_line(&match vault.create_structure(&name, &admin_login).await {
                Ok(c) => Ok(StructureCreated {
                    structure_id: c.structure_id,
                    admin_id: c.admin_id,
                    enrollment_code: c.enrollment_code.to_string(),
                }),
                Err(e) => refused(e),
            })
        }
        Request::StructureList => answer_line(&match vault.structures() {
            Ok(list) => Ok(StructureList {
                structures: list
                    .into_iter()
                    .map(|s| StructureInfo {
                        structure_id: s.id,
                        name: s.name,
                        created_at_ms: s.created_ms,
                        key_version: s.key_version,
                        rotation_due: s.rotation_due,
                    })
                    .collect(),
            }),
            Err(e) => refused(e),
        }),
        Request::Status => answer_line(&match vault.status() {
            Ok(status) => Ok(StatusReply {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                store: op.store.clone(),
                data_dir: op.data_dir.display().to_string(),
                status,
            }),
            Err(e) => refused(e),
        }),
        Request::AuditRange {
            since_ms,
            until_ms,
            beneficiary,
        } => answer_line(
            &vault
                .audit_range(since_ms, until_ms, beneficiary)
                .await
                .map(|range| AuditRangeReply { range })
                .map_err(|e| e.to_string()),
        ),
        Request::AuditPage {
            from,
            to,
            beneficiary,
            limit,
        } => answer_line(
            &vault
                .audit_page(from, to, beneficiary, limit)
                .map(|lines| AuditPageReply { lines })
                .map_err(|e| e.to_string()),
        ),
        Request::Scrub => {
            let report = vault
                .scrub(&move |done, total| {
                    // Every 1 % is plenty for a progress bar.
                    if done == total || done % (total / 100).max(1) == 0 {
                        let _ = progress.try_send(Progress { done, total });
                    }
                })
                .await;
            answer_line(&report.map_err(|e| e.to_string()).map(|report| ScrubReply {
                healthy: report.healthy(),
                report,
            }))
        }
        Request::Gc {
            older_than_secs,
            apply,
        } => answer_line(
            &vault
                .gc(Duration::from_secs(older_than_secs), apply)
                .await
                .map(|report| GcReply {
                    report,
                    applied: apply,
                })
                .map_err(|e| e.to_string()),
        ),
        Request::RotateRoot => answer_line(
            &vault
                .rotate_root(op.root_file.as_ref())
                .await
                .map(|report| RotationReply { report })
                .map_err(|e| e.to_string()),
        ),
        Request::BackupCreate { recipients } => answer_line(&backup(op, &recipients).await),
        Request::CaseworkerDeactivate { caseworker } => answer_line(
            &vault
                .deactivate_caseworker_as_operator(caseworker)
                .await
                .map(|()| Deactivated {
                    caseworker_id: caseworker,
                    rotation_due: true,
                })
                .map_err(|e| e.to_string()),
        ),
        Request::CaseworkerSecondFactorCode { caseworker } => answer_line(
            &vault
                .reset_second_factor_as_operator(caseworker)
                .await
                .map(|code| SecondFactorCode {
                    caseworker_id: caseworker,
                    code: code.to_string(),
                })
                .map_err(|e| e.to_string()),
        ),
        Request::CaseworkerList { structure } => answer_line(
            &vault
                .caseworkers_of(structure)
                .map(|caseworkers| CaseworkerListReply { caseworkers })
                .map_err(|e| e.to_string()),
        ),
        Request::Metrics => answer_line(&Ok::<_, String>(MetricsReply {
            text: crate::metrics_text(&op.metrics, vault),
        })),
    }
}

/// Writes the encrypted backup into the data directory (the command then
/// moves it where the operator asked) and answers with its path.
async fn backup(op: &Operator, recipients: &[String]) -> Result<BackupReply, String> {
    if recipients.len() > MAX_RECIPIENTS {
        return Err(format!("at most {MAX_RECIPIENTS} recipients"));
    }
    let mut to = Vec::new();
    for r in recipients {
        to.push(
            r.parse::<Recipient>()
                .map_err(|_| format!("not an age recipient (age1…): {r}"))?,
        );
    }
    if to.is_empty() {
        match &op.default_backup_recipient {
            Some(r) => to.push(r.clone()),
            None => {
                return Err(
                    "name at least one --recipient (the root key ring is not protected by an identity file)"
                        .into(),
                );
            }
        }
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let dir = op.data_dir.join(BACKUP_DIR);
    let done = dir.join(format!("backup-{stamp}.age"));
    let summary = write_backup(&op.vault, op.root_file.as_ref(), &to, &done).await?;
    Ok(BackupReply {
        path: done.display().to_string(),
        summary,
    })
}

/// Writes an encrypted backup to `path` (mode 0600), durably: it is written
/// beside it as `….partial`, synced, then renamed, so a file with the final
/// name is always a whole backup. Creates the directory (0700) if needed.
pub async fn write_backup(
    vault: &Vault,
    root_file: &dyn RootFile,
    to: &[Recipient],
    path: &Path,
) -> Result<coffre_vault::BackupSummary, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    private_dir(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    let file = private_file(&partial).map_err(|e| format!("create {}: {e}", partial.display()))?;
    let writer =
        ArchiveWriter::new(to, std::io::BufWriter::new(file)).map_err(|e| e.to_string())?;
    let (summary, writer) = match vault.backup(writer, root_file).await {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.to_string());
        }
    };
    let finished = writer
        .finish()
        .map_err(|e| e.to_string())
        .and_then(|w| w.into_inner().map_err(|e| e.error().to_string()))
        .and_then(|f| f.sync_all().map_err(|e| e.to_string()))
        .and_then(|()| std::fs::rename(&partial, path).map_err(|e| e.to_string()))
        .and_then(|()| {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| e.to_string())
        });
    if let Err(e) = finished {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("writing the backup: {e}"));
    }
    Ok(summary)
}

/// Where the server writes a backup before the command moves it out.
pub const BACKUP_DIR: &str = "backups";
/// A backup still there after this was abandoned by its command.
pub const ABANDONED_BACKUP: Duration = Duration::from_secs(3600);

/// Deletes backups that no command came to fetch: they hold erased people's
/// keys and must not outlive the operator's retention rule.
pub fn sweep_backups(data_dir: &Path) -> std::io::Result<u64> {
    let dir = data_dir.join(BACKUP_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    let mut failure = None;
    // One file that cannot be read or removed (the command moving it right
    // now) does not stop the others from being swept.
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ABANDONED_BACKUP));
        if old && e.file_name().to_string_lossy().starts_with("backup-") {
            match std::fs::remove_file(e.path()) {
                Ok(()) => removed += 1,
                Err(err) => failure = Some(err),
            }
        }
    }
    match failure {
        Some(err) if removed == 0 => Err(err),
        _ => Ok(removed),
    }
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}
