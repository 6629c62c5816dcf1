//! `coffre serve`'s configuration file (TOML). Every option is documented in
//! `docs/CONFIGURATION.md` and `deploy/coffre.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub store: Store,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub maintenance: Maintenance,
    #[serde(default)]
    pub backup: Backup,
    #[serde(default)]
    pub web: Web,
}

/// The web pages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Web {
    /// Idle minutes before a session on a shared computer ends; default 5.
    pub shared_computer_idle_minutes: Option<u64>,
    /// Minutes a counter link ("Montrer au guichet") lives; default 15.
    pub counter_link_minutes: Option<u32>,
}

/// Backups `serve` takes by itself (the metadata holds every document key:
/// losing it loses every paper).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Hours between backups (0 turns them off); default 24.
    pub every_hours: Option<u64>,
    /// How many are kept (the oldest go); default 7.
    pub keep: Option<usize>,
    /// Where they go; default `<data_dir>-backups` beside the data directory.
    pub dir: Option<PathBuf>,
    /// age recipients they are encrypted to; default the root identity's.
    #[serde(default)]
    pub recipients: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// Hours between background scrubs (0 turns them off); default 24.
    pub scrub_interval_hours: Option<u64>,
}

impl Maintenance {
    pub fn scrub_interval(&self) -> anyhow::Result<Option<Duration>> {
        match self.scrub_interval_hours.unwrap_or(24) {
            0 => Ok(None),
            h if h <= 24 * 365 => Ok(Some(Duration::from_secs(h * 3600))),
            _ => anyhow::bail!("maintenance.scrub_interval_hours must be 0..=8760"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    /// Base URL of share links (what third parties open).
    pub public_url: Option<String>,
    /// The age identity file that opens the root key ring; default
    /// `<data_dir>/root-identity.txt` (created on first start).
    pub root_identity_file: Option<PathBuf>,
    /// Instead of an identity file: the name of an environment variable
    /// holding a passphrase that protects the root key ring (scrypt, work
    /// factor 2^18). Nothing that opens the ring then sits on any disk.
    pub root_passphrase_env: Option<String>,
    /// Instead: a file holding that passphrase (systemd's credentials
    /// directory, for instance), read once at start.
    pub root_passphrase_file: Option<PathBuf>,
    /// A configured deployment refuses to keep the root identity inside the
    /// data directory (a copy of the disk would hold the lock and its key)
    /// unless this says the risk is accepted.
    #[serde(default)]
    pub allow_root_identity_in_data_dir: bool,
    /// A file holding the bearer token `/metrics` asks for; without it,
    /// `/metrics` is not served (`coffre admin metrics` reads them).
    pub metrics_token_file: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (their own
    /// addresses, as Coffre sees them). Empty: the peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Store {
    /// Objects under `<data_dir>/objects` (the default).
    #[default]
    Filesystem,
    S3 {
        endpoint: Option<String>,
        region: String,
        bucket: String,
        #[serde(default = "yes")]
        path_style: bool,
        part_size_mib: Option<usize>,
    },
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_document_mib: Option<u64>,
    pub quota_mib: Option<u64>,
    pub session_idle_minutes: Option<u64>,
    pub lockout_after: Option<u32>,
    /// First lockout duration; doubles with each further failure.
    pub lockout_seconds: Option<u64>,
    pub logins_per_minute: Option<u32>,
    /// Authenticated requests per minute and per account.
    pub requests_per_minute_per_account: Option<u32>,
    /// Key derivations (argon2id, 19 MiB each) running at once; default
    /// the number of cores.
    pub key_derivations_at_once: Option<usize>,
    /// A connection sends its request headers within this, or is closed.
    pub header_timeout_seconds: Option<u64>,
    /// Connections open at once (more are closed at once).
    pub max_connections: Option<usize>,
}

impl Config {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("cannot read the configuration {}: {e}", path.display())
        })?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("configuration {}: {e}", path.display()))
    }

    /// The limits the file sets, each checked against its range (those it
    /// does not set keep the vault's defaults).
    pub fn checked_limits(&self) -> anyhow::Result<CheckedLimits> {
        let l = &self.limits;
        let mut out = CheckedLimits::default();
        if let Some(m) = l.max_document_mib {
            anyhow::ensure!(
                (1..=4096).contains(&m),
                "limits.max_document_mib must be 1..=4096"
            );
            out.max_document_bytes = Some(m << 20);
        }
        if let Some(q) = l.quota_mib {
            anyhow::ensure!(
                (1..=1 << 20).contains(&q),
                "limits.quota_mib must be 1..=1048576"
            );
            out.quota_bytes = Some(q << 20);
        }
        if let Some(m) = l.session_idle_minutes {
            anyhow::ensure!(
                (1..=24 * 60).contains(&m),
                "limits.session_idle_minutes must be 1..=1440"
            );
            out.session_idle = Some(Duration::from_secs(m * 60));
        }
        if let Some(s) = l.lockout_seconds {
            anyhow::ensure!(
                (1..=86_400).contains(&s),
                "limits.lockout_seconds must be 1..=86400"
            );
            out.lockout_base = Some(Duration::from_secs(s));
        }
        if let Some(n) = l.lockout_after {
            anyhow::ensure!((3..=20).contains(&n), "limits.lockout_after must be 3..=20");
            out.lockout_after = Some(n);
        }
        if let Some(n) = l.key_derivations_at_once {
            anyhow::ensure!(
                (1..=64).contains(&n),
                "limits.key_derivations_at_once must be 1..=64"
            );
            out.kdf_running = Some(n);
        }
        Ok(out)
    }
}

/// Limits set by the file, checked; `None` where the file says nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckedLimits {
    pub max_document_bytes: Option<u64>,
    pub quota_bytes: Option<u64>,
    pub session_idle: Option<Duration>,
    pub lockout_base: Option<Duration>,
    pub lockout_after: Option<u32>,
    pub kdf_running: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let c: Config =
            toml::from_str(include_str!("../../../deploy/coffre.example.toml")).unwrap();
        assert!(matches!(c.store, Store::S3 { .. }));
        let l = c.checked_limits().unwrap();
        assert_eq!(l.max_document_bytes, Some(100 << 20));
        assert_eq!(l.lockout_base, Some(Duration::from_secs(60)));
        assert_eq!(
            c.server.trusted_proxies,
            vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            c.maintenance.scrub_interval().unwrap(),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!((c.backup.every_hours, c.backup.keep), (Some(24), Some(7)));
        for r in &c.backup.recipients {
            assert!(r.parse::<coffre_crypto::Recipient>().is_ok(), "{r}");
        }
    }

    #[test]
    fn typos_and_out_of_range_values_are_refused() {
        assert!(toml::from_str::<Config>("[server]\nlisten_on = \"x\"\n").is_err());
        let c: Config = toml::from_str("[limits]\nquota_mib = 0\n").unwrap();
        assert!(c.checked_limits().is_err());
        let c: Config = toml::from_str("[maintenance]\nscrub_interval_hours = 0\n").unwrap();
        assert_eq!(c.maintenance.scrub_interval().unwrap(), None);
        let c: Config = toml::from_str("[maintenance]\nscrub_interval_hours = 99999\n").unwrap();
        assert!(c.maintenance.scrub_interval().is_err());
    }
}
