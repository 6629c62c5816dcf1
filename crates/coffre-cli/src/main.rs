//! `coffre`: the server and the operator's command line.

mod admin;
mod config;
mod inspect;
mod serve;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(name = "coffre", version, about = "Coffre: encrypted document vault")]
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
    /// 127.0.0.1:8080.
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
    },
    /// Operator commands, sent to the running server.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Stored objects (ciphertext files).
    #[command(subcommand)]
    Object(ObjectCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Structures (CCAS, associations).
    #[command(subcommand)]
    Structure(StructureCommand),
    /// Version, store and journal key of the running server.
    ///
    /// Example: coffre admin status --data-dir ./coffre-data
    Status {
        #[arg(long, default_value = "coffre-data")]
        data_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum StructureCommand {
    /// Create a structure and its first admin; prints the admin's one-time
    /// enrolment code (give it to them; it is shown once).
    ///
    /// Example: coffre admin structure create --name "CCAS de Lyon" --admin-login admin.lyon
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_login: String,
        #[arg(long, default_value = "coffre-data")]
        data_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the structures.
    ///
    /// Example: coffre admin structure list --json
    List {
        #[arg(long, default_value = "coffre-data")]
        data_dir: PathBuf,
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
    value: &serde_json::Value,
    json: bool,
    human: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{value}")?;
    } else {
        human(&mut out)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            listen,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(serve::run(serve::ServeArgs {
                config,
                data_dir,
                listen,
            }))
        }
        Command::Admin(AdminCommand::Structure(StructureCommand::Create {
            name,
            admin_login,
            data_dir,
            json,
        })) => {
            let a = admin::request(
                &data_dir,
                json!({ "command": "structure_create", "name": name, "admin_login": admin_login }),
            )?;
            print(&a, json, |o| {
                writeln!(
                    o,
                    "structure created: {}",
                    a["structure_id"].as_str().unwrap_or("")
                )?;
                writeln!(
                    o,
                    "admin enrolment code (shown once): {}",
                    a["enrollment_code"].as_str().unwrap_or("")
                )
            })
        }
        Command::Admin(AdminCommand::Structure(StructureCommand::List { data_dir, json })) => {
            let a = admin::request(&data_dir, json!({ "command": "structure_list" }))?;
            print(&a, json, |o| {
                for s in a["structures"].as_array().into_iter().flatten() {
                    writeln!(
                        o,
                        "{}  {}",
                        s["structure_id"].as_str().unwrap_or(""),
                        s["name"].as_str().unwrap_or("")
                    )?;
                }
                Ok(())
            })
        }
        Command::Admin(AdminCommand::Status { data_dir, json }) => {
            let a = admin::request(&data_dir, json!({ "command": "status" }))?;
            print(&a, json, |o| {
                writeln!(o, "coffre {}", a["version"].as_str().unwrap_or(""))?;
                writeln!(o, "store: {}", a["store"].as_str().unwrap_or(""))?;
                writeln!(
                    o,
                    "journal verifying key: {}",
                    a["audit_verifying_key"].as_str().unwrap_or("")
                )
            })
        }
        Command::Object(ObjectCommand::Inspect { file, json }) => inspect::inspect(&file, json),
    }
}
