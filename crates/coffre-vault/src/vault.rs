//! The `Vault` handle: opening, limits, and what every operation shares
//! (the records, the key layer, the journal, the policy check that
//! journals refusals).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use coffre_crypto::audit::{AuditSigningKey, AuditVerifyingKey};
use coffre_crypto::root::{BlindIndexKey, RootKeyRing};
use coffre_crypto::wrap::KdfParams;
use coffre_crypto::{DocumentId, PrincipalId};
use coffre_store::ObjectStore;

use crate::access::Access;
use crate::clock::Clock;
use crate::journal::{Event, Journal, NewEntry, Outcome, Who};
use crate::maintenance::ScrubSummary;
use crate::model::Category;
use crate::policy::{self, Action, Decision, GrantState, Resource};
use crate::records::{BeneficiaryRecord, DocumentRecord, Expect, Records, Secret, Table};
use crate::session::{Principal, Session, Sessions};
use crate::{Result, VaultError};

/// Sizes, counts and durations. Every one has a limit.
#[derive(Debug, Clone)]
pub struct Limits {
    pub quota_bytes: u64,
    pub max_document_bytes: u64,
    pub session_idle: Duration,
    /// However active, a session ends this long after its login.
    pub session_lifetime: Duration,
    /// Failed logins from one client (an address, an IPv6 /64) before the
    /// account locks for that client.
    pub lockout_after: u32,
    /// Failed logins from all clients together before the account locks
    /// for every client.
    pub lockout_after_all: u32,
    /// First lock duration; doubles with every further failure.
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    pub enrollment_code_ttl: Duration,
    pub share_default_days: u32,
    pub share_max_days: u32,
    pub share_max_downloads: u32,
    /// Most documents in one vault.
    pub max_documents: usize,
    pub kdf: KdfParams,
    /// Key derivations (argon2id, 19 MiB each) running at once, and how
    /// many more may wait their turn (a few seconds at most) before
    /// requests are answered "busy".
    pub kdf_running: usize,
    pub kdf_waiting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            quota_bytes: 1 << 30,
            max_document_bytes: 100 << 20,
            session_idle: Duration::from_secs(20 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            lockout_after: 5,
            lockout_after_all: 100,
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(24 * 3600),
            enrollment_code_ttl: Duration::from_secs(7 * 24 * 3600),
            share_default_days: 7,
            share_max_days: 31,
            share_max_downloads: 100,
            max_documents: 10_000,
            kdf: KdfParams::OWASP,
            kdf_running: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            // Waiting costs no memory (only running derivations hold their
            // 19 MiB); 64 callers are served within the 3 s they may wait.
            kdf_waiting: 64,
        }
    }
}

/// Counts and key state for the operator.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub structures: u64,
    pub caseworkers: u64,
    pub beneficiaries: u64,
    pub documents: u64,
    pub root_key_version: u32,
    pub root_key_versions: Vec<u32>,
    pub journal_head_seq: u64,
    pub journal_head_hash: Option<String>,
    pub last_checkpoint_seq: Option<u64>,
    pub last_checkpoint_ms: Option<i64>,
    pub audit_verifying_key: String,
    pub last_scrub: Option<ScrubSummary>,
}

/// What the vault is opened with.
pub struct VaultConfig {
    /// Directory of the metadata database.
    pub db_path: PathBuf,
    /// Directory of the per-person key files (by default `person-keys`
    /// beside the database).
    pub person_keys: PathBuf,
    /// Directory of the audit journal's files (by default `journal` beside
    /// the database).
    pub journal: PathBuf,
    pub store: Arc<dyn ObjectStore>,
    pub root: RootKeyRing,
    pub limits: Limits,
    /// "Now" (the system clock, but for tests).
    pub clock: Clock,
}

impl VaultConfig {
    /// A configuration on the system clock.
    pub fn new(
        db_path: PathBuf,
        store: Arc<dyn ObjectStore>,
        root: RootKeyRing,
        limits: Limits,
    ) -> Self {
        Self {
            person_keys: db_path.with_file_name("person-keys"),
            journal: db_path.with_file_name(crate::datadir::JOURNAL_DIR),
            db_path,
            store,
            root,
            limits,
            clock: Clock::system(),
        }
    }
}

