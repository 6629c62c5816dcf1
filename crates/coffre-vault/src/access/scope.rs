//! Scope keys: one age identity per (beneficiary, category, epoch), wrapped
//! to the beneficiary and to every structure holding a live *view* grant on
//! that category. Giving consent is wrapping a scope key to a structure,
//! which needs the person's unlocked identity; revoking is deleting those
//! wraps and moving to a new epoch, so a key kept from before opens nothing
//! uploaded after.

use coffre_crypto::wrap::{self, Binding};
use coffre_crypto::{Identity, PrincipalId, Recipient};

use super::{Access, recipient};
use crate::model::Category;
use crate::policy::GrantState;
use crate::records::{DocumentRecord, ScopeRecord};
use crate::session::{Principal, Session};
use crate::{Result, VaultError};

fn binding(b: PrincipalId, c: Category, epoch: u32) -> Binding {
    Binding::scope_identity(b, c.as_str(), epoch)
}

/// A scope moved to its next epoch: what the records layer writes in one
/// transaction.
pub(crate) struct Rotation {
    pub category: Category,
    /// The epoch being retired.
    pub from: u32,
    pub record: ScopeRecord,
    /// The new key wrapped to each structure that keeps consent.
    pub wraps: Vec<(PrincipalId, Vec<u8>)>,
    /// The category's shared documents, their key re-wrapped to the new epoch.
    pub documents: Vec<DocumentRecord>,
}

impl Access<'_> {
    /// The nine scopes of a new vault, at epoch 1, wrapped to the owner only.
    pub fn new_scopes(b: PrincipalId, owner: &Recipient) -> Result<Vec<(Category, ScopeRecord)>> {
        Category::ALL
            .into_iter()
            .map(|c| {
                let scope = Identity::generate();
                Ok((
                    c,
                    ScopeRecord {
                        epoch: 1,
                        recipient: scope.recipient().to_string(),
                        owner_wrap: wrap::wrap_identity(&scope, owner, &binding(b, c, 1))?,
                    },
                ))
            })
            .collect()
    }

    /// The owner's current scope identity of a category, and its epoch.
    pub fn owner_scope(
        &self,
        owner: &Identity,
        b: PrincipalId,
        c: Category,
    ) -> Result<(Identity, u32)> {
        let rec = self.records().read().scopes().get(b, c)?;
        Ok((Self::open_owner_scope(owner, b, c, &rec)?, rec.epoch))
    }

    fn open_owner_scope(
        owner: &Identity,
        b: PrincipalId,
        c: Category,
        rec: &ScopeRecord,
    ) -> Result<Identity> {
        Ok(wrap::unwrap_identity(
            &rec.owner_wrap,
            owner,
            &binding(b, c, rec.epoch),
        )?)
    }

    /// The scope identity (b, c) at `epoch` that the session's structure
    /// holds, and only while its view consent is live: the only way a
    /// structure reaches a shared document's key.
    pub fn structure_scope(
        &self,
        session: &Session,
        b: PrincipalId,
        c: Category,
        epoch: u32,
    ) -> Result<Identity> {
        let (Principal::Caseworker { structure, .. }, Some(sid)) =
            (session.principal, &session.structure_identity)
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
        Ok(wrap::unwrap_identity(&w, sid, &binding(b, c, epoch))?)
    }

    /// The act of consent: the scope keys of `scopes` (the current record
    /// of each category), opened with the owner's identity, wrapped to the
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

    /// A new epoch for (b, c): a new scope key wrapped to the owner and to
    /// `holders` (the structures that keep view consent), and every shared
    /// document of the category among `documents` re-wrapped to it.
    pub fn rotation(
        &self,
        owner: &Identity,
        b: PrincipalId,
        c: Category,
        holders: &[(PrincipalId, String)],
        documents: &[DocumentRecord],
    ) -> Result<Rotation> {
        let (old, from) = self.owner_scope(owner, b, c)?;
        let next = from + 1;
        let new = Identity::generate();
        let new_recipient = new.recipient();
        let sb = binding(b, c, next);
        let record = ScopeRecord {
            epoch: next,
            recipient: new_recipient.to_string(),
            owner_wrap: wrap::wrap_identity(&new, &owner.recipient(), &sb)?,
        };
        let wraps = holders
            .iter()
            .map(|(s, r)| Ok((*s, wrap::wrap_identity(&new, &recipient(r)?, &sb)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut rewrapped = Vec::new();
        for d in documents.iter().filter(|d| d.category == c) {
            if let Some(key) = Self::rewrap_scope(d, &old, from, &new_recipient, next)? {
                rewrapped.push(DocumentRecord { key, ..d.clone() });
            }
        }
        Ok(Rotation {
            category: c,
            from,
            record,
            wraps,
            documents: rewrapped,
        })
    }
}
