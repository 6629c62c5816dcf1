//! The operator's channel: a Unix socket in the data directory (mode 0600;
//! being able to open it is the credential). One JSON request per line, one
//! JSON answer per line.

use std::path::Path;

use coffre_vault::Vault;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

#[derive(Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
enum Request {
    StructureCreate { name: String, admin_login: String },
    StructureList,
    Status,
}

/// Longest request line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Binds the socket (replacing a stale one) with mode 0600.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

pub async fn serve(listener: UnixListener, vault: Vault, store: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let vault = vault.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut lines = BufReader::new(r.take(MAX_LINE as u64 * 16)).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let answer = if line.len() > MAX_LINE {
                    json!({ "ok": false, "error": "request too long" })
                } else {
                    handle(&vault, &store, &line).await
                };
                if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn handle(vault: &Vault, store: &str, line: &str) -> Value {
    let req: Request = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return json!({ "ok": false, "error": format!("bad request: {e}") }),
    };
    match req {
        Request::StructureCreate { name, admin_login } => {
            match vault.create_structure(&name, &admin_login).await {
                Ok(c) => {
                    let code: &str = &c.enrolment_code;
                    json!({ "ok": true, "structure_id": c.structure_id, "admin_id": c.admin_id, "enrollment_code": code })
                }
                Err(e) => json!({ "ok": false, "error": e.to_string() }),
            }
        }
        Request::StructureList => match vault.structures() {
            Ok(list) => json!({ "ok": true, "structures": list.iter().map(|s| json!({
                "structure_id": s.id, "name": s.name, "created_at_ms": s.created_ms })).collect::<Vec<_>>() }),
            Err(e) => json!({ "ok": false, "error": e.to_string() }),
        },
        Request::Status => json!({
            "ok": true,
            "version": env!("CARGO_PKG_VERSION"),
            "store": store,
            "audit_verifying_key": vault.audit_verifying_key().to_string(),
        }),
    }
}