impl std::fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultConfig")
            .field("db_path", &self.db_path)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub records: Arc<Records>,
    pub store: Arc<dyn ObjectStore>,
    /// Held shared by every operation that writes metadata, exclusively by a
    /// backup (so it copies a consistent state) and by a root rotation.
    pub gate: tokio::sync::RwLock<()>,
    /// The last scrub's findings, for `/metrics`.
    pub scrubbed: std::sync::Mutex<Option<ScrubSummary>>,
    /// Documents whose object may exist before their record: gc and scrub
    /// must not take them for orphans, however young the bound.
    pub uploading: std::sync::Mutex<std::collections::HashSet<DocumentId>>,
    /// An identity sealed under a random secret, opened (and failed) for
    /// logins with an unknown identifier, so they cost what a wrong secret
    /// costs: response time does not tell who has an account here.
    pub decoy: std::sync::RwLock<Vec<u8>>,
    pub decoy_id: PrincipalId,
    #[cfg(test)]
    pub decoy_runs: std::sync::atomic::AtomicU64,
    pub blind: BlindIndexKey,
    pub journal: Journal,
    /// Repeated refusals, counted rather than journaled one by one.
    pub refusals: crate::journal::Coalescer,
    /// The bound on key derivations running at once.
    pub kdf: crate::access::kdf_gate::KdfGate,
    pub sessions: Sessions,
    /// The day, and the `(structure, person)` a dashboard journaled that
    /// day: a person's journal says once a day that a structure looked, not
    /// at every page.
    pub desk_seen: std::sync::Mutex<(i64, std::collections::HashSet<(PrincipalId, PrincipalId)>)>,
    /// Counter links, in memory only (`counter.rs`).
    pub counter: crate::counter::CounterLinks,
    pub limits: Limits,
    pub clock: Clock,
}

impl Inner {
    /// The root key ring (replaced as a whole by a rotation).
    pub fn root(&self) -> Arc<RootKeyRing> {
        self.records.root()
    }

    pub fn set_root(&self, ring: RootKeyRing) {
        self.records.set_root(ring);
    }

    /// Marks an upload in flight until the guard drops (after its record is
    /// committed, or its object removed).
    pub fn upload_in_flight(self: &Arc<Self>, id: DocumentId) -> UploadInFlight {
        self.uploading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id);
        UploadInFlight {
            inner: self.clone(),
            id,
        }
    }

    pub fn is_uploading(&self, id: DocumentId) -> bool {
        self.uploading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&id)
    }
}

pub(crate) struct UploadInFlight {
    inner: Arc<Inner>,
    id: DocumentId,
}

impl Drop for UploadInFlight {
    fn drop(&mut self) {
        self.inner
            .uploading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// The vault. Cheap to clone; all clones share one database and journal.
#[derive(Clone)]
pub struct Vault {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.inner.store.describe())
            .finish_non_exhaustive()
    }
}

/// Opens a server secret sealed in `meta`, creating it on first start.
fn server_secret<K>(
    records: &Records,
    which: Secret,
    root: &RootKeyRing,
    unseal: impl Fn(&[u8], &RootKeyRing) -> coffre_crypto::Result<K>,
    generate: impl Fn() -> coffre_crypto::Result<(K, Vec<u8>)>,
) -> Result<K> {
    if let Some(sealed) = records.read().meta().secret(which)? {
        return Ok(unseal(&sealed, root)?);
    }
    let (key, sealed) = generate()?;
    records.write(|tx| tx.meta().put_secret(which, &sealed))?;
    Ok(key)
}

impl Vault {
    /// Opens the vault, initialising a new database on first use. Must run
    /// inside a tokio runtime: the journal writer is a task.
    pub async fn open(config: VaultConfig) -> Result<Self> {
        Self::start(config, Expect::NewOrExisting).await
    }

    /// Opens a vault already in service: a missing, empty or unreadable
    /// database is [`VaultError::Unreadable`], never replaced by a new one.
    pub async fn open_existing(config: VaultConfig) -> Result<Self> {
        Self::start(config, Expect::Existing).await
    }

