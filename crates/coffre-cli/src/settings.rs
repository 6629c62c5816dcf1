//! `serve`'s settings, resolved once from the flags, the configuration file
//! and the files it names, before anything starts: every later step reads
//! this and never the raw configuration, so a mistake is reported at once
//! and in one place.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use coffre_crypto::{Recipient, UserSecret};
use coffre_store::{S3Config, StoreConfig};
use coffre_vault::datadir::{ROOT_IDENTITY_FILE, RootProtection};

use crate::config::{Config, Store};

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_DATA_DIR: &str = "coffre-data";
/// Shortest root passphrase accepted.
const MIN_ROOT_PASSPHRASE: usize = 12;
/// Shortest metrics token accepted (characters).
const MIN_METRICS_TOKEN: usize = 24;
/// Largest secret file read (a passphrase or a token, not a document).
const MAX_SECRET_FILE: u64 = 4096;

/// What `coffre serve` was asked on its command line.
#[derive(Debug)]
pub struct ServeArgs {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

/// Everything `serve` needs, checked.
#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub protection: RootProtection,
    /// The root identity file, when that is what protects the ring.
    pub identity: Option<PathBuf>,
    /// The identity file sits inside the data directory.
    pub identity_in_data_dir: bool,
    pub store: StoreConfig,
    pub limits: coffre_vault::Limits,
    pub scrub_every: Option<Duration>,
    pub backups: Option<BackupSchedule>,
    pub public_url: Option<String>,
    pub logins_per_minute: u32,
    pub requests_per_minute_per_account: u32,
    pub trusted_proxies: Vec<IpAddr>,
    pub metrics_token: Option<String>,
    pub server_limits: coffre_api::server::ServerLimits,
    pub web: coffre_web::WebConfig,
}

/// Scheduled backups.
#[derive(Debug, Clone)]
pub struct BackupSchedule {
    pub every: Duration,
    pub keep: usize,
    pub dir: PathBuf,
    pub to: BackupRecipients,
}

/// Whom scheduled backups are encrypted to.
#[derive(Debug, Clone)]
pub enum BackupRecipients {
    Configured(Vec<Recipient>),
    /// The root identity's recipient (read once the data directory is open:
    /// the first start creates the identity).
    RootIdentity(PathBuf),
}

impl Settings {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let configured = args.config.is_some();
        let config = Config::load(args.config.as_deref())?;
        let data_dir = args
            .data_dir
            .or(config.server.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen = match args.listen.or(config.server.listen) {
            Some(a) => a,
            None => DEFAULT_LISTEN.parse()?,
        };
        let protection = root_protection(&config, &data_dir)?;
        let identity = match &protection {
            RootProtection::IdentityFile(p) => Some(p.clone()),
            RootProtection::Passphrase(_) => None,
        };
        let identity_in_data_dir = identity.as_deref().is_some_and(|p| is_inside(p, &data_dir));
        if identity_in_data_dir && configured && !config.server.allow_root_identity_in_data_dir {
            anyhow::bail!(
                "the root identity {} is inside the data directory: whoever copies that directory \
                 (a backup of the disk, a stolen server) gets the database and the key that opens it. \
                 Keep it elsewhere (server.root_identity_file = \"/etc/coffre/root-identity.txt\", \
                 mode 0600), or protect the ring with a passphrase (server.root_passphrase_file). \
                 To keep it there anyway, set server.allow_root_identity_in_data_dir = true.",
                identity.as_deref().unwrap_or(Path::new("")).display()
            );
        }
        let backups = backup_schedule(&config, &data_dir, identity.as_deref())?;
        Ok(Self {
            listen,
            identity,
            identity_in_data_dir,
            store: store_config(&config, &data_dir),
            limits: vault_limits(config.checked_limits()?),
            scrub_every: config.maintenance.scrub_interval()?,
            backups,
            public_url: config.server.public_url.clone(),
            logins_per_minute: match config.limits.logins_per_minute {
                None => 30,
                Some(n @ 1..=100_000) => n,
                Some(_) => anyhow::bail!("limits.logins_per_minute must be 1..=100000"),
            },
            requests_per_minute_per_account: match config.limits.requests_per_minute_per_account {
                None => 600,
                Some(n @ 10..=100_000) => n,
                Some(_) => {
                    anyhow::bail!("limits.requests_per_minute_per_account must be 10..=100000")
                }
            },
            trusted_proxies: config.server.trusted_proxies.clone(),
            metrics_token: match &config.server.metrics_token_file {
                Some(p) => Some(metrics_token(p)?),
                None => None,
            },
            server_limits: server_limits(&config)?,
            web: web_config(&config.web)?,
            protection,
            data_dir,
        })
    }
}

