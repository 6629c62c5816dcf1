//! `--data-dir` / `--config`, resolved the way `serve` does.

use std::path::PathBuf;

use clap::Args;

use crate::config::Config;

#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The server's data directory (default: the config's, else ./coffre-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The server's TOML configuration (to find its data directory).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl Target {
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        let config = Config::load(self.config.as_deref())?;
        Ok(config
            .server
            .data_dir
            .unwrap_or_else(|| PathBuf::from("coffre-data")))
    }
}
