//! Sessions: the unlocked keys of a logged-in principal, in memory only,
//! zeroized when the session ends, expired after an idle period and, however
//! active, after an absolute lifetime.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use coffre_crypto::{Identity, PrincipalId};
use ring::digest::{SHA256, digest};
use std::sync::Arc;

use crate::access::memo::KeyMemo;
use crate::journal::Who;
use crate::policy::Actor;
use crate::{Result, VaultError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    Beneficiary {
        id: PrincipalId,
    },
    Caseworker {
        id: PrincipalId,
        structure: PrincipalId,
        admin: bool,
    },
}

impl Principal {
    pub fn actor(&self) -> Actor {
        match *self {
            Principal::Beneficiary { id } => Actor::Beneficiary(id),
            Principal::Caseworker {
                id,
                structure,
                admin,
            } => Actor::Caseworker {
                id,
                structure,
                admin,
            },
        }
    }

    /// How the journal names this principal.
    pub fn who(&self) -> Who {
        match *self {
            Principal::Beneficiary { id } => Who::Beneficiary(id),
            Principal::Caseworker { id, .. } => Who::Caseworker(id),
        }
    }

    /// The principal's own id.
    pub fn id(&self) -> PrincipalId {
        match *self {
            Principal::Beneficiary { id } | Principal::Caseworker { id, .. } => id,
        }
    }

    /// The caller's structure, for a caseworker.
    pub fn structure(&self) -> Option<PrincipalId> {
        match *self {
            Principal::Caseworker { structure, .. } => Some(structure),
            Principal::Beneficiary { .. } => None,
        }
    }
}

/// A logged-in principal. Holds its unlocked identity (and, for a
/// caseworker, the structure's) until dropped.
pub struct Session {
    pub principal: Principal,
    pub(crate) identity: Identity,
    /// A caseworker's structure key; replaced when the structure's key is
    /// rotated (a colleague left) so open sessions keep working.
    structure_identity: RwLock<Option<Arc<Identity>>>,
    started: Instant,
    last_used: Mutex<Instant>,
    /// A shorter idle limit than the vault's, in milliseconds (0: the
    /// vault's): a person on a shared computer is logged out sooner.
    idle_limit_ms: std::sync::atomic::AtomicU64,
    /// Failed attempts before this login, until a page has told them.
    failures_to_tell: std::sync::atomic::AtomicU32,
    /// The login before this one (milliseconds; 0: none known).
    previous_login_ms: std::sync::atomic::AtomicI64,
    /// The keys this session unwrapped (`access::memo`).
    memo: Mutex<KeyMemo>,
    key: [u8; 32],
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

fn token_key(token: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    k
}

pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Arc<Session>>>,
    /// Caseworkers' sessions that can only set up a second factor: kept
    /// apart, so no lookup of an ordinary session ever finds one.
    awaiting: Mutex<HashMap<[u8; 32], Arc<Session>>>,
    idle: Duration,
    /// However active, a session ends this long after it began.
    lifetime: Duration,
}

/// Most sessions held at once; the oldest idle ones go first past it.
const MAX_SESSIONS: usize = 100_000;
/// Most sessions awaiting a second factor held at once.
const MAX_AWAITING: usize = 10_000;
/// How long a session awaiting a second factor stays idle.
const AWAITING_IDLE: Duration = Duration::from_secs(10 * 60);

