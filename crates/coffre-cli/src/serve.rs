//! `coffre serve`: the data directory, the store, the vault, the API, the
//! operator's socket; graceful shutdown with a final journal checkpoint.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use coffre_api::{ApiConfig, AppState};
use coffre_store::{ObjectStore, S3Config, StoreConfig};
use coffre_vault::datadir::{self, ROOT_IDENTITY_FILE, RootProtection};
use coffre_vault::{Vault, VaultConfig};

use crate::config::{Config, Store};

pub const ADMIN_SOCKET: &str = "admin.sock";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// How long requests in flight may run on after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub struct ServeArgs {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let data_dir = args
        .data_dir
        .or(config.server.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("coffre-data"));
    let listen: SocketAddr = match args.listen.or(config.server.listen) {
        Some(a) => a,
        None => DEFAULT_LISTEN.parse()?,
    };
    let protection = config.root_protection(&data_dir)?;
    let opened = datadir::open_or_init(&data_dir, &protection)
        .with_context(|| format!("cannot open the data directory {}", data_dir.display()))?;
    // The identity file, when that is what protects the ring.
    let identity = match &protection {
        RootProtection::IdentityFile(p) => Some(p.clone()),
        RootProtection::Passphrase(_) => None,
    };
    if opened.created
        && let Some(identity) = &identity
    {
        tracing::warn!(
            identity = %identity.display(),
            "NEW DATA DIRECTORY: its root key ring is protected by an age identity file kept beside it. \
             Anyone who copies both can start the offline attack SECURITY.md describes. In production, \
             keep the identity file elsewhere (server.root_identity_file) or use a passphrase \
             (server.root_passphrase_env), and back it up."
        );
    }
    let store_config = match &config.store {
        Store::Filesystem => StoreConfig::Filesystem {
            root: data_dir.clone(),
        },
        Store::S3 {
            endpoint,
            region,
            bucket,
            path_style,
            part_size_mib,
        } => {
            let mut c = S3Config::new(endpoint.clone(), region.clone(), bucket.clone());
            c.path_style = *path_style;
            if let Some(p) = part_size_mib {
                c.part_size = p << 20;
            }
            StoreConfig::S3(c)
        }
    };
    let store: Arc<dyn ObjectStore> = coffre_store::open(&store_config).await?;
    if let Err(e) = store.check().await {
        tracing::warn!(error = %e, "the object store does not answer yet; /readyz will say so");
    }
    let describe = store.describe();
    let limits = config.vault_limits()?;
    let scrub_every = config.maintenance.scrub_interval()?;
    let max_doc = limits.max_document_bytes;
    let vault = Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        db_path: data_dir.join(datadir::DB_DIR),
        store,
        root: opened.root,
        limits,
    })
    .await
    .context(
        "cannot open the vault database (is another `coffre serve` using this data directory?)",
    )?;

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
            root_file: Arc::new(RootKeyFile {
                identity_in_data_dir: identity.as_ref() == Some(&data_dir.join(ROOT_IDENTITY_FILE)),
                dir: data_dir.clone(),
                protection,
            }),
            default_backup_recipient,
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
        public_url: config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}")),
        max_body_bytes: usize::try_from(max_doc + (1 << 20)).unwrap_or(usize::MAX),
        logins_per_minute: config.limits.logins_per_minute.unwrap_or(30),
        trusted_proxies: config.server.trusted_proxies.clone(),
    };
    let app = coffre_api::app(AppState::new(vault.clone(), api));
    tracing::info!(%bound, store = %describe, data_dir = %data_dir.display(), "coffre is serving");
    // A line for scripts and tests that asked for port 0.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "coffre listening on http://{bound}")?;
        out.flush()?;
    }
    // On SIGTERM or Ctrl-C: stop accepting, let requests in flight finish
    // for at most SHUTDOWN_GRACE, then stop regardless.
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown_signal().await;
            stopping.notify_one();
        }
    };
    let deadline = {
        let stopping = stopping.clone();
        async move {
            stopping.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    tokio::select! {
        res = server => {
            // Checkpoint even when the server stopped on an error.
            if let Err(e) = res {
                tracing::error!(error = %e, "the HTTP server stopped on an error");
                vault.checkpoint().await?;
                return Err(e.into());
            }
        }
        () = deadline => tracing::warn!(
            "requests still running {} s after the shutdown signal; stopping anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    tracing::info!("shutting down: signing a final journal checkpoint");
    vault.checkpoint().await?;
    let _ = std::fs::remove_file(&socket_path);
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
