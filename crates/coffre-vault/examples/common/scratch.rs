//! What the memory examples start from: their one argument, a two-worker
//! runtime (as on the server), and a new vault in a scratch directory under
//! `target/` (removed when the returned directory is dropped).

use std::sync::Arc;

use coffre_crypto::root::RootKeyRing;
use coffre_store::{FsStore, ObjectStore};
use coffre_vault::{Limits, Vault, VaultConfig};

/// The first command-line argument, or `default`.
pub fn arg<T: std::str::FromStr>(default: T) -> T {
    std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub async fn vault() -> (tempfile::TempDir, Vault) {
    let base = std::env::current_dir().unwrap().join("target");
    let dir = tempfile::tempdir_in(&base).unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let v = Vault::open(VaultConfig::new(
        dir.path().join("db"),
        store,
        RootKeyRing::generate().unwrap(),
        Limits::default(),
    ))
    .await
    .unwrap();
    (dir, v)
}
