//! `coffre serve`: the data directory, the store, the vault, the API, the
//! operator's socket, scheduled backups; graceful shutdown with a final
//! journal checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use coffre_api::{ApiConfig, AppState};
use coffre_store::ObjectStore;
use coffre_vault::datadir::{self, RootProtection};
use coffre_vault::{Vault, VaultConfig, VaultError};

use crate::backups;
use crate::settings::Settings;

pub const ADMIN_SOCKET: &str = "admin.sock";
/// The exit status of a start refused because the database cannot be
/// read: the systemd unit does not restart on it
/// (`RestartPreventExitStatus=3`); a restart would find it the same.
pub const EXIT_DATABASE_UNREADABLE: u8 = 3;

/// The database of a vault in service cannot be used (the message says
/// how to restore it).
#[derive(Debug)]
pub struct DatabaseUnreadable(String);

impl std::fmt::Display for DatabaseUnreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DatabaseUnreadable {}
/// How long requests in flight may run on after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Files and directories `serve` creates are its own only, whatever the
/// umask it was started with (the database, the key files, the objects).
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// A fresh directory for a demonstration, under the system's temporary
/// directory: a new one with a random name, created 0700, never one that
/// exists.
pub fn demo_dir() -> anyhow::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("coffre-demo-")
        .tempdir()
        .context("cannot create a directory for the demonstration")?;
    // Kept: `coffre serve --demo` deletes it when it stops.
    Ok(dir.keep())
}

