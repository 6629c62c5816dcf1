//! Shared setup: a vault on a real filesystem store in a temporary
//! directory, and the people of a small story.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffre_crypto::root::RootKeyRing;
use coffre_crypto::{PrincipalId, UserSecret};
use coffre_store::{FsStore, ObjectStore};
use coffre_vault::{
    Category, Limits, NewBeneficiary, NewGrant, Permission, PlaintextStream, Session, Vault,
    VaultConfig,
};
use futures_util::StreamExt;

pub struct World {
    pub vault: Vault,
    pub store: Arc<dyn ObjectStore>,
    pub dir: tempfile::TempDir,
    /// A copy of the vault's root ring as it was opened.
    pub root: RootKeyRing,
    /// The identifiers the server gave, by the part each person chose.
    pub identifiers: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl World {
    pub fn root_copy(&self) -> RootKeyRing {
        self.root.current_only()
    }

    /// The identifier the person who chose `chosen` logs in with.
    pub fn id(&self, chosen: &str) -> String {
        self.identifiers
            .lock()
            .unwrap()
            .get(chosen)
            .cloned()
            .unwrap_or_else(|| panic!("nobody chose {chosen:?}"))
    }
}

pub fn test_limits() -> Limits {
    Limits {
        lockout_base: Duration::from_secs(1),
        ..Limits::default()
    }
}

pub async fn world_with(limits: Limits) -> World {
    world_on(limits, coffre_vault::Clock::system()).await
}

/// A world on a clock the test moves by hand.
pub async fn world_on_manual_clock() -> World {
    let now = coffre_vault::Clock::system().now_ms();
    world_on(test_limits(), coffre_vault::Clock::manual(now)).await
}

pub async fn world_on(limits: Limits, clock: coffre_vault::Clock) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(FsStore::open(dir.path().join("objects")).await.unwrap());
    let root = RootKeyRing::generate().unwrap();
    let vault = Vault::open(VaultConfig {
        clock,
        person_keys: (dir.path().join("db")).with_file_name("person-keys"),
        journal: (dir.path().join("db")).with_file_name("journal"),
        db_path: dir.path().join("db"),
        store: store.clone(),
        root: root.current_only(),
        limits,
    })
    .await
    .unwrap();
    World {
        vault,
        store,
        dir,
        root,
        identifiers: Default::default(),
    }
}

pub async fn world() -> World {
    world_with(test_limits()).await
}

pub fn body(data: &[u8], piece: usize) -> PlaintextStream {
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(piece.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(chunks).boxed()
}

pub async fn collect(mut s: PlaintextStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

pub const PASSWORD: &str = "mot-de-passe-du-travailleur";

/// A structure with an enrolled, logged-in admin.
pub async fn structure(w: &World, name: &str, admin: &str) -> (PrincipalId, Arc<Session>) {
    let s = w.vault.create_structure(name, admin).await.unwrap();
    w.vault
        .enroll_caseworker(&s.enrollment_code, UserSecret::from(PASSWORD))
        .await
        .unwrap();
    let out = w
        .vault
        .login_caseworker(admin, UserSecret::from(PASSWORD))
        .await
        .unwrap();
    (s.structure_id, w.vault.session(&out.token).unwrap())
}

/// A caseworker invited by `admin` and logged in.
pub async fn caseworker(
    w: &World,
    admin: &Session,
    structure: PrincipalId,
    login: &str,
) -> Arc<Session> {
    member(w, admin, structure, login, false).await
}

/// A member (an admin when `is_admin`) invited by `admin`, logged in.
pub async fn member(
    w: &World,
    admin: &Session,
    structure: PrincipalId,
    login: &str,
    is_admin: bool,
) -> Arc<Session> {
    let (_, code) = w
        .vault
        .invite_caseworker(admin, structure, login, is_admin)
        .await
        .unwrap();
    w.vault
        .enroll_caseworker(&code, UserSecret::from(PASSWORD))
        .await
        .unwrap();
    let out = w
        .vault
        .login_caseworker(login, UserSecret::from(PASSWORD))
        .await
        .unwrap();
    w.vault.session(&out.token).unwrap()
}

/// A person enrolled by `cw`, with a 31-day view+upload grant on
/// `categories` and the structure as recovery trustee; logged in.
pub async fn beneficiary(
    w: &World,
    cw: &Session,
    identifier: &str,
    secret: &str,
    categories: &[Category],
    trustee: bool,
) -> (PrincipalId, Arc<Session>) {
    let grant = (!categories.is_empty()).then(|| NewGrant {
        categories: categories.to_vec(),
        permissions: vec![Permission::View, Permission::Upload],
        days: 31,
    });
    let e = w
        .vault
        .enroll_beneficiary(
            cw,
            NewBeneficiary {
                identifier: identifier.into(),
                display_name: format!("Personne {identifier}"),
                secret: UserSecret::from(secret),
                recovery_trustee: trustee,
                grant,
            },
        )
        .await
        .unwrap();
    assert!(
        e.identifier
            .starts_with(&format!("{}-", identifier.to_lowercase()))
    );
    w.identifiers
        .lock()
        .unwrap()
        .insert(identifier.to_owned(), e.identifier.clone());
    let out = w
        .vault
        .login_beneficiary(&e.identifier, UserSecret::from(secret))
        .await
        .unwrap();
    (e.beneficiary_id, w.vault.session(&out.token).unwrap())
}

pub fn scan(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
