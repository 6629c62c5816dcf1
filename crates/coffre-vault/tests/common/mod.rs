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
    pub clock: coffre_vault::Clock,
    /// The caseworkers' second factors, by login.
    pub otps: std::sync::Mutex<std::collections::HashMap<String, Arc<Otp>>>,
}

/// A caseworker's authenticator app: codes of steps never used before
/// (the vault accepts a step once; the next step's code is accepted a
/// step early, and past that the app waits for the clock).
pub struct Otp {
    secret: coffre_crypto::otp::OtpSecret,
    last: std::sync::Mutex<u64>,
    /// Recovery codes not used yet (logins in quick succession).
    recovery: std::sync::Mutex<Vec<String>>,
    clock: coffre_vault::Clock,
}

impl Otp {
    pub fn new(activated: &coffre_vault::CaseworkerActivated, clock: &coffre_vault::Clock) -> Self {
        let text = activated.second_factor.secret.to_base32();
        Self {
            secret: coffre_crypto::otp::OtpSecret::from_base32(&text).unwrap(),
            last: std::sync::Mutex::new(0),
            recovery: std::sync::Mutex::new(
                activated
                    .second_factor
                    .recovery_codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
            ),
            clock: clock.clone(),
        }
    }

    pub async fn code(&self) -> String {
        loop {
            let now = u64::try_from(self.clock.now_ms() / 1000).unwrap();
            let step = now / 30;
            let wait = {
                let mut last = self.last.lock().unwrap();
                if *last < step {
                    *last = step;
                    return self.secret.code_at(step * 30).to_string();
                }
                if *last == step {
                    *last = step + 1;
                    return self.secret.code_at((step + 1) * 30).to_string();
                }
                if let Some(code) = self.recovery.lock().unwrap().pop() {
                    return code;
                }
                (step + 1) * 30 * 1000 - u64::try_from(self.clock.now_ms()).unwrap()
            };
            if !self.clock.advance(Duration::from_millis(wait)) {
                tokio::time::sleep(Duration::from_millis(wait + 10)).await;
            }
        }
    }
}

impl World {
    /// Activates a caseworker's account with an invitation code and keeps
    /// their second factor.
    pub async fn activate(
        &self,
        login: &str,
        code: &str,
        password: &str,
    ) -> coffre_vault::Result<coffre_crypto::PrincipalId> {
        let a = self
            .vault
            .enroll_caseworker(code, UserSecret::from(password))
            .await?;
        self.otps
            .lock()
            .unwrap()
            .insert(login.to_owned(), Arc::new(Otp::new(&a, &self.clock)));
        Ok(a.caseworker_id)
    }

    /// A fresh code of `login`'s second factor.
    pub async fn otp(&self, login: &str) -> String {
        let otp = self.otps.lock().unwrap().get(login).cloned();
        match otp {
            Some(o) => o.code().await,
            None => String::new(),
        }
    }

    /// Logs a caseworker in, with a fresh code.
    pub async fn login_cw(
        &self,
        login: &str,
        password: &str,
    ) -> coffre_vault::Result<coffre_vault::LoginOutcome> {
        let code = self.otp(login).await;
        self.vault
            .login_caseworker(login, UserSecret::from(password), &code)
            .await
    }
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
    world_on_store(limits, clock, |fs| fs).await
}

/// A world whose store hands out objects cut in odd pieces (1, 7, 4,093,
/// 65,537 and 300,001 bytes, in turn), as an S3 store may, where the
/// filesystem store cuts them where the vault reads; it says it is remote,
/// as an S3 store does.
pub async fn world_on_recutting_store() -> World {
    world_on_store(test_limits(), coffre_vault::Clock::system(), |fs| {
        Arc::new(RecuttingStore(fs))
    })
    .await
}