    async fn start(config: VaultConfig, expect: Expect) -> Result<Self> {
        let decoy_id = PrincipalId::random()?;
        let decoy = Access::decoy(&config.root, config.limits.kdf, decoy_id)?;
        let records = Arc::new(Records::open(
            &config.db_path,
            &config.person_keys,
            &config.journal,
            config.root,
            expect,
        )?);
        let root = records.root();
        let signing = server_secret(
            &records,
            Secret::AuditSigning,
            &root,
            AuditSigningKey::unseal,
            || {
                let k = AuditSigningKey::generate()?;
                let sealed = k.seal(&root)?;
                Ok((k, sealed))
            },
        )?;
        let blind = server_secret(
            &records,
            Secret::BlindIndex,
            &root,
            BlindIndexKey::unseal,
            || {
                let k = BlindIndexKey::generate()?;
                let sealed = k.seal(&root)?;
                Ok((k, sealed))
            },
        )?;
        records.flush().await?;
        let journal = Journal::start(records.clone(), signing, config.clock.clone())?;
        let vault = Self {
            inner: Arc::new(Inner {
                records,
                store: config.store,
                gate: tokio::sync::RwLock::new(()),
                scrubbed: std::sync::Mutex::new(None),
                uploading: std::sync::Mutex::new(std::collections::HashSet::new()),
                decoy: std::sync::RwLock::new(decoy),
                decoy_id,
                #[cfg(test)]
                decoy_runs: std::sync::atomic::AtomicU64::new(0),
                blind,
                journal,
                refusals: crate::journal::Coalescer::default(),
                kdf: crate::access::kdf_gate::KdfGate::new(
                    config.limits.kdf_running,
                    config.limits.kdf_waiting,
                ),
                sessions: Sessions::new(config.limits.session_idle, config.limits.session_lifetime),
                desk_seen: std::sync::Mutex::new((0, std::collections::HashSet::new())),
                counter: crate::counter::CounterLinks::default(),
                limits: config.limits,
                clock: config.clock,
            }),
        };
        vault.destroy_orphan_keys()?;
        Ok(vault)
    }

    /// Destroys key files no person record names any more: left by an
    /// erasure interrupted after its records went (the key is the last
    /// thing it destroys), or by an enrollment that failed after its key was
    /// written. Only files older than an hour: an enrollment under way
    /// writes its key a moment before its record.
    fn destroy_orphan_keys(&self) -> Result<u64> {
        let read = self.records().read();
        let hour_ago = std::time::SystemTime::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or(std::time::UNIX_EPOCH);
        let mut n = 0;
        let mut kept = 0;
        for (id, written) in self.records().persons().list()? {
            if written >= hour_ago || read.beneficiaries().exists(id)? {
                continue;
            }
            // Only a key whose erasure the journal shows begun: a record
            // missing for another reason (a database that lost its last
            // writes, records deleted by someone who can write the files)
            // must not cost the person their papers for good.
            let erasing = self
                .records()
                .journal()
                .pinned_of_vault(id, 50)?
                .iter()
                .any(|r| r.entry.action == Event::VaultErase.code());
            if erasing {
                self.records().persons().destroy(id)?;
                n += 1;
            } else {
                kept += 1;
            }
        }
        if n > 0 {
            tracing::warn!(
                destroyed = n,
                "destroyed the keys of vaults whose erasure was interrupted"
            );
        }
        if kept > 0 {
            tracing::warn!(
                kept,
                "person key files with no record and no erasure in the journal were kept \
                 (an enrollment that failed, or records lost: compare with the newest backup)"
            );
        }
        Ok(n)
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The vault's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn audit_verifying_key(&self) -> AuditVerifyingKey {
        self.inner.journal.verifying_key()
    }

    pub(crate) fn records(&self) -> &Records {
        &self.inner.records
    }

