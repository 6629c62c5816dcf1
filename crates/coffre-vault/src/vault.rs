//! The `Vault` handle: opening, limits, and the shared helpers every
//! operation uses (records, policy checks that journal refusals).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use coffre_crypto::audit::{AuditSigningKey, AuditVerifyingKey};
use coffre_crypto::root::{BlindIndexKey, RootKeyRing};
use coffre_crypto::wrap::{Binding, KdfParams};
use coffre_crypto::{DocumentId, PrincipalId};
use coffre_store::ObjectStore;

use crate::db::{self, Db};
use crate::journal::{Journal, NewEntry};
use crate::model::{BeneficiaryRecord, Category, DocumentRecord, GrantRecord, Permission};
use crate::policy::{self, Action, Decision, GrantState, Resource};
use crate::session::{Principal, Session, Sessions};
use crate::{Result, VaultError, now_ms};

/// Sizes, counts and durations. Every one has a limit.
#[derive(Debug, Clone)]
pub struct Limits {
    pub quota_bytes: u64,
    pub max_document_bytes: u64,
    pub session_idle: Duration,
    /// Failed logins before the account locks.
    pub lockout_after: u32,
    /// First lock duration; doubles with every further failure.
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    pub enrolment_code_ttl: Duration,
    pub share_default_days: u32,
    pub share_max_days: u32,
    pub share_max_downloads: u32,
    /// Most documents in one vault.
    pub max_documents: usize,
    pub kdf: KdfParams,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            quota_bytes: 1 << 30,
            max_document_bytes: 100 << 20,
            session_idle: Duration::from_secs(20 * 60),
            lockout_after: 5,
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(24 * 3600),
            enrolment_code_ttl: Duration::from_secs(7 * 24 * 3600),
            share_default_days: 7,
            share_max_days: 31,
            share_max_downloads: 100,
            max_documents: 10_000,
            kdf: KdfParams::OWASP,
        }
    }
}

/// Counts and key state for the operator.
#[derive(Debug, Clone, serde::Serialize)]
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
    pub last_scrub: Option<crate::maintenance::ScrubSummary>,
}

pub struct VaultConfig {
    /// Directory of the sled database.
    pub db_path: PathBuf,
    pub store: Arc<dyn ObjectStore>,
    pub root: RootKeyRing,
    pub limits: Limits,
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
    pub db: Arc<Db>,
    pub store: Arc<dyn ObjectStore>,
    /// Replaced as a whole by a root rotation; readers take a clone of the Arc.
    root: std::sync::RwLock<Arc<RootKeyRing>>,
    /// Held shared by every operation that writes metadata, exclusively by a
    /// backup (so it copies a consistent state) and by a root rotation.
    pub gate: tokio::sync::RwLock<()>,
    /// The last scrub's findings, for `/metrics`.
    pub scrubbed: std::sync::Mutex<Option<crate::maintenance::ScrubSummary>>,
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
    pub sessions: Sessions,
    pub limits: Limits,
}

