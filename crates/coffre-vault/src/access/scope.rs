//! Scope keys: one age identity per (beneficiary, category, epoch), wrapped
//! to the beneficiary and to every structure holding a live *view* grant on
//! that category. Giving consent is wrapping a scope key to a structure,
//! which needs the person's unlocked identity; revoking is deleting those
//! wraps and moving to a new epoch, so a key kept from before opens nothing
//! uploaded after.
//!
//! New papers are wrapped to the current epoch. Older epochs live on while
//! papers are wrapped to them: when consent ends by expiry, the sweeper (who
//! holds no one's key) starts a new epoch for what comes next, and the
//! person's next act of consent folds the older epochs into the current one.

use std::sync::Arc;

use coffre_crypto::wrap::{self, Binding};
use coffre_crypto::{Identity, PrincipalId, Recipient};

use super::memo::Slot;
use super::{Access, recipient};
use crate::model::Category;
use crate::policy::GrantState;
use crate::records::{DocumentRecord, KeyWrap, ScopeRecord};
use crate::session::{Principal, Session};
use crate::{Result, VaultError};

fn binding(b: PrincipalId, c: Category, epoch: u32) -> Binding {
    Binding::scope_identity(b, c.as_str(), epoch)
}

/// A scope moved to a new epoch: what the records layer writes in one
/// transaction.
pub(crate) struct Rotation {
    pub category: Category,
    /// The epoch that was current.
    pub from: u32,
    pub record: ScopeRecord,
    /// The new key wrapped to each structure that keeps consent.
    pub wraps: Vec<(PrincipalId, Vec<u8>)>,
    /// The category's shared documents re-wrapped to the new epoch (all of
    /// them when the owner's key was at hand, none for the sweeper).
    pub documents: Vec<DocumentRecord>,
    /// The epochs no document is wrapped to any more, to remove with their
    /// wraps.
    pub retired: Vec<u32>,
}