pub async fn run(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let Settings {
        data_dir,
        listen,
        protection,
        identity,
        identity_in_data_dir,
        store: store_config,
        limits,
        scrub_every,
        backups: backup_schedule,
        public_url,
        logins_per_minute,
        requests_per_minute_per_account,
        trusted_proxies,
        metrics_token,
        server_limits,
        web,
    } = settings;
    raise_open_files();
    let opened = datadir::open_or_init(&data_dir, &protection)
        .with_context(|| format!("cannot open the data directory {}", data_dir.display()))?;
    tighten(&data_dir);
    if identity_in_data_dir && let Some(identity) = &identity {
        tracing::warn!(
            identity = %identity.display(),
            "the root key ring is protected by an age identity file kept INSIDE the data directory. \
             Anyone who copies the directory gets the database and the key that opens it \
             (SECURITY.md, \"a thief with the disks\"). In production, keep the identity file elsewhere \
             (server.root_identity_file) or use a passphrase (server.root_passphrase_file), and back it up."
        );
    }
    let objects_on_disk = matches!(store_config, coffre_store::StoreConfig::Filesystem { .. });
    let store: Arc<dyn ObjectStore> = coffre_store::open(&store_config).await?;
    if let Err(e) = store.check().await {
        tracing::warn!(error = %e, "the object store does not answer yet; /readyz will say so");
    }
    let describe = store.describe();
    let max_doc = limits.max_document_bytes;
    let config = VaultConfig {
        clock: coffre_vault::Clock::system(),
        db_path: data_dir.join(datadir::DB_DIR),
        person_keys: data_dir.join(datadir::PERSON_KEYS_DIR),
        journal: data_dir.join(datadir::JOURNAL_DIR),
        store,
        root: opened.root,
        limits,
    };
    // A data directory whose keys existed holds a vault in service: its
    // database must be there and readable, never started afresh.
    let vault = if opened.created {
        Vault::open(config).await
    } else {
        Vault::open_existing(config).await
    };
    let vault = match vault {
        Ok(v) => v,
        Err(VaultError::Unreadable(why)) => {
            return Err(anyhow::Error::new(DatabaseUnreadable(unreadable_message(
                &why,
                &data_dir,
                backup_schedule.as_ref().map(|b| b.dir.as_path()),
                identity.as_deref(),
                objects_on_disk,
            ))));
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(
                "cannot open the vault database (is another `coffre serve` using this data directory?)",
            ));
        }
    };
    let root_file: Arc<dyn coffre_vault::RootFile> = Arc::new(RootKeyFile {
        identity_in_data_dir,
        dir: data_dir.clone(),
        protection,
    });
    if let Some(schedule) = backup_schedule {
        let to = backups::recipients(&schedule.to)?;
        tracing::info!(
            dir = %schedule.dir.display(),
            every_hours = schedule.every.as_secs() / 3600,
            keep = schedule.keep,
            "scheduled backups"
        );
        tokio::spawn(backups::run(vault.clone(), root_file.clone(), schedule, to));
    } else {
        tracing::warn!(
            "scheduled backups are off (backup.every_hours = 0): every document key lives in the \
             metadata database; back it up some other way (`coffre backup create`)"
        );
    }
    let metrics = Arc::new(coffre_api::Metrics::default());

    let socket_path = data_dir.join(ADMIN_SOCKET);
    let admin = coffre_api::admin::bind(&socket_path)
        .with_context(|| format!("cannot create the admin socket {}", socket_path.display()))?;
    let default_backup_recipient = identity
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| coffre_crypto::Identity::from_identity_file(&t).ok())
        .map(|i| i.recipient());
    tokio::spawn(coffre_api::admin::serve(
        admin,
        coffre_api::admin::Operator {
            vault: vault.clone(),
            store: describe.clone(),
            data_dir: data_dir.clone(),
            root_file,
            default_backup_recipient,
            metrics: metrics.clone(),
        },
    ));

    if let Some(every) = scrub_every {
        let scrubber = vault.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            // The first tick is immediate: wait a whole interval instead.
            tick.tick().await;
            loop {
                tick.tick().await;
                match scrubber.scrub(&|_, _| {}).await {
                    Ok(r) if r.healthy() => tracing::info!(
                        checked = r.checked,
                        orphans = r.orphans.len(),
                        "scrub: every object is intact"
                    ),
                    Ok(r) => tracing::error!(
                        checked = r.checked,
                        missing = r.missing.len(),
                        corrupt = r.corrupt.len(),
                        "scrub: damaged or missing objects; run `coffre scrub` for the list"
                    ),
                    Err(e) => tracing::warn!(error = %e, "scrub could not run"),
                }
            }
        });
    }

    // Expired grants lose their keys, idle sessions their memory.
    let sweeper = vault.clone();
    let swept_dir = data_dir.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            sweeper.sweep_sessions();
            if let Err(e) = sweeper.sweep_refusals().await {
                tracing::warn!(error = %e, "writing the refusals' summaries failed");
            }
            if let Err(e) = sweeper.sweep_attempts().await {
                tracing::warn!(error = %e, "sweeping old login counters failed");
            }
            match coffre_api::admin::sweep_backups(&swept_dir) {
                Ok(0) => {}
                Ok(n) => tracing::warn!(removed = n, "removed backups no command came to fetch"),
                Err(e) => tracing::warn!(error = %e, "sweeping abandoned backups failed"),
            }
            if let Err(e) = sweeper.sweep_expired_grants().await {
                tracing::warn!(error = %e, "sweeping expired grants failed");
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let api = ApiConfig {
        public_url: public_url.unwrap_or_else(|| format!("http://{bound}")),
        max_body_bytes: usize::try_from(max_doc + (1 << 20)).unwrap_or(usize::MAX),
        logins_per_minute,
        requests_per_minute_per_account,
        trusted_proxies,
        metrics_token,
    };
    let web = coffre_web::WebConfig { demo, ..web };
    let app = coffre_web::app(AppState::with_metrics(vault.clone(), api, metrics), web);
    if demo {
        let logins = coffre_web::demo::seed(&vault)
            .await
            .context("cannot fill the demonstration vault")?;
        print_demo(&logins, bound)?;
    }
    tracing::info!(%bound, store = %describe, data_dir = %data_dir.display(), "coffre is serving");
    // A line for scripts and tests that asked for port 0.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "coffre listening on http://{bound}")?;
        out.flush()?;
    }
    // On SIGTERM or Ctrl-C: stop accepting, let requests in flight finish
    // for at most the grace period, then stop regardless.
    let server_limits = coffre_api::server::ServerLimits {
        grace: SHUTDOWN_GRACE,
        ..server_limits
    };
    match coffre_api::server::serve(listener, app, server_limits, shutdown_signal()).await {
        coffre_api::server::Stopped::Drained => {}
        coffre_api::server::Stopped::Cut => tracing::warn!(
            "requests still running {} s after the shutdown signal; stopping anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    tracing::info!("shutting down: signing a final journal checkpoint");
    vault.checkpoint().await?;
    let _ = std::fs::remove_file(&socket_path);
    Ok(())
}

/// The demonstration's logins, for the person trying it.
fn print_demo(l: &coffre_web::demo::DemoLogins, bound: std::net::SocketAddr) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "DÉMONSTRATION — a throwaway vault, deleted when you stop this server."
    )?;
    writeln!(
        out,
        "Open http://{bound}/ and log in as one of these people:"
    )?;
    for (name, identifier, secret) in &l.people {
        writeln!(
            out,
            "  {name}: identifier {identifier}, secret \"{secret}\""
        )?;
    }
    writeln!(
        out,
        "Caseworker of {} at http://{bound}/pro: login {}, password \"{}\";",
        l.structure, l.caseworker_login, l.caseworker_password
    )?;
    writeln!(
        out,
        "  second factor: add the key {} to an authenticator app, or use one of these codes once each: {}",
        l.caseworker_otp_secret,
        l.caseworker_recovery_codes.join(" ")
    )?;
    let (name, login, password, code) = &l.other;
    writeln!(
        out,
        "Another structure, {name}, which none of them chose: login {login}, password \"{password}\", code {code}"
    )?;
    out.flush()?;
    Ok(())
}

