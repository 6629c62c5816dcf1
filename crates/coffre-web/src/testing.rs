//! A vault on a temporary directory, for the unit tests.

use std::path::Path;
use std::sync::Arc;

use coffre_crypto::root::RootKeyRing;
use coffre_store::FsStore;
use coffre_vault::{Limits, Vault, VaultConfig};

pub async fn vault(dir: &Path) -> Vault {
    let store = Arc::new(FsStore::open(dir).await.unwrap());
    Vault::open(VaultConfig {
        clock: coffre_vault::Clock::system(),
        person_keys: dir.join("person-keys"),
        journal: dir.join("journal"),
        db_path: dir.join("db"),
        store,
        root: RootKeyRing::generate().unwrap(),
        limits: Limits::default(),
    })
    .await
    .unwrap()
}