impl Sessions {
    pub fn new(idle: Duration, lifetime: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            awaiting: Mutex::new(HashMap::new()),
            idle,
            lifetime,
        }
    }

    fn live(&self, s: &Session) -> bool {
        s.idle_for() < self.idle_of(s) && s.started.elapsed() < self.lifetime
    }

    /// The idle limit of this session: the vault's, or its own shorter one.
    fn idle_of(&self, s: &Session) -> Duration {
        match s.idle_limit_ms.load(std::sync::atomic::Ordering::Relaxed) {
            0 => self.idle,
            ms => self.idle.min(Duration::from_millis(ms)),
        }
    }

    /// How long this session stays open without another request (zero
    /// once it has ended).
    pub fn time_left(&self, s: &Session) -> Duration {
        if !self.contains(s) {
            return Duration::ZERO;
        }
        let idle = self.idle_of(s).saturating_sub(s.idle_for());
        let life = self.lifetime.saturating_sub(s.started.elapsed());
        idle.min(life)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Session>>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_awaiting(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Session>>> {
        self.awaiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a session that can only set up a second factor.
    pub fn insert_awaiting(
        &self,
        token: &str,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
    ) -> Arc<Session> {
        let s = Self::build(token, principal, identity, structure_identity);
        // Ten minutes to scan a code and type one.
        s.shorten_idle(AWAITING_IDLE);
        let mut map = self.lock_awaiting();
        if map.len() >= MAX_AWAITING {
            map.retain(|_, s| self.live(s));
        }
        map.insert(s.key, s.clone());
        s
    }

    /// A session awaiting its second factor, by token.
    pub fn get_awaiting(&self, token: &str) -> Result<Arc<Session>> {
        let key = token_key(token);
        let mut map = self.lock_awaiting();
        let s = map.get(&key).cloned().ok_or(VaultError::Unauthenticated)?;
        if !self.live(&s) {
            map.remove(&key);
            return Err(VaultError::Unauthenticated);
        }
        Ok(s)
    }

    /// Whether this session is awaiting its second factor still.
    pub fn awaiting(&self, session: &Session) -> bool {
        self.lock_awaiting()
            .get(&session.key)
            .is_some_and(|s| self.live(s))
    }

    /// A session whose second factor is now set up becomes an ordinary one.
    pub fn promote(&self, session: &Session) {
        let Some(s) = self.lock_awaiting().remove(&session.key) else {
            return;
        };
        s.idle_limit_ms
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| self.live(s));
        }
        map.insert(s.key, s);
    }

    fn build(
        token: &str,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
    ) -> Arc<Session> {
        let key = token_key(token);
        let now = Instant::now();
        Arc::new(Session {
            principal,
            identity,
            structure_identity: RwLock::new(structure_identity.map(Arc::new)),
            started: now,
            last_used: Mutex::new(now),
            idle_limit_ms: std::sync::atomic::AtomicU64::new(0),
            failures_to_tell: std::sync::atomic::AtomicU32::new(0),
            previous_login_ms: std::sync::atomic::AtomicI64::new(0),
            memo: Mutex::new(KeyMemo::default()),
            key,
        })
    }

    /// Registers a session under a token (only its hash is kept).
    pub fn insert(
        &self,
        token: &str,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
    ) -> Arc<Session> {
        let s = Self::build(token, principal, identity, structure_identity);
        let key = s.key;
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| self.live(s));
        }
        map.insert(key, s.clone());
        s
    }

    pub fn get(&self, token: &str) -> Result<Arc<Session>> {
        let key = token_key(token);
        let mut map = self.lock();
        let s = map.get(&key).cloned().ok_or(VaultError::Unauthenticated)?;
        if !self.live(&s) {
            map.remove(&key);
            return Err(VaultError::Unauthenticated);
        }
        *s.last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        Ok(s)
    }

    /// Whether this session is still open (not ended, expired or removed).
    pub fn contains(&self, session: &Session) -> bool {
        self.lock().get(&session.key).is_some_and(|s| self.live(s))
    }

    pub fn remove(&self, session: &Session) {
        self.lock().remove(&session.key);
        self.lock_awaiting().remove(&session.key);
    }

    /// Ends every session of a principal (deactivation, erasure).
    pub fn remove_principal(&self, id: PrincipalId) {
        self.lock().retain(|_, s| s.principal.id() != id);
        self.lock_awaiting().retain(|_, s| s.principal.id() != id);
    }

    /// Ends every session of this session's principal but this one.
    pub fn remove_others(&self, session: &Session) {
        let id = session.principal.id();
        self.lock()
            .retain(|k, s| s.principal.id() != id || *k == session.key);
    }

    pub fn sweep(&self) {
        self.lock().retain(|_, s| self.live(s));
        self.lock_awaiting().retain(|_, s| self.live(s));
    }

    /// Drops the keys every session memoized for vault `b` (a deletion,
    /// a privacy change, consent ended or rotated).
    pub fn forget_keys(&self, b: PrincipalId) {
        self.lock().values().for_each(|s| s.memo().forget_vault(b));
    }

    /// Gives every session of a structure's caseworkers its new key (and
    /// drops what they unwrapped with the old one).
    pub fn rekey_structure(&self, structure: PrincipalId, key: &Arc<Identity>) {
        let rekey = |s: &Arc<Session>| {
            if s.principal.structure() == Some(structure) {
                *s.structure_identity
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key.clone());
                s.memo().forget_all();
            }
        };
        self.lock().values().for_each(rekey);
        // Those setting up a second factor become sessions with this key.
        self.lock_awaiting().values().for_each(rekey);
    }
}

impl Session {
    /// The keys this session unwrapped. Held for a lookup or an insertion
    /// only, never across an unwrap.
    pub(crate) fn memo(&self) -> std::sync::MutexGuard<'_, KeyMemo> {
        self.memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The structure's key, for a caseworker's session.
    pub(crate) fn structure_key(&self) -> Option<Arc<Identity>> {
        self.structure_identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Ends this session after `idle` without a request, if that is
    /// sooner than the vault's idle limit (never later).
    pub fn shorten_idle(&self, idle: Duration) {
        let ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(1);
        self.idle_limit_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Keeps the number of failed attempts before this login until a page
    /// tells the person ([`Session::take_failures_to_tell`]).
    pub fn tell_failures(&self, n: u32) {
        self.failures_to_tell
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The failed attempts not told yet (once).
    pub fn take_failures_to_tell(&self) -> u32 {
        self.failures_to_tell
            .swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// Keeps when the account last logged in before this session.
    pub fn set_previous_login(&self, ms: Option<i64>) {
        self.previous_login_ms
            .store(ms.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    }

    /// When the account last logged in before this session.
    pub fn previous_login(&self) -> Option<i64> {
        match self
            .previous_login_ms
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => None,
            ms => Some(ms),
        }
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .elapsed()
    }
}