/// The pages' settings, checked. (Here, not in `config.rs`: that file is
/// also compiled by the config fuzz target, which links no workspace crate.)
fn web_config(web: &crate::config::Web) -> anyhow::Result<coffre_web::WebConfig> {
    let mut out = coffre_web::WebConfig::default();
    if let Some(m) = web.shared_computer_idle_minutes {
        anyhow::ensure!(
            (1..=60).contains(&m),
            "web.shared_computer_idle_minutes must be 1..=60"
        );
        out.shared_idle = Duration::from_secs(m * 60);
    }
    if let Some(m) = web.counter_link_minutes {
        anyhow::ensure!(
            (1..=coffre_vault::MAX_MINUTES).contains(&m),
            "web.counter_link_minutes must be 1..={}",
            coffre_vault::MAX_MINUTES
        );
        out.counter_minutes = m;
    }
    Ok(out)
}

/// Whether `path` lies under `dir` (compared as written and, where both
/// exist, as resolved by the file system).
fn is_inside(path: &Path, dir: &Path) -> bool {
    let absolute = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .map(|a| a.components().collect::<PathBuf>())
    };
    let parent_resolved = |p: &Path| {
        p.parent()
            .and_then(|d| d.canonicalize().ok())
            .map(|d| d.join(p.file_name().unwrap_or_default()))
    };
    let written =
        matches!((absolute(path), absolute(dir)), (Some(p), Some(d)) if p.starts_with(&d));
    let resolved = matches!(
        (parent_resolved(path), dir.canonicalize().ok()),
        (Some(p), Some(d)) if p.starts_with(&d)
    );
    written || resolved
}

/// The vault's limits: its defaults, with what the file set.
fn vault_limits(set: crate::config::CheckedLimits) -> coffre_vault::Limits {
    let mut l = coffre_vault::Limits::default();
    if let Some(v) = set.max_document_bytes {
        l.max_document_bytes = v;
    }
    if let Some(v) = set.quota_bytes {
        l.quota_bytes = v;
    }
    if let Some(v) = set.session_idle {
        l.session_idle = v;
    }
    if let Some(v) = set.lockout_base {
        l.lockout_base = v;
    }
    if let Some(v) = set.lockout_after {
        l.lockout_after = v;
    }
    if let Some(v) = set.kdf_running {
        l.kdf_running = v;
    }
    l
}

fn server_limits(config: &Config) -> anyhow::Result<coffre_api::server::ServerLimits> {
    let mut l = coffre_api::server::ServerLimits::default();
    if let Some(s) = config.limits.header_timeout_seconds {
        anyhow::ensure!(
            (1..=120).contains(&s),
            "limits.header_timeout_seconds must be 1..=120"
        );
        l.header_timeout = Duration::from_secs(s);
    }
    if let Some(n) = config.limits.max_connections {
        anyhow::ensure!(
            (16..=1_000_000).contains(&n),
            "limits.max_connections must be 16..=1000000"
        );
        l.max_connections = n;
    }
    Ok(l)
}

