//! `coffre`: the server and the operator's command line.

mod admin;
mod audit;
mod backups;
mod config;
mod inspect;
mod maintenance;
mod serve;
mod settings;
mod target;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use coffre_api::admin::protocol::{
    CaseworkerListReply, Deactivated, MetricsReply, Request, SecondFactorCode, StatusReply,
    StructureCreated, StructureList,
};
use coffre_crypto::PrincipalId;

use crate::target::Target;

#[derive(Parser)]
#[command(
    name = "coffre",
    version,
    about = "Coffre: encrypted document vault",
    after_help = "Operator commands talk to the running server through the socket in its data \
directory (being able to open it is the credential). `audit verify` and `backup restore` work \
offline. Every operator command takes --json."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API and the operator's socket).
    ///
    /// With no options: data directory ./coffre-data (created with its root
    /// key ring on first start), objects on the local disk, listening on
    /// 127.0.0.1:8080, a backup a day kept seven days in ./coffre-data-backups.
    ///
    /// Example: coffre serve --data-dir /var/lib/coffre --listen 127.0.0.1:8080
    Serve {
        /// TOML configuration (see docs/CONFIGURATION.md).
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// A demonstration on a throwaway data directory (deleted at exit):
        /// a structure, a caseworker and two people with a few papers;
        /// prints the logins; every page says "DÉMONSTRATION".
        #[arg(long, conflicts_with_all = ["config", "data_dir"])]
        demo: bool,
    },
    /// Structures and server status.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The audit journal for auditors: export, and offline verification.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Read every stored object and check it against what was recorded at
    /// upload (size, ciphertext SHA-256, header); report missing, corrupt and
    /// orphan objects. Exits 1 if any object is corrupt or missing.
    ///
    /// Example: coffre scrub --data-dir /var/lib/coffre
    Scrub {
        #[command(flatten)]
        target: Target,
    },
    /// Remove objects no document points at (left by a crash or a failed
    /// delete) and interrupted uploads. Lists them only, unless --apply.
    ///
    /// Uploads in progress are never touched; interrupted uploads are
    /// removed only once older than 2 hours, whatever --older-than says.
    ///
    /// Example: coffre gc --older-than 7d --apply
    Gc {
        /// Only objects older than this (e.g. 24h, 7d).
        #[arg(long, default_value = "24h")]
        older_than: String,
        /// Delete them (without it: a dry run).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Root key ring.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Metadata backups (encrypted with age).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Stored objects (ciphertext files).
    #[command(subcommand)]
    Object(ObjectCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Structures (CCAS, associations).
    #[command(subcommand)]
    Structure(StructureCommand),
    /// Caseworkers: list a structure's, deactivate one who left.
    #[command(subcommand)]
    Caseworker(CaseworkerCommand),
    /// The server's metrics (Prometheus text), as `/metrics` serves them
    /// to its token.
    ///
    /// Example: coffre admin metrics --data-dir /var/lib/coffre
    Metrics {
        #[command(flatten)]
        target: Target,
    },
    /// Version, store, counts, journal head and key, root key version, last scrub.
    ///
    /// Example: coffre admin status --data-dir ./coffre-data
    Status {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum CaseworkerCommand {
    /// A structure's caseworkers: id, login, role, active or not.
    ///
    /// Example: coffre admin caseworker list --structure 0b5e…
    List {
        #[arg(long)]
        structure: PrincipalId,
        #[command(flatten)]
        target: Target,
    },
    /// Deactivate a caseworker at once: their sessions end, they can no
    /// longer log in, and their structure's key is replaced when one of its
    /// members next logs in (so what they held opens nothing wrapped after).
    ///
    /// Example: coffre admin caseworker deactivate 7c1d…
    Deactivate {
        caseworker: PrincipalId,
        #[command(flatten)]
        target: Target,
    },
    /// Give a caseworker a one-time code (3 days) to set their second
    /// factor up again, when no admin of their structure can: hand it over
    /// in person. Their sessions end; their next login, with the password
    /// and this code, sets up a new factor on the desk's pages.
    ///
    /// Example: coffre admin caseworker second-factor-code 7c1d…
    SecondFactorCode {
        caseworker: PrincipalId,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum StructureCommand {
    /// Create a structure and its first admin; prints the admin's one-time
    /// enrollment code (give it to them; it is shown once).
    ///
    /// Example: coffre admin structure create --name "CCAS de Lyon" --admin-login admin.lyon
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_login: String,
        #[command(flatten)]
        target: Target,
    },
    /// List the structures.
    ///
    /// Example: coffre admin structure list --json
    List {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Write journal entries, the checkpoints that sign them and the
    /// verification key to an age-encrypted file for an auditor
    /// (docs/AUDIT.md). The reference `age` tool decrypts it.
    ///
    /// Example: coffre audit export --recipient age1… --out audit-2026-11.age --since 2026-11-01 --until 2026-11-30
    Export {
        /// The auditor's age public key (repeatable).
        #[arg(long = "recipient", required = true)]
        recipients: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        /// From this date or time (UTC), e.g. 2026-11-01 or 2026-11-01T08:00:00Z.
        #[arg(long)]
        since: Option<String>,
        /// Up to this date or time (UTC), widened to the next signed checkpoint.
        #[arg(long)]
        until: Option<String>,
        /// Only this vault's entries in full (the others as digests).
        #[arg(long)]
        beneficiary: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Check an export offline: the hash chain and every checkpoint
    /// signature. Exits 0 with a summary when intact, 1 naming the first bad
    /// entry when anything was altered, removed, reordered or inserted.
    ///
    /// Example: coffre audit verify --identity auditor-key.txt --key <KEY> --from 1 --head <HASH> audit-2026-11.age
    Verify {
        /// The export (age-encrypted, or already decrypted).
        file: PathBuf,
        /// The auditor's age identity file (for an encrypted export).
        #[arg(long)]
        identity: Option<PathBuf>,
        /// The journal's verifying key, as the operator published it.
        #[arg(long)]
        key: Option<String>,
        /// The hash of the export's last entry, as the operator gave it
        /// (proves nothing is missing at the end); or ENTRY:HASH, a journal
        /// head published earlier that the export must agree with. Repeatable.
        #[arg(long = "head")]
        heads: Vec<String>,
        /// The first entry, as the operator gave it (proves nothing is
        /// missing at the start).
        #[arg(long)]
        from: Option<u64>,
        /// The person a one-person export is for (without it, only a full
        /// export is accepted).
        #[arg(long)]
        beneficiary: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a root key version, re-seal every outer seal and server secret
    /// under it, then retire the old versions. Safe to interrupt and run again.
    ///
    /// Example: coffre keys rotate-root --data-dir /var/lib/coffre
    RotateRoot {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// A consistent snapshot of the metadata and the root key file, taken
    /// without stopping the server, encrypted with age (by default to the
    /// root identity's recipient).
    ///
    /// Example: coffre backup create --out /srv/backups/coffre-2026-11-30.age
    Create {
        #[arg(long)]
        out: PathBuf,
        /// Encrypt to these age recipients instead (repeatable).
        #[arg(long = "recipient")]
        recipients: Vec<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Restore a backup into an empty data directory (no server running on
    /// it), then start `serve` against the same object store.
    ///
    /// Example: coffre backup restore coffre-2026-11-30.age --data-dir /var/lib/coffre-new --identity root-identity.txt
    Restore {
        file: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
        /// The age identity the backup was encrypted to.
        #[arg(long)]
        identity: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ObjectCommand {
    /// Print the clear header of a stored object: format, document id and
    /// version, plaintext size. Reads no key and decrypts nothing.
    ///
    /// Example: coffre object inspect ./coffre-data/objects/doc/ab/ab12…ef-v1
    Inspect {
        /// The object file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn print(
    value: &impl serde::Serialize,
    json: bool,
    human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(value)?)?;
    } else {
        human(&mut out)?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            if e.downcast_ref::<serve::DatabaseUnreadable>().is_some() {
                std::process::ExitCode::from(serve::EXIT_DATABASE_UNREADABLE)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            listen,
            demo,
        } => {
            // Before anything is read or created.
            serve::private_umask();
            let demo_dir = if demo { Some(serve::demo_dir()?) } else { None };
            let settings = settings::Settings::resolve(settings::ServeArgs {
                config,
                data_dir: demo_dir.clone().or(data_dir),
                listen,
            })?;
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                // Colours only for a person reading a terminal, not in files.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let served = rt.block_on(serve::run(settings, demo));
            if let Some(dir) = demo_dir {
                // Throwaway: the demonstration leaves nothing behind.
                let _ = std::fs::remove_dir_all(&dir);
                let _ = std::fs::remove_dir_all(dir.with_file_name(format!(
                    "{}-backups",
                    dir.file_name().unwrap_or_default().to_string_lossy()
                )));
            }
            served
        }
        Command::Admin(AdminCommand::Caseworker(CaseworkerCommand::List { structure, target })) => {
            let a: CaseworkerListReply =
                admin::request(&target.data_dir()?, &Request::CaseworkerList { structure })?;
            print(&a, target.json, |o| {
                for c in &a.caseworkers {
                    writeln!(
                        o,
                        "{}  {}  {}{}",
                        c.caseworker_id,
                        c.login,
                        if c.admin { "admin" } else { "member" },
                        if c.active { "" } else { "  (deactivated)" }
                    )?;
                }
                Ok(())
            })
        }
        Command::Admin(AdminCommand::Caseworker(CaseworkerCommand::SecondFactorCode {
            caseworker,
            target,
        })) => {
            let a: SecondFactorCode = admin::request(
                &target.data_dir()?,
                &Request::CaseworkerSecondFactorCode { caseworker },
            )?;
            print(&a, target.json, |o| {
                writeln!(
                    o,
                    "set-up code for caseworker {}: {}",
                    a.caseworker_id, a.code
                )?;
                writeln!(
                    o,
                    "hand it over in person; it works once, for 3 days, at /pro after a login with the password"
                )?;
                Ok(())
            })
        }
        Command::Admin(AdminCommand::Caseworker(CaseworkerCommand::Deactivate {
            caseworker,
            target,
        })) => {
            let a: Deactivated = admin::request(
                &target.data_dir()?,
                &Request::CaseworkerDeactivate { caseworker },
            )?;
            print(&a, target.json, |o| {
                writeln!(
                    o,
                    "caseworker {} deactivated: their sessions ended",
                    a.caseworker_id
                )?;
                if a.rotation_due {
                    writeln!(
                        o,
                        "their structure's key is replaced when one of its members next logs in"
                    )?;
                }
                Ok(())
            })
        }
        Command::Admin(AdminCommand::Metrics { target }) => {
            let a: MetricsReply = admin::request(&target.data_dir()?, &Request::Metrics)?;
            print(&a, target.json, |o| write!(o, "{}", a.text))
        }
        Command::Admin(AdminCommand::Structure(StructureCommand::Create {
            name,
            admin_login,
            target,
        })) => {
            let a: StructureCreated = admin::request(
                &target.data_dir()?,
                &Request::StructureCreate { name, admin_login },
            )?;
            print(&a, target.json, |o| {
                writeln!(o, "structure created: {}", a.structure_id)?;
                writeln!(
                    o,
                    "admin enrollment code (shown once): {}",
                    a.enrollment_code
                )
            })
        }
        Command::Admin(AdminCommand::Structure(StructureCommand::List { target })) => {
            let a: StructureList = admin::request(&target.data_dir()?, &Request::StructureList)?;
            print(&a, target.json, |o| {
                for s in &a.structures {
                    writeln!(
                        o,
                        "{}  {}  (key {}{})",
                        s.structure_id,
                        s.name,
                        s.key_version,
                        if s.rotation_due {
                            ", replaced at the next member's login"
                        } else {
                            ""
                        }
                    )?;
                }
                Ok(())
            })
        }
        Command::Admin(AdminCommand::Status { target }) => {
            let a: StatusReply = admin::request(&target.data_dir()?, &Request::Status)?;
            print(&a, target.json, |o| {
                let s = &a.status;
                writeln!(o, "coffre {}", a.version)?;
                writeln!(o, "store:            {}", a.store)?;
                writeln!(
                    o,
                    "structures {}, caseworkers {}, beneficiaries {}, documents {}",
                    s.structures, s.caseworkers, s.beneficiaries, s.documents
                )?;
                writeln!(o, "root key version: {}", s.root_key_version)?;
                match &s.journal_head_hash {
                    Some(h) => {
                        writeln!(o, "journal head:     entry {} hash {h}", s.journal_head_seq)?
                    }
                    None => writeln!(o, "journal head:     empty journal")?,
                }
                match s.last_checkpoint_seq {
                    Some(seq) => writeln!(o, "last checkpoint:  entry {seq}")?,
                    None => writeln!(o, "last checkpoint:  none yet")?,
                }
                writeln!(o, "journal verifying key: {}", s.audit_verifying_key)?;
                match &s.last_scrub {
                    Some(sc) => writeln!(
                        o,
                        "last scrub:       {} checked, {} missing, {} corrupt, {} orphans",
                        sc.checked, sc.missing, sc.corrupt, sc.orphans
                    ),
                    None => writeln!(o, "last scrub:       none since the server started"),
                }
            })
        }
        Command::Audit(AuditCommand::Export {
            recipients,
            out,
            since,
            until,
            beneficiary,
            target,
        }) => audit::export(audit::ExportArgs {
            data_dir: target.data_dir()?,
            recipients,
            out,
            since,
            until,
            beneficiary,
            json: target.json,
        }),
        Command::Audit(AuditCommand::Verify {
            file,
            identity,
            key,
            heads,
            from,
            beneficiary,
            json,
        }) => audit::verify(audit::VerifyArgs {
            file,
            identity,
            key,
            heads,
            from,
            beneficiary,
            json,
        }),
        Command::Scrub { target } => maintenance::scrub(&target.data_dir()?, target.json),
        Command::Gc {
            older_than,
            apply,
            target,
        } => maintenance::gc(&target.data_dir()?, &older_than, apply, target.json),
        Command::Keys(KeysCommand::RotateRoot { target }) => {
            maintenance::rotate_root(&target.data_dir()?, target.json)
        }
        Command::Backup(BackupCommand::Create {
            out,
            recipients,
            target,
        }) => maintenance::backup_create(&target.data_dir()?, &out, &recipients, target.json),
        Command::Backup(BackupCommand::Restore {
            file,
            data_dir,
            identity,
            json,
        }) => maintenance::backup_restore(&file, &data_dir, &identity, json),
        Command::Object(ObjectCommand::Inspect { file, json }) => inspect::inspect(&file, json),
    }
}