/// The root key ring file in the data directory, as rotation and backups
/// see it.
struct RootKeyFile {
    dir: PathBuf,
    protection: RootProtection,
    identity_in_data_dir: bool,
}

impl coffre_vault::RootFile for RootKeyFile {
    fn save(&self, ring: &coffre_crypto::root::RootKeyRing) -> coffre_vault::Result<()> {
        datadir::save_root(&self.dir, ring, &self.protection)
    }

    fn read(&self) -> coffre_vault::Result<Vec<u8>> {
        let path = self.dir.join(datadir::ROOT_KEYS_FILE);
        std::fs::read(&path)
            .map_err(|e| coffre_vault::VaultError::Db(format!("read {}: {e}", path.display())))
    }

    fn identity_in_data_dir(&self) -> bool {
        self.identity_in_data_dir
    }
}

/// Raises the soft limit on open files to the hard one: every connection
/// is a file descriptor, and a low soft limit (1,024 is common) lets a
/// thousand idle sockets stop the server from accepting anyone.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, l) {
            tracing::warn!(error = %e, "cannot raise the limit on open files");
        }
    }
}

/// A data directory others may enter is made private (an older version, or
/// a directory made by hand, may have left it open).
fn tighten(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(dir)
        && m.permissions().mode() & 0o077 != 0
    {
        match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            Ok(()) => {
                tracing::warn!(dir = %dir.display(), "the data directory was open to other users: now 0700")
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "the data directory is open to other users and could not be made private")
            }
        }
    }
}

/// What the operator reads when the database cannot be used: what is
/// wrong, that nothing was started in its place, and how to restore.
fn unreadable_message(
    why: &str,
    data_dir: &Path,
    backup_dir: Option<&Path>,
    identity: Option<&Path>,
    objects_on_disk: bool,
) -> String {
    let mut m = format!(
        "{why}.\nCoffre did not start, and will not start on an empty database in its place: \
         every document key is in that database.\n"
    );
    let restored = data_dir.with_file_name(format!(
        "{}-restored",
        data_dir.file_name().unwrap_or_default().to_string_lossy()
    ));
    let identity = identity.map_or_else(
        || "<the identity the backups are encrypted to>".to_owned(),
        |p| p.display().to_string(),
    );
    match backup_dir.and_then(backups::newest) {
        Some(b) => m.push_str(&format!(
            "Newest backup: {} (taken {}).\nRestore it into a new directory, then serve from there:\n  \
             coffre backup restore {} --data-dir {} --identity {identity}\n{}  \
             coffre serve --data-dir {} [--config FILE]",
            b.path.display(),
            humantime::format_rfc3339_seconds(b.taken),
            b.path.display(),
            restored.display(),
            move_objects(data_dir, &restored, objects_on_disk),
            restored.display(),
        )),
        None => m.push_str(&format!(
            "No scheduled backup was found{}. Restore your newest backup into a new directory:\n  \
             coffre backup restore BACKUP.age --data-dir {} --identity {identity}\n{}",
            backup_dir.map_or_else(String::new, |d| format!(" in {}", d.display())),
            restored.display(),
            move_objects(data_dir, &restored, objects_on_disk),
        )),
    }
    m
}

/// On the filesystem store the papers themselves are under the data
/// directory: they go along (the metadata backup does not hold them).
fn move_objects(data_dir: &Path, restored: &Path, objects_on_disk: bool) -> String {
    if objects_on_disk {
        format!(
            "  mv {} {}\n",
            data_dir.join("objects").display(),
            restored.join("objects").display()
        )
    } else {
        String::new()
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