pub async fn world_on_store(
    limits: Limits,
    clock: coffre_vault::Clock,
    wrap: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
) -> World {
    let clock_copy = clock.clone();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = wrap(Arc::new(
        FsStore::open(dir.path().join("objects")).await.unwrap(),
    ));
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
        clock: clock_copy,
        otps: Default::default(),
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
    w.activate(admin, &s.enrollment_code, PASSWORD)
        .await
        .unwrap();
    let out = w.login_cw(admin, PASSWORD).await.unwrap();
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
    w.activate(login, &code, PASSWORD).await.unwrap();
    let out = w.login_cw(login, PASSWORD).await.unwrap();
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

/// The filesystem store, with its bodies cut again in odd pieces.
#[derive(Debug)]
pub struct RecuttingStore(Arc<dyn ObjectStore>);

fn recut(body: coffre_store::ObjectBody) -> coffre_store::ObjectBody {
    const CUTS: [usize; 5] = [1, 7, 4_093, 65_537, 300_001];
    let state = (body.stream, bytes::BytesMut::new(), 0usize, false);
    let stream = futures_util::stream::unfold(state, |(mut s, mut buf, i, mut ended)| async move {
        let want = CUTS[i % CUTS.len()];
        while buf.len() < want && !ended {
            match s.next().await {
                Some(Ok(b)) => buf.extend_from_slice(&b),
                Some(Err(e)) => return Some((Err(e), (s, buf, i, true))),
                None => ended = true,
            }
        }
        if buf.is_empty() {
            return None;
        }
        let piece = buf.split_to(want.min(buf.len())).freeze();
        Some((Ok(piece), (s, buf, i + 1, ended)))
    })
    .boxed();
    coffre_store::ObjectBody {
        len: body.len,
        stream,
    }
}

#[async_trait::async_trait]
impl ObjectStore for RecuttingStore {
    async fn put(
        &self,
        key: &coffre_store::ObjectKey,
        body: coffre_store::BodyStream,
    ) -> coffre_store::Result<coffre_store::PutReceipt> {
        self.0.put(key, body).await
    }
    async fn get(
        &self,
        key: &coffre_store::ObjectKey,
    ) -> coffre_store::Result<coffre_store::ObjectBody> {
        Ok(recut(self.0.get(key).await?))
    }
    async fn get_range(
        &self,
        key: &coffre_store::ObjectKey,
        range: std::ops::Range<u64>,
    ) -> coffre_store::Result<coffre_store::ObjectBody> {
        Ok(recut(self.0.get_range(key, range).await?))
    }
    async fn head(&self, key: &coffre_store::ObjectKey) -> coffre_store::Result<u64> {
        self.0.head(key).await
    }
    async fn delete(&self, key: &coffre_store::ObjectKey) -> coffre_store::Result<()> {
        self.0.delete(key).await
    }
    async fn list(
        &self,
        prefix: &coffre_store::KeyPrefix,
        after: Option<&str>,
        limit: usize,
    ) -> coffre_store::Result<coffre_store::ListPage> {
        self.0.list(prefix, after, limit).await
    }
    async fn cleanup_incomplete(&self, older_than: Duration) -> coffre_store::Result<u64> {
        self.0.cleanup_incomplete(older_than).await
    }
    async fn check(&self) -> coffre_store::Result<()> {
        self.0.check().await
    }
    fn describe(&self) -> String {
        "recutting".into()
    }
    // Cutting objects as a remote store does, it is taken for one.
    fn remote(&self) -> bool {
        true
    }
}

/// What a [`GatedStore`] holds until told to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Puts, once the object is written: the moment where an object exists
    /// and its record does not yet.
    Puts,
    /// Whole-object reads, before the object is read.
    Gets,
}

/// A store that holds puts or reads until told to go (`go`), and says when
/// one is held (`reached`).
#[derive(Debug)]
pub struct GatedStore {
    pub inner: Arc<dyn ObjectStore>,
    pub hold: Hold,
    pub reached: tokio::sync::Notify,
    pub go: tokio::sync::Notify,
}

impl GatedStore {
    pub fn new(inner: Arc<dyn ObjectStore>, hold: Hold) -> Self {
        Self {
            inner,
            hold,
            reached: tokio::sync::Notify::new(),
            go: tokio::sync::Notify::new(),
        }
    }

    async fn gate(&self, at: Hold) {
        if self.hold == at {
            self.reached.notify_one();
            self.go.notified().await;
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for GatedStore {
    async fn put(
        &self,
        key: &coffre_store::ObjectKey,
        body: coffre_store::BodyStream,
    ) -> coffre_store::Result<coffre_store::PutReceipt> {
        let r = self.inner.put(key, body).await;
        self.gate(Hold::Puts).await;
        r
    }
    async fn get(
        &self,
        key: &coffre_store::ObjectKey,
    ) -> coffre_store::Result<coffre_store::ObjectBody> {
        self.gate(Hold::Gets).await;
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &coffre_store::ObjectKey,
        range: std::ops::Range<u64>,
    ) -> coffre_store::Result<coffre_store::ObjectBody> {
        self.inner.get_range(key, range).await
    }
    async fn head(&self, key: &coffre_store::ObjectKey) -> coffre_store::Result<u64> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &coffre_store::ObjectKey) -> coffre_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        prefix: &coffre_store::KeyPrefix,
        after: Option<&str>,
        limit: usize,
    ) -> coffre_store::Result<coffre_store::ListPage> {
        self.inner.list(prefix, after, limit).await
    }
    async fn cleanup_incomplete(&self, older_than: Duration) -> coffre_store::Result<u64> {
        self.inner.cleanup_incomplete(older_than).await
    }
    async fn check(&self) -> coffre_store::Result<()> {
        self.inner.check().await
    }
    fn describe(&self) -> String {
        "gated".into()
    }
    fn remote(&self) -> bool {
        self.inner.remote()
    }
}

/// Flips a bit of a stored object, at the offset `at` picks from its length
/// (damage, as the disk or a thief could make it).
pub async fn damage_object(
    store: &dyn ObjectStore,
    key: &coffre_store::ObjectKey,
    at: impl FnOnce(usize) -> usize,
) {
    let mut stored = store.get(key).await.unwrap().collect().await.unwrap();
    let at = at(stored.len());
    stored[at] ^= 0x40;
    let piece: std::io::Result<Bytes> = Ok(stored.into());
    store
        .put(key, futures_util::stream::iter([piece]).boxed())
        .await
        .unwrap();
}