impl Access<'_> {
    /// The nine scopes of a new vault, at epoch 1, wrapped to the owner only.
    pub fn new_scopes(b: PrincipalId, owner: &Recipient) -> Result<Vec<(Category, ScopeRecord)>> {
        Category::ALL
            .into_iter()
            .map(|c| Ok((c, Self::new_epoch(b, c, 1, owner)?.0)))
            .collect()
    }

    fn new_epoch(
        b: PrincipalId,
        c: Category,
        epoch: u32,
        owner: &Recipient,
    ) -> Result<(ScopeRecord, Identity)> {
        let scope = Identity::generate();
        Ok((
            ScopeRecord {
                epoch,
                recipient: scope.recipient().to_string(),
                owner_wrap: wrap::wrap_identity(&scope, owner, &binding(b, c, epoch))?,
            },
            scope,
        ))
    }

    /// Opens an epoch's scope key with the owner's identity, and checks it
    /// is the key the record names (a public key swapped in the record by
    /// someone without the root key is refused, not wrapped to).
    pub fn open_owner_scope(
        owner: &Identity,
        b: PrincipalId,
        c: Category,
        rec: &ScopeRecord,
    ) -> Result<Identity> {
        let scope = wrap::unwrap_identity(&rec.owner_wrap, owner, &binding(b, c, rec.epoch))?;
        if scope.recipient().to_string() != rec.recipient {
            return Err(VaultError::Tampered("scopes"));
        }
        Ok(scope)
    }

    /// The person's own scope identity of (b, c) at `epoch`, through the
    /// session's memo: the scope record is read every time, its wrap
    /// unwrapped once.
    pub fn own_scope(
        &self,
        session: &Session,
        b: PrincipalId,
        c: Category,
        epoch: u32,
    ) -> Result<Arc<Identity>> {
        let rec = self
            .records()
            .read()
            .scopes()
            .get(b, c, epoch)?
            .ok_or(VaultError::Integrity)?;
        let slot = Slot::Scope(b, c, epoch);
        if let Some(scope) = session.memo().scope(slot, &rec.owner_wrap) {
            return Ok(scope);
        }
        let scope = Arc::new(Self::open_owner_scope(&session.identity, b, c, &rec)?);
        // Kept only while still stored, checked under the memo's lock (see
        // `Access::memo_dek`).
        let mut memo = session.memo();
        let current = self.records().read().scopes().get(b, c, epoch)?;
        if current.is_some_and(|r| r.owner_wrap == rec.owner_wrap) {
            memo.keep_scope(slot, &rec.owner_wrap, scope.clone());
        }
        Ok(scope)
    }

    /// The scope identity (b, c) at `epoch` that the session's structure
    /// holds, and only while its view consent is live: the only way a
    /// structure reaches a shared document's key. The consent and the
    /// wrap are read on every call; only the unwrap is memoized.
    pub fn structure_scope(
        &self,
        session: &Session,
        b: PrincipalId,
        c: Category,
        epoch: u32,
    ) -> Result<Arc<Identity>> {
        let (Principal::Caseworker { structure, .. }, Some(sid)) =
            (session.principal, session.structure_key())
        else {
            return Err(VaultError::Forbidden("caseworkers only"));
        };
        let read = self.records().read();
        // Expired but not yet swept: the wrap still exists, the consent not.
        let grants = read.grants().of_vault(b)?;
        if !GrantState::of(&grants, structure, c, self.now_ms()).can_view() {
            return Err(VaultError::Forbidden(
                "no live consent to view this category",
            ));
        }
        let w = read
            .scopes()
            .wrap(b, c, epoch, structure)?
            .ok_or(VaultError::Forbidden("no consent key for this category"))?;
        let slot = Slot::Scope(b, c, epoch);
        if let Some(scope) = session.memo().scope(slot, &w) {
            return Ok(scope);
        }
        let scope = Arc::new(wrap::unwrap_identity(&w, &sid, &binding(b, c, epoch))?);
        // Kept only while the structure still holds this wrap, checked
        // under the memo's lock (see `Access::memo_dek`): a revocation cuts
        // it before its purge.
        let mut memo = session.memo();
        if self
            .records()
            .read()
            .scopes()
            .wrap(b, c, epoch, structure)?
            .as_deref()
            == Some(&w[..])
        {
            memo.keep_scope(slot, &w, scope.clone());
        }
        Ok(scope)
    }

    /// The act of consent: every epoch in `scopes` of the categories
    /// consented to, opened with the owner's identity, wrapped to the
    /// structure. Returns (category, epoch, wrap) for each.
    pub fn consent_wraps(
        owner: &Identity,
        b: PrincipalId,
        scopes: &[(Category, ScopeRecord)],
        structure: &Recipient,
    ) -> Result<Vec<(Category, u32, Vec<u8>)>> {
        scopes
            .iter()
            .map(|(c, rec)| {
                let scope = Self::open_owner_scope(owner, b, *c, rec)?;
                let w = wrap::wrap_identity(&scope, structure, &binding(b, *c, rec.epoch))?;
                Ok((*c, rec.epoch, w))
            })
            .collect()
    }

    /// A new epoch for (b, c) with the owner's key at hand: a new scope key
    /// wrapped to the owner and to `holders` (the structures that keep view
    /// consent), every shared document of the category re-wrapped to it,
    /// and every older epoch retired.
    pub fn rotation(
        &self,
        owner: &Identity,
        b: PrincipalId,
        c: Category,
        holders: &[(PrincipalId, String)],
        documents: &[DocumentRecord],
    ) -> Result<Rotation> {
        let read = self.records().read();
        let from = read.scopes().current(b, c)?;
        let epochs = read.scopes().epochs(b, c)?;
        let next = epochs.iter().map(|e| e.epoch).max().unwrap_or(from) + 1;
        let (record, new) = Self::new_epoch(b, c, next, &owner.recipient())?;
        let wraps = self.holder_wraps(&new, b, c, next, holders)?;
        let new_recipient = new.recipient();
        let mut rewrapped = Vec::new();
        for rec in &epochs {
            let old = Self::open_owner_scope(owner, b, c, rec)?;
            for d in documents.iter().filter(|d| d.category == c) {
                if let Some(key) = Self::rewrap_scope(d, &old, rec.epoch, &new_recipient, next)? {
                    // Its listing seal was bound to the old epoch: gone
                    // with it (the next reader seals it again).
                    rewrapped.push(DocumentRecord {
                        key,
                        listing_seal: Vec::new(),
                        ..d.clone()
                    });
                }
            }
        }
        Ok(Rotation {
            category: c,
            from,
            record,
            wraps,
            documents: rewrapped,
            retired: epochs.iter().map(|e| e.epoch).collect(),
        })
    }

    /// A new epoch for (b, c) without anyone's key (the expiry sweeper):
    /// the new scope key wrapped to the owner's public key and to `holders`;
    /// papers stay under their epoch until the owner's next act of consent.
    /// `documents` tells which older epochs still hold papers.
    pub fn forward_rotation(
        &self,
        owner: &Recipient,
        b: PrincipalId,
        c: Category,
        holders: &[(PrincipalId, String)],
        documents: &[DocumentRecord],
    ) -> Result<Rotation> {
        let read = self.records().read();
        let from = read.scopes().current(b, c)?;
        let epochs = read.scopes().epochs(b, c)?;
        let next = epochs.iter().map(|e| e.epoch).max().unwrap_or(from) + 1;
        let (record, new) = Self::new_epoch(b, c, next, owner)?;
        let wraps = self.holder_wraps(&new, b, c, next, holders)?;
        let in_use = |e: u32| {
            documents.iter().any(|d| {
                d.category == c && matches!(d.key, KeyWrap::Scope { epoch, .. } if epoch == e)
            })
        };
        Ok(Rotation {
            category: c,
            from,
            record,
            wraps,
            documents: Vec::new(),
            retired: epochs
                .iter()
                .map(|e| e.epoch)
                .filter(|e| !in_use(*e))
                .collect(),
        })
    }

    fn holder_wraps(
        &self,
        scope: &Identity,
        b: PrincipalId,
        c: Category,
        epoch: u32,
        holders: &[(PrincipalId, String)],
    ) -> Result<Vec<(PrincipalId, Vec<u8>)>> {
        holders
            .iter()
            .map(|(s, r)| {
                Ok((
                    *s,
                    wrap::wrap_identity(scope, &recipient(r)?, &binding(b, c, epoch))?,
                ))
            })
            .collect()
    }

    /// A scope wrap a structure holds, re-wrapped from its old key to its
    /// new one (the structure's key rotation).
    pub fn rewrap_scope_for_structure(
        wrapped: &[u8],
        old: &Identity,
        new: &Recipient,
        b: PrincipalId,
        c: Category,
        epoch: u32,
    ) -> Result<Vec<u8>> {
        let scope = wrap::unwrap_identity(wrapped, old, &binding(b, c, epoch))?;
        Ok(wrap::wrap_identity(&scope, new, &binding(b, c, epoch))?)
    }
}