    pub(crate) fn access(&self) -> Access<'_> {
        Access::new(&self.inner)
    }

    /// What the operator's `coffre admin status` shows.
    pub fn status(&self) -> Result<Status> {
        let r = self.records();
        let head = r.journal().last()?;
        let checkpoint = r.journal().last_checkpoint()?;
        let root = self.inner.root();
        Ok(Status {
            structures: r.count(Table::Structures),
            caseworkers: r.count(Table::Caseworkers),
            beneficiaries: r.count(Table::Beneficiaries),
            documents: r.count(Table::Documents),
            root_key_version: root.current_version(),
            root_key_versions: root.versions(),
            journal_head_seq: head.as_ref().map_or(0, |r| r.entry.seq),
            journal_head_hash: head.map(|r| r.hash.to_string()),
            last_checkpoint_seq: checkpoint.as_ref().map(|c| c.seq),
            last_checkpoint_ms: checkpoint.map(|c| c.time_ms),
            audit_verifying_key: self.audit_verifying_key().to_string(),
            last_scrub: self.last_scrub(),
        })
    }

    /// Signs a checkpoint over the journal head (call on shutdown).
    pub async fn checkpoint(&self) -> Result<()> {
        // Every open refusal window is summed up first.
        for summary in self.inner.refusals.close(self.now_ms(), true) {
            self.inner.journal.append(summary).await?;
        }
        self.inner.journal.checkpoint().await.map(|_| ())
    }

    /// The session behind a token, if it is live.
    pub fn session(&self, token: &str) -> Result<Arc<Session>> {
        self.inner.sessions.get(token)
    }

    /// Whether a session is still open: a deactivation, an erasure or a
    /// recovery ends sessions at once.
    pub fn session_is_live(&self, session: &Session) -> bool {
        self.inner.sessions.contains(session)
    }

    /// How long a session stays open without another request: the page
    /// warns the person before it ends (RGAA 13.1).
    pub fn session_time_left(&self, session: &Session) -> Duration {
        self.inner.sessions.time_left(session)
    }

    pub fn logout(&self, session: &Session) {
        self.inner.sessions.remove(session);
    }

    /// Readiness: the object store answers and the database reads.
    pub async fn ready(&self) -> Result<()> {
        self.records().read().meta().schema_version()?;
        self.inner.store.check().await?;
        Ok(())
    }

    /// Drops the keys every session memoized for vault `b`: called once a
    /// change of a document's key or of consent is committed (deletion,
    /// privacy, revocation, expiry, erasure), so no unwrapped key stays in
    /// memory past its use (`access/memo.rs`).
    pub(crate) fn forget_keys(&self, b: PrincipalId) {
        self.inner.sessions.forget_keys(b);
    }

    /// Drops sessions idle past the limit (their keys are zeroized).
    pub fn sweep_sessions(&self) {
        self.inner.sessions.sweep();
    }

    /// Taken by every operation that writes metadata; a backup or a root
    /// rotation waits for those in progress and holds new ones back.
    /// Never taken twice by one task (a queued writer would deadlock it).
    pub(crate) async fn writing(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.inner.gate.read().await
    }

    /// Appends a journal entry, durably. A refusal repeated while its
    /// window is open is only counted (`journal/coalesce.rs`): its answer
    /// is `Ok(0)`, and a summary entry follows when the window closes.
    pub(crate) async fn journal(&self, e: NewEntry) -> Result<u64> {
        if e.outcome == Outcome::Denied {
            let (admit, due) = self.inner.refusals.admit(&e, self.now_ms());
            for summary in due {
                self.inner.journal.append(summary).await?;
            }
            if admit == crate::journal::Admit::Counted {
                return Ok(0);
            }
        }
        self.inner.journal.append(e).await
    }

    /// Appends a journal entry for an event outside the vault's own
    /// operations (refusals decided by the API layer). Returns once it is
    /// durable.
    pub async fn record(&self, e: NewEntry) -> Result<u64> {
        self.journal(e).await
    }

    /// Writes the summaries of the refusal windows that are over (the
    /// server calls it every minute). Returns how many.
    pub async fn sweep_refusals(&self) -> Result<usize> {
        let due = self.inner.refusals.close(self.now_ms(), false);
        let n = due.len();
        for summary in due {
            self.inner.journal.append(summary).await?;
        }
        Ok(n)
    }

    pub(crate) fn beneficiary(&self, id: PrincipalId) -> Result<BeneficiaryRecord> {
        self.records().read().beneficiaries().find(id)
    }

    pub(crate) fn document(&self, id: DocumentId) -> Result<DocumentRecord> {
        self.records()
            .read()
            .documents()
            .get(id)?
            .ok_or(VaultError::NotFound)
    }

    /// The consent state of `structure` on `category` of a vault, now.
    pub(crate) fn grant_state(
        &self,
        beneficiary: PrincipalId,
        structure: PrincipalId,
        category: Category,
    ) -> Result<GrantState> {
        let grants = self.records().read().grants().of_vault(beneficiary)?;
        Ok(GrantState::of(&grants, structure, category, self.now_ms()))
    }

    /// Builds the policy input for an action on a vault (and a category or
    /// document), asks the policy, and journals a refusal before returning
    /// it. Unknown vaults are refused as `NotFound` without a journal entry
    /// under a vault that does not exist.
    pub(crate) async fn authorize(
        &self,
        session: &Session,
        action: Action,
        beneficiary: PrincipalId,
        category: Option<Category>,
        document: Option<&DocumentRecord>,
    ) -> Result<BeneficiaryRecord> {
        let who = session.principal.who();
        let Ok(record) = self.beneficiary(beneficiary) else {
            self.journal(NewEntry::denied(who, action.event()).detail("unknown vault"))
                .await?;
            return Err(VaultError::NotFound);
        };
        let (linked, trustee, grant) = match session.principal {
            Principal::Caseworker { structure, .. } => {
                let category = category.or(document.map(|d| d.category));
                let grant = match category {
                    Some(c) => self.grant_state(beneficiary, structure, c)?,
                    None => GrantState::None,
                };
                (
                    record.linked.contains(&structure),
                    record.recovery.iter().any(|r| r.structure == structure),
                    grant,
                )
            }
            Principal::Beneficiary { .. } => (false, false, GrantState::None),
        };
        let resource = Resource {
            beneficiary,
            linked,
            trustee,
            grant,
            private_document: document.is_some_and(DocumentRecord::private),
        };
        match policy::decide(&session.principal.actor(), action, &resource) {
            Decision::Allow => Ok(record),
            refusal => {
                // The refused attempt is shown to the person in their
                // journal — when it comes from them or from a structure they
                // are linked to. A structure with no link to them goes to the
                // operator's journal: otherwise anyone who knows an id could
                // flood the person's journal and hide what matters.
                let stranger = matches!(session.principal, Principal::Caseworker { .. })
                    && !linked
                    && !trustee;
                let mut e = NewEntry::denied(who, action.event());
                if stranger {
                    e = e.detail("a vault this structure is not linked to");
                } else {
                    e = e.vault(beneficiary);
                    if let Some(d) = document {
                        e = e.doc(d.id);
                    }
                }
                Err(self.refuse(refusal, e).await)
            }
        }
    }

    /// Passes a result through; when it is a record that failed
    /// authentication (database files altered by someone without the root
    /// key), journals the alarm first, for the operator and auditors.
    pub(crate) async fn alarm<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(VaultError::Tampered(table)) = &r {
            let _ = self
                .journal(
                    NewEntry::new(Who::System, Event::IntegrityAlarm, Outcome::Failed)
                        .detail(format!("a stored record of {table} failed authentication")),
                )
                .await;
        }
        r
    }

    /// Journals a refusal (with its reason when it has one) and returns the
    /// error to answer with.
    pub(crate) async fn refuse(&self, refusal: Decision, mut entry: NewEntry) -> VaultError {
        if let Decision::Forbidden(reason) = refusal {
            entry = entry.detail(reason);
        }
        if let Err(e) = self.journal(entry).await {
            return e;
        }
        match refusal {
            Decision::Forbidden(reason) => VaultError::Forbidden(reason),
            Decision::Unauthenticated => VaultError::Unauthenticated,
            _ => VaultError::NotFound,
        }
    }
}
