//! `coffre admin …`: talks to the running server over its Unix socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::serve::ADMIN_SOCKET;

pub fn request(data_dir: &Path, request: Value) -> anyhow::Result<Value> {
    let path = data_dir.join(ADMIN_SOCKET);
    let mut stream = UnixStream::connect(&path).with_context(|| {
        format!(
            "no running server answers on {}: start `coffre serve --data-dir {}` first (or check --data-dir)",
            path.display(),
            data_dir.display()
        )
    })?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let answer: Value = serde_json::from_str(&line).context("the server's answer is not JSON")?;
    if answer["ok"] != Value::Bool(true) {
        anyhow::bail!(
            "the server refused: {}",
            answer["error"].as_str().unwrap_or("unknown error")
        );
    }
    Ok(answer)
}
