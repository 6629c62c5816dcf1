//! A session's memo of the keys it has unwrapped.
//!
//! Unwrapping a key is one X25519 operation through age (about 70 µs on
//! the machines we measured): a download did two (the scope key, then the
//! document key), for every request. The memo remembers, for one session
//! only, what unwrapping *these exact wrap bytes* for *this slot* gave.
//! A hit returns exactly what the unwrap would have returned, so it grants
//! nothing the records do not: every check made before an unwrap (the
//! live consent, the wrap still stored) still runs on every call, and a
//! re-wrap (privacy change, rotation, a structure's new key) stores new
//! bytes that no entry matches.
//!
//! Stale entries are not left to age out: the vault purges a vault's
//! entries from every session when a document is deleted, made private or
//! shared, when consent is given again or ends (revocation, expiry sweep,
//! a structure leaving), when the vault is erased, and a structure's
//! entries when its key is rotated ([`crate::Vault`]'s `forget_keys`), so
//! no key stays in memory past its use. A read in flight meanwhile does
//! not put back what it unwrapped from the old bytes: it keeps a key only
//! after reading, under the memo's lock, that its wrap is still the
//! stored one; the purge comes after the commit, so it either follows that
//! insertion and removes it, or preceded it and the read sees the new
//! bytes. Bounded (oldest first out); the keys zeroize when dropped, with
//! the session at the latest. Never shared between sessions.

use std::collections::VecDeque;
use std::sync::Arc;

use coffre_crypto::{Dek, DocumentId, Identity, PrincipalId};

use crate::model::Category;

/// Most scope keys one session keeps (nine categories, a few epochs, a
/// caseworker's several people).
const MAX_SCOPES: usize = 32;
/// Most document keys one session keeps.
const MAX_DEKS: usize = 64;

/// What a wrap was unwrapped for: the binding of the unwrap, and the
/// vault it belongs to (what purges go by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A scope key (person, category, epoch).
    Scope(PrincipalId, Category, u32),
    /// A document key (person, document, version).
    Document(PrincipalId, DocumentId, u32),
}

impl Slot {
    fn vault(&self) -> PrincipalId {
        match *self {
            Slot::Scope(b, ..) | Slot::Document(b, ..) => b,
        }
    }
}

struct Entry<K> {
    slot: Slot,
    wrap: Vec<u8>,
    key: K,
}

/// The memo itself, one per session (behind the session's mutex; no
/// unwrap ever runs under that lock).
#[derive(Default)]
pub(crate) struct KeyMemo {
    scopes: VecDeque<Entry<Arc<Identity>>>,
    deks: VecDeque<Entry<Dek>>,
}

/// Finds `slot`: its key if it was unwrapped from these bytes (moved to
/// the front), nothing otherwise (an entry for other bytes is stale and
/// goes at once).
fn find<'a, K>(list: &'a mut VecDeque<Entry<K>>, slot: Slot, wrap: &[u8]) -> Option<&'a K> {
    let i = list.iter().position(|e| e.slot == slot)?;
    let entry = list.remove(i)?;
    if entry.wrap != wrap {
        return None;
    }
    list.push_front(entry);
    list.front().map(|e| &e.key)
}

fn keep<K>(list: &mut VecDeque<Entry<K>>, max: usize, slot: Slot, wrap: &[u8], key: K) {
    list.retain(|e| e.slot != slot);
    list.push_front(Entry {
        slot,
        wrap: wrap.to_vec(),
        key,
    });
    list.truncate(max);
}

impl KeyMemo {
    /// The scope key unwrapped from `wrap` for `slot`, if memoized.
    pub fn scope(&mut self, slot: Slot, wrap: &[u8]) -> Option<Arc<Identity>> {
        find(&mut self.scopes, slot, wrap).cloned()
    }

    pub fn keep_scope(&mut self, slot: Slot, wrap: &[u8], key: Arc<Identity>) {
        keep(&mut self.scopes, MAX_SCOPES, slot, wrap, key);
    }

