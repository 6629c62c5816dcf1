//! Document keys (DEKs): which wrap a new document gets, which key a
//! session may open, re-wraps, and share links.
//!
//! A document's DEK is wrapped either to its owner alone (private) or to
//! the current scope key of its category (shared within consent); a share
//! link adds one wrap under a key derived from the link's secret. Wraps
//! live only in the metadata, never in the stored object.

use std::collections::HashMap;

use coffre_crypto::listing::{ListedFields, ListedUnder, ListingKey};
use coffre_crypto::wrap::{self, Binding, ShareSecret};
use coffre_crypto::{Dek, Identity, Recipient};

use super::memo::Slot;
use super::{Access, recipient};
use crate::model::Category;
use crate::policy::GrantState;
use crate::records::{BeneficiaryRecord, DocumentRecord, GrantRecord, KeyWrap};
use crate::session::{Principal, Session};
use crate::{Result, VaultError};

fn binding(d: &DocumentRecord) -> Binding {
    Binding::document_key(d.id, d.version)
}

impl Access<'_> {
    /// The wrap of `dek` for a document of `b` in `category`: to the owner
    /// alone when private, else to the category's current scope key.
    pub fn wrap_new(
        &self,
        dek: &Dek,
        b: &BeneficiaryRecord,
        category: Category,
        private: bool,
        document: &Binding,
    ) -> Result<KeyWrap> {
        if private {
            Ok(KeyWrap::Owner {
                wrap: wrap::wrap_dek(dek, &recipient(&b.recipient)?, document)?,
            })
        } else {
            let scope = self
                .records()
                .read()
                .scopes()
                .current_record(b.id, category)?;
            Ok(KeyWrap::Scope {
                epoch: scope.epoch,
                wrap: wrap::wrap_dek(dek, &recipient(&scope.recipient)?, document)?,
            })
        }
    }

    /// The same document's key moved to private or shared.
    pub fn rewrap_privacy(
        &self,
        dek: &Dek,
        d: &DocumentRecord,
        b: &BeneficiaryRecord,
        private: bool,
    ) -> Result<KeyWrap> {
        self.wrap_new(dek, b, d.category, private, &binding(d))
    }

    /// The DEK of a document, through the only path this session has.
    /// The checks on the way (consent, the scope wrap stored) run every
    /// time; the unwraps go through the session's memo.
    pub fn dek(&self, session: &Session, d: &DocumentRecord) -> Result<Dek> {
        match (&session.principal, &d.key) {
            (Principal::Beneficiary { .. }, KeyWrap::Owner { wrap: w }) => {
                self.memo_dek(session, d, w, &session.identity)
            }
            (Principal::Beneficiary { .. }, KeyWrap::Scope { epoch, wrap: w }) => {
                let scope = self.own_scope(session, d.beneficiary, d.category, *epoch)?;
                self.memo_dek(session, d, w, &scope)
            }
            (Principal::Caseworker { .. }, KeyWrap::Scope { epoch, wrap: w }) => {
                let scope = self.structure_scope(session, d.beneficiary, d.category, *epoch)?;
                self.memo_dek(session, d, w, &scope)
            }
            (Principal::Caseworker { .. }, KeyWrap::Owner { .. }) => Err(VaultError::NotFound),
        }
    }

    /// `d`'s key unwrapped from `w` with `with`, once per session.
    fn memo_dek(
        &self,
        session: &Session,
        d: &DocumentRecord,
        w: &[u8],
        with: &Identity,
    ) -> Result<Dek> {
        let slot = Slot::Document(d.beneficiary, d.id, d.version);
        if let Some(dek) = session.memo().dek(slot, w) {
            return Ok(dek);
        }
        let dek = wrap::unwrap_dek(w, with, &binding(d))?;
        let mut memo = session.memo();
        // Kept only while `w` is still the stored wrap, checked under the
        // memo's lock: a purge follows the commit that changed it, so it
        // either comes after this and removes the key, or came before and
        // this reads the new bytes (`memo.rs`).
        let current = self.records().read().documents().get(d.id)?;
        if current.is_some_and(|r| r.version == d.version && wrap_bytes(&r.key) == w) {
            memo.keep_dek(slot, w, &dek);
        }
        Ok(dek)
    }

    /// Keys for reading many documents of one vault (a listing, an export):
    /// one scope unwrap per category, not one per document.
    pub fn reader<'s>(&'s self, session: &'s Session, grants: Vec<GrantRecord>) -> KeyReader<'s> {
        KeyReader {
            access: self,
            session,
            grants,
            now: self.now_ms(),
            scopes: HashMap::new(),
            listing: HashMap::new(),
        }
    }

    /// The listing seal of a new document, when this session can derive
    /// the key it is listed under: the person always; a caseworker only
    /// through a live *view* consent (an upload-only one cannot, and the
    /// next reader seals it).
    pub fn listing_seal_for_new(
        &self,
        session: &Session,
        d: &DocumentRecord,
        fields: &ListedFields,
    ) -> Result<Vec<u8>> {
        let key = match (&session.principal, &d.key) {
            (Principal::Beneficiary { .. }, KeyWrap::Owner { .. }) => {
                ListingKey::of(&session.identity)?
            }
            (Principal::Beneficiary { .. }, KeyWrap::Scope { epoch, .. }) => {
                ListingKey::of(&*self.own_scope(session, d.beneficiary, d.category, *epoch)?)?
            }
            (Principal::Caseworker { .. }, KeyWrap::Scope { epoch, .. }) => {
                match self.structure_scope(session, d.beneficiary, d.category, *epoch) {
                    Ok(scope) => ListingKey::of(&scope)?,
                    Err(_) => return Ok(Vec::new()),
                }
            }
            (Principal::Caseworker { .. }, KeyWrap::Owner { .. }) => return Ok(Vec::new()),
        };
        Ok(key.seal(d.id, d.version, listed_under(d), &d.sealed_fields(), fields)?)
    }

    /// The key of `d` re-wrapped from scope key `old` (epoch `from`) to the
    /// scope recipient of epoch `next`; `None` if it is not at `from`.
    pub fn rewrap_scope(
        d: &DocumentRecord,
        old: &Identity,
        from: u32,
        new_recipient: &Recipient,
        next: u32,
    ) -> Result<Option<KeyWrap>> {
        match &d.key {
            KeyWrap::Scope { epoch, wrap: w } if *epoch == from => {
                let dek = wrap::unwrap_dek(w, old, &binding(d))?;
                Ok(Some(KeyWrap::Scope {
                    epoch: next,
                    wrap: wrap::wrap_dek(&dek, new_recipient, &binding(d))?,
                }))
            }
            _ => Ok(None),
        }
    }

    /// The DEK wrapped under a share link's secret.
    pub fn share_wrap(secret: &ShareSecret, dek: &Dek, d: &DocumentRecord) -> Result<Vec<u8>> {
        Ok(secret.wrap_dek(dek, &binding(d))?)
    }

    pub fn share_dek(secret: &ShareSecret, wrapped: &[u8], d: &DocumentRecord) -> Result<Dek> {
        Ok(secret.unwrap_dek(wrapped, &binding(d))?)
    }
}