impl Inner {
    pub fn root(&self) -> Arc<RootKeyRing> {
        self.root
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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

    pub fn set_root(&self, ring: RootKeyRing) {
        *self
            .root
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
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

pub(crate) const SIGNING_KEY: &str = "audit_signing_key";
pub(crate) const BLIND_KEY: &str = "blind_index_key";

impl Vault {
    /// Opens (initialising on first use) the vault. Must run inside a tokio
    /// runtime: the journal writer is a task.
    pub async fn open(config: VaultConfig) -> Result<Self> {
        let db = Arc::new(Db::open(&config.db_path)?);
        let signing = match db.meta.get(SIGNING_KEY)? {
            Some(s) => AuditSigningKey::unseal(&s, &config.root)?,
            None => {
                let k = AuditSigningKey::generate()?;
                db.meta.insert(SIGNING_KEY, k.seal(&config.root)?)?;
                k
            }
        };
        let blind = match db.meta.get(BLIND_KEY)? {
            Some(s) => BlindIndexKey::unseal(&s, &config.root)?,
            None => {
                let k = BlindIndexKey::generate()?;
                db.meta.insert(BLIND_KEY, k.seal(&config.root)?)?;
                k
            }
        };
        db.flush().await?;
        let journal = Journal::start(db.clone(), signing)?;
        let decoy_id = PrincipalId::random()?;
        let decoy = {
            let secret = coffre_crypto::UserSecret::new(PrincipalId::random()?.to_string());
            let kdf = config.limits.kdf;
            let root = &config.root;
            coffre_crypto::wrap::seal_identity(
                &coffre_crypto::Identity::generate(),
                &secret,
                kdf,
                &Binding::principal_identity(decoy_id),
                root,
            )?
        };
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                store: config.store,
                root: std::sync::RwLock::new(Arc::new(config.root)),
                gate: tokio::sync::RwLock::new(()),
                scrubbed: std::sync::Mutex::new(None),
                uploading: std::sync::Mutex::new(std::collections::HashSet::new()),
                decoy: std::sync::RwLock::new(decoy),
                decoy_id,
                #[cfg(test)]
                decoy_runs: std::sync::atomic::AtomicU64::new(0),
                blind,
                journal,
                sessions: Sessions::new(config.limits.session_idle),
                limits: config.limits,
            }),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub fn audit_verifying_key(&self) -> AuditVerifyingKey {
        self.inner.journal.verifying_key()
    }

    /// What the operator's `coffre admin status` shows.
    pub fn status(&self) -> Result<Status> {
        let db = self.db();
        let head = match db.audit.last()? {
            Some((_, v)) => Some(serde_json::from_slice::<coffre_crypto::audit::Record>(&v)?),
            None => None,
        };
        let checkpoint = match db.checkpoints.last()? {
            Some((_, v)) => Some(serde_json::from_slice::<coffre_crypto::audit::Checkpoint>(
                &v,
            )?),
            None => None,
        };
        Ok(Status {
            structures: db.structures.len() as u64,
            caseworkers: db.caseworkers.len() as u64,
            beneficiaries: db.beneficiaries.len() as u64,
            documents: db.documents.len() as u64,
            root_key_version: self.inner.root().current_version(),
            root_key_versions: self.inner.root().versions(),
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
        self.inner.journal.checkpoint().await.map(|_| ())
    }

    /// The session behind a token, if it is live.
    pub fn session(&self, token: &str) -> Result<Arc<Session>> {
        self.inner.sessions.get(token)
    }

    pub fn logout(&self, session: &Session) {
        self.inner.sessions.remove(session);
    }

    /// Readiness: the object store answers and the database reads.
    pub async fn ready(&self) -> Result<()> {
        self.db().meta.get("schema_version")?;
        self.inner.store.check().await?;
        Ok(())
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

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) async fn journal(&self, e: NewEntry) -> Result<u64> {
        self.inner.journal.append(e).await
    }

    /// Appends a journal entry for an event outside the vault's own
    /// operations (operator maintenance, refusals decided by the API layer).
    /// Returns once it is durable.
    pub async fn record(&self, e: NewEntry) -> Result<u64> {
        self.inner.journal.append(e).await
    }

    pub(crate) fn beneficiary(&self, id: PrincipalId) -> Result<BeneficiaryRecord> {
        db::get(&self.db().beneficiaries, id.as_bytes())?.ok_or(VaultError::NotFound)
    }

    pub(crate) fn document(&self, id: DocumentId) -> Result<DocumentRecord> {
        db::get(&self.db().documents, id.as_bytes())?.ok_or(VaultError::NotFound)
    }

    pub(crate) fn grants_of(&self, beneficiary: PrincipalId) -> Result<Vec<GrantRecord>> {
        let mut out = Vec::new();
        for k in self
            .db()
            .vault_grants
            .scan_prefix(beneficiary.as_bytes())
            .keys()
        {
            let k = k?;
            if let Some(g) = db::get::<GrantRecord>(&self.db().grants, &k[16..])? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// The consent state of `structure` on `category` of a vault.
    pub(crate) fn grant_state(
        &self,
        beneficiary: PrincipalId,
        structure: PrincipalId,
        category: Category,
    ) -> Result<GrantState> {
        let now = now_ms();
        let mut state = GrantState::None;
        let mut view = false;
        let mut upload = false;
        for g in self.grants_of(beneficiary)? {
            if g.structure != structure || !g.categories.contains(&category) {
                continue;
            }
            if g.live(now) {
                view |= g.permissions.contains(&Permission::View);
                upload |= g.permissions.contains(&Permission::Upload);
            } else if g.revoked_ms.is_some() {
                if state == GrantState::None {
                    state = GrantState::Revoked;
                }
            } else if state == GrantState::None || state == GrantState::Revoked {
                state = GrantState::Expired;
            }
        }
        Ok(match (view, upload) {
            (true, true) => GrantState::ViewAndUpload,
            (true, false) => GrantState::View,
            (false, true) => GrantState::UploadOnly,
            (false, false) => state,
        })
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
        let Ok(record) = self.beneficiary(beneficiary) else {
            self.journal(
                NewEntry::new(session.principal.label(), action.code(), "denied")
                    .detail("unknown vault"),
            )
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
                // The refused attempt is shown to the person in their journal.
                let mut e = NewEntry::new(session.principal.label(), action.code(), "denied")
                    .vault(beneficiary);
                if let Some(d) = document {
                    e = e.doc(d.id);
                }
                Err(self.refuse(refusal, e).await)
            }
        }
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

    /// A beneficiary's display name (sealed under the root ring).
    pub(crate) fn display_name(&self, b: &BeneficiaryRecord) -> Result<String> {
        let bytes = self
            .inner
            .root()
            .open(&b.sealed_name, &name_binding(b.id))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| VaultError::Integrity)
    }
}

pub(crate) fn name_binding(id: PrincipalId) -> Binding {
    Binding::server_secret(&format!("display-name/{id}"))
}