    /// A copy of the document key unwrapped from `wrap` for `slot`, if
    /// memoized.
    pub fn dek(&mut self, slot: Slot, wrap: &[u8]) -> Option<Dek> {
        find(&mut self.deks, slot, wrap).map(Dek::duplicate)
    }

    pub fn keep_dek(&mut self, slot: Slot, wrap: &[u8], key: &Dek) {
        keep(&mut self.deks, MAX_DEKS, slot, wrap, key.duplicate());
    }

    /// Drops every key of vault `b`.
    pub fn forget_vault(&mut self, b: PrincipalId) {
        self.scopes.retain(|e| e.slot.vault() != b);
        self.deks.retain(|e| e.slot.vault() != b);
    }

    /// Drops every key.
    pub fn forget_all(&mut self) {
        self.scopes.clear();
        self.deks.clear();
    }

    /// What is held: each slot with the wrap it was unwrapped from (for
    /// the access model, which checks no entry outlives its consent).
    #[cfg(test)]
    pub fn held(&self) -> Vec<(Slot, Vec<u8>)> {
        self.scopes
            .iter()
            .map(|e| (e.slot, e.wrap.clone()))
            .chain(self.deks.iter().map(|e| (e.slot, e.wrap.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use coffre_crypto::object::{self, Field, ObjectHeader};

    use super::*;

    fn id(n: u8) -> PrincipalId {
        PrincipalId::from_bytes([n; 16])
    }

    fn doc(n: u8) -> DocumentId {
        DocumentId::from_bytes([n; 16])
    }

    #[test]
    fn a_hit_needs_the_same_slot_and_the_same_bytes() {
        let mut m = KeyMemo::default();
        let dek = Dek::generate().unwrap();
        let slot = Slot::Document(id(1), doc(1), 1);
        m.keep_dek(slot, b"wrap-a", &dek);
        // The copy handed out is the same key: it opens what the first sealed.
        let h = ObjectHeader::new(doc(1), 1);
        let sealed = object::seal_field(&dek, &h, Field::Title, "Carte vitale").unwrap();
        let copy = m.dek(slot, b"wrap-a").unwrap();
        let opened = object::open_field(&copy, &h, Field::Title, &sealed).unwrap();
        assert_eq!(opened.as_str(), "Carte vitale");
        // Another version, another document, another vault: no hit.
        assert!(m.dek(Slot::Document(id(1), doc(1), 2), b"wrap-a").is_none());
        assert!(m.dek(Slot::Document(id(1), doc(2), 1), b"wrap-a").is_none());
        assert!(m.dek(Slot::Document(id(2), doc(1), 1), b"wrap-a").is_none());
        // Other bytes (a re-wrap): no hit, and the stale entry is gone.
        assert!(m.dek(slot, b"wrap-b").is_none());
        assert!(m.dek(slot, b"wrap-a").is_none());
        assert!(m.held().is_empty());
    }

    #[test]
    fn bounded_oldest_out_and_purged_by_vault() {
        let mut m = KeyMemo::default();
        let dek = Dek::generate().unwrap();
        for n in 0..(MAX_DEKS as u8 + 10) {
            m.keep_dek(Slot::Document(id(n % 2), doc(n), 1), &[n], &dek);
        }
        assert_eq!(m.held().len(), MAX_DEKS);
        // The first ten went first.
        assert!(m.dek(Slot::Document(id(0), doc(0), 1), &[0]).is_none());
        assert!(m.dek(Slot::Document(id(1), doc(11), 1), &[11]).is_some());
        let scope = Arc::new(Identity::generate());
        for n in 0..(MAX_SCOPES as u32 + 3) {
            m.keep_scope(
                Slot::Scope(id(1), Category::Identity, n),
                b"w",
                scope.clone(),
            );
        }
        assert_eq!(m.held().len(), MAX_DEKS + MAX_SCOPES);
        m.forget_vault(id(1));
        assert!(m.held().iter().all(|(s, _)| s.vault() == id(0)));
        assert_eq!(m.held().len(), MAX_DEKS / 2);
        m.forget_all();
        assert!(m.held().is_empty());
    }
}
