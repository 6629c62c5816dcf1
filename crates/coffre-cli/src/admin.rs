//! Talking to the running server over its Unix socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::Context;
use coffre_api::admin::protocol::{Request, ServerLine, parse_line};
use serde::de::DeserializeOwned;

use crate::serve::ADMIN_SOCKET;

/// Longest answer line read (an audit page is well below).
const MAX_ANSWER: u64 = 256 << 20;

/// One connection; several requests may go over it in turn.
pub struct Admin {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Admin {
    pub fn connect(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(ADMIN_SOCKET);
        let stream = UnixStream::connect(&path).with_context(|| {
            format!(
                "no running server answers on {}: start `coffre serve --data-dir {}` first (or check --data-dir)",
                path.display(),
                data_dir.display()
            )
        })?;
        Ok(Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// Sends a request; `progress(done, total)` sees the progress lines
    /// that precede the answer, typed as the request's reply `R`.
    pub fn call<R: DeserializeOwned>(
        &mut self,
        request: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> anyhow::Result<R> {
        let line = serde_json::to_string(request)?;
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .context("the server closed the connection")?;
        loop {
            let mut line = String::new();
            let n = (&mut self.reader)
                .take(MAX_ANSWER)
                .read_line(&mut line)
                .context("reading the server's answer")?;
            if n == 0 {
                anyhow::bail!("the server closed the connection before answering (see its log)");
            }
            match parse_line::<R>(&line).map_err(anyhow::Error::msg)? {
                ServerLine::Progress(p) => progress(p.done, p.total),
                ServerLine::Refused(e) => anyhow::bail!("the server refused: {e}"),
                ServerLine::Done(r) => return Ok(r),
            }
        }
    }
}

/// One request on a fresh connection, no progress.
pub fn request<R: DeserializeOwned>(data_dir: &Path, request: &Request) -> anyhow::Result<R> {
    Admin::connect(data_dir)?.call(request, &mut |_, _| {})
}

/// A progress bar on stderr; drawn only when stderr is a terminal.
pub fn progress_bar(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// A spinner on stderr for work whose length is unknown (drawn only on a
/// terminal); clear it with `finish_and_clear`.
pub fn spinner(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
