//! Sessions: the unlocked keys of a logged-in principal, in memory only,
//! zeroized when the session ends, expired after an idle period and, however
//! active, after an absolute lifetime.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use coffre_crypto::{Identity, PrincipalId};
use ring::digest::{SHA256, digest};
use std::sync::Arc;

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
    idle: Duration,
    /// However active, a session ends this long after it began.
    lifetime: Duration,
}

/// Most sessions held at once; the oldest idle ones go first past it.
const MAX_SESSIONS: usize = 100_000;

impl Sessions {
    pub fn new(idle: Duration, lifetime: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            idle,
            lifetime,
        }
    }

    fn live(&self, s: &Session) -> bool {
        s.idle_for() < self.idle && s.started.elapsed() < self.lifetime
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Session>>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a session under a token (only its hash is kept).
    pub fn insert(
        &self,
        token: &str,
        principal: Principal,
        identity: Identity,
        structure_identity: Option<Identity>,
    ) -> Arc<Session> {
        let key = token_key(token);
        let now = Instant::now();
        let s = Arc::new(Session {
            principal,
            identity,
            structure_identity: RwLock::new(structure_identity.map(Arc::new)),
            started: now,
            last_used: Mutex::new(now),
            key,
        });
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
    }

    /// Ends every session of a principal (deactivation, erasure).
    pub fn remove_principal(&self, id: PrincipalId) {
        self.lock().retain(|_, s| s.principal.id() != id);
    }

    /// Ends every session of this session's principal but this one.
    pub fn remove_others(&self, session: &Session) {
        let id = session.principal.id();
        self.lock()
            .retain(|k, s| s.principal.id() != id || *k == session.key);
    }

    pub fn sweep(&self) {
        self.lock().retain(|_, s| self.live(s));
    }

    /// Gives every session of a structure's caseworkers its new key.
    pub fn rekey_structure(&self, structure: PrincipalId, key: &Arc<Identity>) {
        for s in self.lock().values() {
            if s.principal.structure() == Some(structure) {
                *s.structure_identity
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key.clone());
            }
        }
    }
}

impl Session {
    /// The structure's key, for a caseworker's session.
    pub(crate) fn structure_key(&self) -> Option<Arc<Identity>> {
        self.structure_identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .elapsed()
    }
}