fn wrap_bytes(k: &KeyWrap) -> &[u8] {
    match k {
        KeyWrap::Owner { wrap } | KeyWrap::Scope { wrap, .. } => wrap,
    }
}

fn listed_under(d: &DocumentRecord) -> ListedUnder {
    match d.key {
        KeyWrap::Owner { .. } => ListedUnder::Owner,
        KeyWrap::Scope { epoch, .. } => ListedUnder::Scope(epoch),
    }
}

/// What a listing shows of one document.
pub(crate) enum Listed {
    /// This session has no path to it.
    Hidden,
    /// Opened from its listing seal.
    Fields(ListedFields),
    /// No current listing seal (never sealed, or sealed before a rotation,
    /// a privacy change or a new title): the document's own key gives it.
    ByKey,
}

/// See [`Access::reader`].
pub(crate) struct KeyReader<'s> {
    access: &'s Access<'s>,
    session: &'s Session,
    grants: Vec<GrantRecord>,
    now: i64,
    scopes: HashMap<(Category, u32), Option<std::sync::Arc<Identity>>>,
    /// Listing keys by scope epoch (`None`: the owner's own).
    listing: HashMap<Option<(Category, u32)>, Option<ListingKey>>,
}

impl KeyReader<'_> {
    /// Which key `d` is listed under for this session, `None` inside when
    /// it has no path to the document.
    fn path(&self, d: &DocumentRecord) -> Option<Option<(Category, u32)>> {
        match (&self.session.principal, &d.key) {
            (Principal::Caseworker { .. }, KeyWrap::Owner { .. }) => None,
            (Principal::Beneficiary { .. }, KeyWrap::Owner { .. }) => Some(None),
            (Principal::Caseworker { structure, .. }, KeyWrap::Scope { epoch, .. }) => {
                GrantState::of(&self.grants, *structure, d.category, self.now)
                    .can_view()
                    .then_some(Some((d.category, *epoch)))
            }
            (Principal::Beneficiary { .. }, KeyWrap::Scope { epoch, .. }) => {
                Some(Some((d.category, *epoch)))
            }
        }
    }

    /// The listing key of `under` for this session (derived once per
    /// listing), `None` when it cannot reach it.
    fn listing_key(
        &mut self,
        b: coffre_crypto::PrincipalId,
        under: Option<(Category, u32)>,
    ) -> Option<&ListingKey> {
        if !self.listing.contains_key(&under) {
            let key = match under {
                None => ListingKey::of(&self.session.identity).ok(),
                Some((c, epoch)) => match self.scope(b, c, epoch) {
                    Ok(Some(scope)) => ListingKey::of(scope).ok(),
                    _ => None,
                },
            };
            self.listing.insert(under, key);
        }
        self.listing.get(&under).and_then(Option::as_ref)
    }

    /// What a listing shows of `d`: from its listing seal when it is
    /// current, else [`Listed::ByKey`] (the caller opens the document's key
    /// and then [`KeyReader::reseal`]s it).
    pub fn listed(&mut self, d: &DocumentRecord) -> Listed {
        let Some(under) = self.path(d) else {
            return Listed::Hidden;
        };
        if d.listing_seal.is_empty() {
            return Listed::ByKey;
        }
        match self.listing_key(d.beneficiary, under) {
            Some(key) => match key.open(
                d.id,
                d.version,
                listed_under(d),
                &d.sealed_fields(),
                &d.listing_seal,
            ) {
                Ok(fields) => Listed::Fields(fields),
                Err(_) => Listed::ByKey,
            },
            // A key this session cannot reach (a scope epoch retired
            // meanwhile, a wrap missing): the document key path decides.
            None => Listed::ByKey,
        }
    }

    /// A listing seal for `d`, opened by its document key, when this
    /// session can derive the key it is listed under.
    pub fn reseal(&mut self, d: &DocumentRecord, fields: &ListedFields) -> Option<Vec<u8>> {
        let under = self.path(d)?;
        let key = self.listing_key(d.beneficiary, under)?;
        key.seal(d.id, d.version, listed_under(d), &d.sealed_fields(), fields)
            .ok()
    }

    /// The scope identity of (b, c, epoch) this session reaches, opened
    /// once per listing; `None` when a caseworker's structure holds none.
    fn scope(
        &mut self,
        b: coffre_crypto::PrincipalId,
        c: Category,
        epoch: u32,
    ) -> Result<Option<&Identity>> {
        let scope = match self.scopes.entry((c, epoch)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let found = match self.session.principal {
                    Principal::Caseworker { .. } => {
                        self.access.structure_scope(self.session, b, c, epoch).ok()
                    }
                    Principal::Beneficiary { .. } => {
                        Some(self.access.own_scope(self.session, b, c, epoch)?)
                    }
                };
                v.insert(found)
            }
        };
        Ok(scope.as_deref())
    }

    /// The key of `d` if this session may read it, `None` if it has no
    /// path to it (a private paper for a structure, a category without
    /// live consent).
    pub fn dek(&mut self, d: &DocumentRecord) -> Result<Option<Dek>> {
        // The same decision as a listing seal's (`path`): one place says
        // which key a session may reach.
        let (epoch, w) = match (self.path(d), &d.key) {
            // Not through the session's memo: a listing of a thousand
            // papers would only push out the keys a download will want.
            (Some(None), KeyWrap::Owner { wrap: w }) => {
                return Ok(Some(wrap::unwrap_dek(
                    w,
                    &self.session.identity,
                    &binding(d),
                )?));
            }
            (Some(Some((_, epoch))), KeyWrap::Scope { wrap: w, .. }) => (epoch, w),
            // No path (`path` names the owner only for an owner wrap, a
            // scope only for a scope wrap).
            _ => return Ok(None),
        };
        match self.scope(d.beneficiary, d.category, epoch)? {
            Some(s) => Ok(Some(wrap::unwrap_dek(w, s, &binding(d))?)),
            None => Ok(None),
        }
    }
}
