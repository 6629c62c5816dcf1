//! `coffre object inspect`.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use coffre_crypto::object::{self, ObjectHeader};

pub fn inspect(path: &Path, json: bool) -> anyhow::Result<()> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    let mut head = [0u8; object::HEADER_LEN];
    f.read_exact(&mut head)
        .with_context(|| format!("{} is shorter than an object header", path.display()))?;
    let header = ObjectHeader::parse(&head)
        .with_context(|| format!("{} is not a Coffre object", path.display()))?;
    let plaintext = object::plaintext_len(len).ok();
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "format_version": object::FORMAT_VERSION,
            "suite": "cobblestone-256",
            "document_id": header.document.to_string(),
            "document_version": header.version,
            "stored_bytes": len,
            "plaintext_bytes": plaintext,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "format:      Coffre object v{} (Cobblestone-256)",
            object::FORMAT_VERSION
        )?;
        writeln!(
            out,
            "document:    {} version {}",
            header.document, header.version
        )?;
        match plaintext {
            Some(p) => writeln!(
                out,
                "size:        {len} bytes stored, {p} bytes of plaintext"
            )?,
            None => writeln!(
                out,
                "size:        {len} bytes stored: NOT a valid object length (truncated or extended)"
            )?,
        }
    }
    if plaintext.is_none() {
        anyhow::bail!("object length is invalid: the object is truncated or has extra bytes");
    }
    Ok(())
}