fn store_config(config: &Config, data_dir: &Path) -> StoreConfig {
    match &config.store {
        Store::Filesystem => StoreConfig::Filesystem {
            root: data_dir.to_path_buf(),
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
    }
}

/// Reads a small secret file, refusing one others may read.
fn read_secret_file(path: &Path, what: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open {what} file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "{what} file {} can be read by other users (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        );
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    file.take(MAX_SECRET_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {what} file {} (text expected)", path.display()))?;
    anyhow::ensure!(
        text.len() as u64 <= MAX_SECRET_FILE,
        "{what} file {} is longer than {MAX_SECRET_FILE} bytes",
        path.display()
    );
    // One trailing line end, as editors and `echo` write it, is not part of it.
    let trimmed = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(trimmed);
    Ok(text)
}

fn root_protection(config: &Config, data_dir: &Path) -> anyhow::Result<RootProtection> {
    let s = &config.server;
    let chosen = [
        s.root_passphrase_env.is_some(),
        s.root_passphrase_file.is_some(),
        s.root_identity_file.is_some(),
    ];
    anyhow::ensure!(
        chosen.iter().filter(|c| **c).count() <= 1,
        "server.root_passphrase_env, server.root_passphrase_file and server.root_identity_file \
         exclude each other: keep one"
    );
    let passphrase = |pass: &str, origin: &dyn std::fmt::Display| {
        anyhow::ensure!(
            pass.chars().count() >= MIN_ROOT_PASSPHRASE,
            "the root passphrase in {origin} is shorter than {MIN_ROOT_PASSPHRASE} characters"
        );
        Ok(RootProtection::Passphrase(UserSecret::new(pass.to_owned())))
    };
    if let Some(var) = &s.root_passphrase_env {
        // The value stays readable in /proc/<pid>/environ by this user and
        // root as long as the process lives, whatever is done here:
        // docs/OPERATIONS.md recommends the file instead.
        let pass = zeroize::Zeroizing::new(std::env::var(var).map_err(|_| {
            anyhow::anyhow!(
                "server.root_passphrase_env names {var}, but that environment variable is not set"
            )
        })?);
        return passphrase(&pass, &var);
    }
    if let Some(file) = &s.root_passphrase_file {
        let pass = read_secret_file(file, "the root passphrase")?;
        return passphrase(&pass, &file.display());
    }
    Ok(RootProtection::IdentityFile(
        s.root_identity_file
            .clone()
            .unwrap_or_else(|| data_dir.join(ROOT_IDENTITY_FILE)),
    ))
}

fn metrics_token(path: &Path) -> anyhow::Result<String> {
    let token = read_secret_file(path, "the metrics token")?;
    anyhow::ensure!(
        token.chars().count() >= MIN_METRICS_TOKEN && token.chars().all(|c| c.is_ascii_graphic()),
        "the metrics token in {} must be at least {MIN_METRICS_TOKEN} printable characters without spaces \
         (e.g. `openssl rand -hex 32`)",
        path.display()
    );
    Ok(token.to_string())
}

/// The default destination: beside the data directory, not in it (a
/// damaged or wiped data directory must not take its backups along).
fn default_backup_dir(data_dir: &Path) -> PathBuf {
    let absolute = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent.join(format!("{}-backups", name.to_string_lossy())),
        _ => absolute.join("scheduled-backups"),
    }
}

fn backup_schedule(
    config: &Config,
    data_dir: &Path,
    identity: Option<&Path>,
) -> anyhow::Result<Option<BackupSchedule>> {
    let b = &config.backup;
    let hours = b.every_hours.unwrap_or(24);
    if hours == 0 {
        return Ok(None);
    }
    anyhow::ensure!(
        hours <= 24 * 31,
        "backup.every_hours must be 0..=744 (0 turns scheduled backups off)"
    );
    let keep = b.keep.unwrap_or(7);
    anyhow::ensure!((1..=1000).contains(&keep), "backup.keep must be 1..=1000");
    anyhow::ensure!(
        b.recipients.len() <= 16,
        "backup.recipients: at most 16 recipients"
    );
    let to = if b.recipients.is_empty() {
        match identity {
            Some(p) => BackupRecipients::RootIdentity(p.to_path_buf()),
            None => anyhow::bail!(
                "scheduled backups need a recipient: the root key ring is protected by a passphrase, \
                 so name the age recipients backups are encrypted to (backup.recipients = [\"age1…\"]), \
                 or turn them off (backup.every_hours = 0)"
            ),
        }
    } else {
        let mut to = Vec::new();
        for r in &b.recipients {
            to.push(r.parse::<Recipient>().map_err(|_| {
                anyhow::anyhow!("backup.recipients: not an age recipient (age1…): {r}")
            })?);
        }
        BackupRecipients::Configured(to)
    };
    let dir = b
        .dir
        .clone()
        .unwrap_or_else(|| default_backup_dir(data_dir));
    anyhow::ensure!(
        !is_inside(&dir, data_dir) || b.dir.is_some(),
        "backup.dir must be set when the data directory has no parent"
    );
    Ok(Some(BackupSchedule {
        every: Duration::from_secs(hours * 3600),
        keep,
        dir,
        to,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml: &str, data_dir: &Path) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("coffre.toml");
        std::fs::write(&path, toml)?;
        Settings::resolve(ServeArgs {
            config: Some(path),
            data_dir: Some(data_dir.to_path_buf()),
            listen: None,
        })
    }

    #[test]
    fn a_configured_deployment_refuses_the_root_identity_in_its_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let e = resolve("", &data).unwrap_err().to_string();
        assert!(e.contains("inside the data directory"), "{e}");
        // Written another way, still inside.
        let e = resolve(
            &format!(
                "[server]\nroot_identity_file = \"{}/./data/keys/../id.txt\"\n",
                dir.path().display()
            ),
            &data,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("inside the data directory"), "{e}");
        let s = resolve("[server]\nallow_root_identity_in_data_dir = true\n", &data).unwrap();
        assert!(s.identity_in_data_dir);
        let s = resolve(
            &format!(
                "[server]\nroot_identity_file = \"{}/id.txt\"\n",
                dir.path().display()
            ),
            &data,
        )
        .unwrap();
        assert!(!s.identity_in_data_dir);
        // The quick start (no configuration file) keeps it, with a warning.
        let s = Settings::resolve(ServeArgs {
            config: None,
            data_dir: Some(data.clone()),
            listen: None,
        })
        .unwrap();
        assert!(s.identity_in_data_dir);
        // Its backups go beside the data directory, daily, seven kept.
        let b = s.backups.unwrap();
        assert_eq!(b.dir, dir.path().join("data-backups"));
        assert_eq!((b.every, b.keep), (Duration::from_secs(86_400), 7));
    }

    #[test]
    fn web_settings_out_of_range_are_refused() {
        let web = |t: &str| {
            let c: Config = toml::from_str(t).unwrap();
            web_config(&c.web)
        };
        assert!(web("[web]\ncounter_link_minutes = 0\n").is_err());
        assert!(web("[web]\ncounter_link_minutes = 61\n").is_err());
        assert!(web("[web]\nshared_computer_idle_minutes = 61\n").is_err());
        assert_eq!(
            web("[web]\nshared_computer_idle_minutes = 3\n")
                .unwrap()
                .shared_idle,
            Duration::from_secs(180)
        );
        assert_eq!(
            web("[web]\ncounter_link_minutes = 7\n")
                .unwrap()
                .counter_minutes,
            7
        );
    }

    #[test]
    fn secret_files_must_be_private_and_sound() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "une phrase de passe longue\n").unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = format!(
            "[server]\nroot_passphrase_file = \"{}\"\n[backup]\nevery_hours = 0\n",
            pass.display()
        );
        let e = resolve(&config, &data).unwrap_err().to_string();
        assert!(e.contains("other users"), "{e}");
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = resolve(&config, &data).unwrap();
        match s.protection {
            RootProtection::Passphrase(p) => {
                assert_eq!(p.expose(), "une phrase de passe longue")
            }
            RootProtection::IdentityFile(_) => panic!("a passphrase was configured"),
        }
        // A passphrase and no backup recipient: scheduled backups cannot be
        // encrypted to anyone.
        let e = resolve(
            &format!("[server]\nroot_passphrase_file = \"{}\"\n", pass.display()),
            &data,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("backup.recipients"), "{e}");
        // A metrics token too short.
        let token = dir.path().join("token");
        std::fs::write(&token, "court").unwrap();
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = resolve(
            &format!(
                "[server]\nallow_root_identity_in_data_dir = true\nmetrics_token_file = \"{}\"\n",
                token.display()
            ),
            &data,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("at least 24"), "{e}");
        // Two protections at once.
        let e = resolve(
            &format!(
                "[server]\nroot_passphrase_file = \"{}\"\nroot_identity_file = \"/x\"\n",
                pass.display()
            ),
            &data,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("exclude each other"), "{e}");
    }
}
