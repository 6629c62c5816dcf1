//! Consent: grants are made by wrapping scope keys, which needs the
//! beneficiary's unlocked identity; revocation deletes wraps and rotates the
//! scope key; expiry is checked on every access and swept.

use coffre_crypto::wrap::{self, Binding};
use coffre_crypto::{GrantId, Identity, PrincipalId, Recipient};

use crate::db::{self, key};
use crate::journal::NewEntry;
use crate::model::{
    Category, DAY_MS, DocumentRecord, GrantRecord, KeyWrap, Permission, ScopeRecord,
    StructureRecord,
};
use crate::policy::{Action, GrantState};
use crate::principals::{NewGrant, category_byte, check_grant, scope_wrap_key};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError, now_ms};

impl Vault {
    /// The beneficiary gives a structure consent on categories.
    pub async fn create_grant(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        structure: PrincipalId,
        grant: NewGrant,
    ) -> Result<GrantRecord> {
        let _writing = self.writing().await;
        self.authorize(session, Action::CreateGrant, beneficiary, None, None)
            .await?;
        let Principal::Beneficiary { .. } = session.principal else {
            return Err(VaultError::Forbidden("only the person gives consent"));
        };
        check_grant(&grant)?;
        let g = self
            .grant_with_identity(
                &session.identity,
                beneficiary,
                structure,
                grant,
                &session.principal.label(),
            )
            .await?;
        Ok(g)
    }

    pub(crate) async fn grant_with_identity(
        &self,
        owner: &Identity,
        beneficiary: PrincipalId,
        structure: PrincipalId,
        grant: NewGrant,
        actor: &str,
    ) -> Result<GrantRecord> {
        let s: StructureRecord =
            db::get(&self.db().structures, structure.as_bytes())?.ok_or(VaultError::NotFound)?;
        let s_recipient: Recipient = s.recipient.parse().map_err(|_| VaultError::Integrity)?;
        let mut categories = grant.categories.clone();
        categories.sort();
        categories.dedup();
        let mut permissions = grant.permissions.clone();
        permissions.sort_by_key(|p| *p as u8);
        permissions.dedup();
        if permissions.contains(&Permission::View) {
            // The act of consent: the scope key goes to the structure.
            for c in &categories {
                let (scope, epoch) = self.scope_identity(owner, beneficiary, *c)?;
                let sb = Binding::scope_identity(beneficiary, c.as_str(), epoch);
                self.db().scope_wraps.insert(
                    scope_wrap_key(beneficiary, *c, epoch, structure),
                    wrap::wrap_identity(&scope, &s_recipient, &sb)?,
                )?;
            }
        }
        let now = now_ms();
        let record = GrantRecord {
            id: GrantId::random()?,
            beneficiary,
            structure,
            categories,
            permissions,
            created_ms: now,
            expires_ms: now + i64::from(grant.days) * DAY_MS,
            revoked_ms: None,
            swept: false,
        };
        db::put(&self.db().grants, record.id.as_bytes(), &record)?;
        self.db()
            .vault_grants
            .insert(key(&[beneficiary.as_bytes(), record.id.as_bytes()]), &[])?;
        let mut b = self.beneficiary(beneficiary)?;
        if !b.linked.contains(&structure) {
            b.linked.push(structure);
            db::put(&self.db().beneficiaries, beneficiary.as_bytes(), &b)?;
            self.db()
                .links
                .insert(key(&[structure.as_bytes(), beneficiary.as_bytes()]), &[])?;
        }
        self.journal(
            NewEntry::new(actor.to_owned(), "grant.create", "ok")
                .vault(beneficiary)
                .detail(format!(
                    "grant:{} structure:{structure} days:{}",
                    record.id, grant.days
                )),
        )
        .await?;
        Ok(record)
    }

    /// The owner's scope identity of a category, and its epoch.
    pub(crate) fn scope_identity(
        &self,
        owner: &Identity,
        b: PrincipalId,
        c: Category,
    ) -> Result<(Identity, u32)> {
        let rec: ScopeRecord = db::get(
            &self.db().scopes,
            key(&[b.as_bytes(), c.as_str().as_bytes()]),
        )?
        .ok_or(VaultError::Integrity)?;
        let id = wrap::unwrap_identity(
            &rec.owner_wrap,
            owner,
            &Binding::scope_identity(b, c.as_str(), rec.epoch),
        )?;
        Ok((id, rec.epoch))
    }

    pub(crate) fn scope_record(&self, b: PrincipalId, c: Category) -> Result<ScopeRecord> {
        db::get(
            &self.db().scopes,
            key(&[b.as_bytes(), c.as_str().as_bytes()]),
        )?
        .ok_or(VaultError::Integrity)
    }

    /// Grants of a vault: all of them for the owner, the caller's
    /// structure's for a caseworker.
    pub async fn list_grants(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<Vec<GrantRecord>> {
        self.authorize(session, Action::ListGrants, beneficiary, None, None)
            .await?;
        let mut grants = self.grants_of(beneficiary)?;
        if let Principal::Caseworker { structure, .. } = session.principal {
            grants.retain(|g| g.structure == structure);
        }
        grants.sort_by_key(|g| g.created_ms);
        Ok(grants)
    }

    /// Revokes a grant: the structure's wraps go at once, and every viewed
    /// category gets a new scope key, so a key cached before revocation
    /// opens nothing uploaded after it.
    pub async fn revoke_grant(&self, session: &Session, grant: GrantId) -> Result<()> {
        let _writing = self.writing().await;
        let g: Option<GrantRecord> = db::get(&self.db().grants, grant.as_bytes())?;
        let Some(mut g) = g else {
            self.journal(
                NewEntry::new(session.principal.label(), "grant.revoke", "denied")
                    .detail("unknown grant"),
            )
            .await?;
            return Err(VaultError::NotFound);
        };
        self.authorize(session, Action::RevokeGrant, g.beneficiary, None, None)
            .await?;
        if g.revoked_ms.is_some() {
            return Ok(());
        }
        g.revoked_ms = Some(now_ms());
        db::put(&self.db().grants, g.id.as_bytes(), &g)?;
        let b = g.beneficiary;
        if g.permissions.contains(&Permission::View) {
            for c in g.categories.clone() {
                // Another live view grant of the same structure keeps its key.
                if matches!(
                    self.grant_state(b, g.structure, c)?,
                    GrantState::View | GrantState::ViewAndUpload
                ) {
                    continue;
                }
                self.remove_structure_wraps(b, c, g.structure)?;
                self.remove_structure_shares(b, Some(c), None, Some(g.structure))?;
                self.rotate_scope(&session.identity, b, c)?;
            }
        }
        self.journal(
            NewEntry::new(session.principal.label(), "grant.revoke", "ok")
                .vault(b)
                .detail(format!("grant:{} structure:{}", g.id, g.structure)),
        )
        .await?;
        Ok(())
    }

    fn remove_structure_wraps(
        &self,
        b: PrincipalId,
        c: Category,
        structure: PrincipalId,
    ) -> Result<()> {
        for k in self
            .db()
            .scope_wraps
            .scan_prefix(key(&[b.as_bytes(), &[category_byte(c)]]))
            .keys()
        {
            let k = k?;
            if k.ends_with(structure.as_bytes()) {
                self.db().scope_wraps.remove(k)?;
            }
        }
        Ok(())
    }

    /// New epoch for (b, c): a new scope key wrapped to the owner and to the
    /// structures that still hold a live view grant; every shared DEK of the
    /// category re-wrapped to it; the old epoch's wraps deleted.
    fn rotate_scope(&self, owner: &Identity, b: PrincipalId, c: Category) -> Result<()> {
        use sled::Transactional;
        let (old, epoch) = self.scope_identity(owner, b, c)?;
        let now = now_ms();
        let mut holders: Vec<(PrincipalId, Recipient)> = Vec::new();
        for g in self.grants_of(b)? {
            if g.live(now) && g.categories.contains(&c) && g.permissions.contains(&Permission::View)
            {
                if holders.iter().any(|(s, _)| *s == g.structure) {
                    continue;
                }
                let s: StructureRecord = db::get(&self.db().structures, g.structure.as_bytes())?
                    .ok_or(VaultError::Integrity)?;
                holders.push((
                    g.structure,
                    s.recipient.parse().map_err(|_| VaultError::Integrity)?,
                ));
            }
        }
        // Everything is computed first, then applied in one transaction: a
        // crash leaves the old epoch whole or the new one whole.
        let next = epoch + 1;
        let new = Identity::generate();
        let new_recipient = new.recipient();
        let sb = Binding::scope_identity(b, c.as_str(), next);
        let record = ScopeRecord {
            epoch: next,
            recipient: new_recipient.to_string(),
            owner_wrap: wrap::wrap_identity(&new, &owner.recipient(), &sb)?,
        };
        let mut wraps = Vec::new();
        for (s, r) in &holders {
            wraps.push((
                scope_wrap_key(b, c, next, *s),
                wrap::wrap_identity(&new, r, &sb)?,
            ));
        }
        let mut docs = Vec::new();
        // Only this category's documents: another category's scope may be
        // at the same epoch number, and its wraps are not this key's.
        for d in self.documents_of(b)? {
            if d.category == c
                && let Some(rewrapped) = rewrap(&d, &old, epoch, &new_recipient, next)?
            {
                docs.push((d.id, db::enc(&rewrapped)?));
            }
        }
        let old_wraps: Vec<sled::IVec> = self
            .db()
            .scope_wraps
            .scan_prefix(key(&[
                b.as_bytes(),
                &[category_byte(c)],
                &epoch.to_be_bytes(),
            ]))
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        let scope_key = key(&[b.as_bytes(), c.as_str().as_bytes()]);
        let record = db::enc(&record)?;
        let db = self.db();
        (&db.scopes, &db.scope_wraps, &db.documents).transaction(|(scopes, sw, documents)| {
            let abort = sled::transaction::ConflictableTransactionError::Abort;
            // Another rotation got there first.
            let current: Option<ScopeRecord> = scopes
                .get(&scope_key)?
                .and_then(|v| serde_json::from_slice(&v).ok());
            if current.map(|r| r.epoch) != Some(epoch) {
                return Err(abort(VaultError::Conflict(
                    "consent changed meanwhile; try again",
                )));
            }
            scopes.insert(scope_key.as_slice(), record.as_slice())?;
            for (k, w) in &wraps {
                sw.insert(k.as_slice(), w.as_slice())?;
            }
            for k in &old_wraps {
                sw.remove(k)?;
            }
            for (id, d) in &docs {
                documents.insert(id.as_bytes(), d.as_slice())?;
            }
            Ok(())
        })?;
        // A shared upload that committed at the old epoch while this ran:
        // re-wrap it too (uploads check the epoch when they commit, so only
        // those that committed before the switch can be left behind).
        for d in self.documents_of(b)? {
            if d.category == c
                && let Some(rewrapped) = rewrap(&d, &old, epoch, &new_recipient, next)?
            {
                db::put(&self.db().documents, d.id.as_bytes(), &rewrapped)?;
            }
        }
        Ok(())
    }

    /// Deletes the wraps of expired grants (every access checks expiry
    /// anyway; this removes the keys themselves). Returns how many grants.
    pub async fn sweep_expired_grants(&self) -> Result<usize> {
        let _writing = self.writing().await;
        let now = now_ms();
        let mut swept = 0;
        for v in self.db().grants.iter().values() {
            let g: GrantRecord = serde_json::from_slice(&v?)?;
            if g.revoked_ms.is_none() && !g.swept && g.expires_ms <= now {
                for c in &g.categories {
                    // Another live view grant of the same structure keeps its wrap.
                    let state = self.grant_state(g.beneficiary, g.structure, *c)?;
                    if !matches!(state, GrantState::View | GrantState::ViewAndUpload) {
                        self.remove_structure_wraps(g.beneficiary, *c, g.structure)?;
                        self.remove_structure_shares(
                            g.beneficiary,
                            Some(*c),
                            None,
                            Some(g.structure),
                        )?;
                    }
                }
                let mut g = g;
                g.swept = true;
                db::put(&self.db().grants, g.id.as_bytes(), &g)?;
                self.journal(
                    NewEntry::new("system", "grant.expire", "ok")
                        .vault(g.beneficiary)
                        .detail(format!("grant:{}", g.id)),
                )
                .await?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// The scope identity a caseworker's structure holds for (b, c), if
    /// any, and only while its view consent is live: the only way a
    /// structure can reach a shared DEK.
    pub(crate) fn structure_scope(
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
        // Expired but not yet swept: the wrap still exists, the consent not.
        if !matches!(
            self.grant_state(b, structure, c)?,
            GrantState::View | GrantState::ViewAndUpload
        ) {
            return Err(VaultError::Forbidden(
                "no live consent to view this category",
            ));
        }
        let w = self
            .db()
            .scope_wraps
            .get(scope_wrap_key(b, c, epoch, structure))?
            .ok_or(VaultError::Forbidden("no consent key for this category"))?;
        Ok(wrap::unwrap_identity(
            &w,
            sid,
            &Binding::scope_identity(b, c.as_str(), epoch),
        )?)
    }
}

/// A document's record re-wrapped from `old` (at `epoch`) to the scope
/// recipient of `next`, or `None` when it is private or not at `epoch`.
fn rewrap(
    d: &DocumentRecord,
    old: &Identity,
    epoch: u32,
    new_recipient: &Recipient,
    next: u32,
) -> Result<Option<DocumentRecord>> {
    match &d.key {
        KeyWrap::Scope { epoch: e, wrap: w } if *e == epoch => {
            let bind = Binding::document_key(d.id, d.version);
            let dek = wrap::unwrap_dek(w, old, &bind)?;
            Ok(Some(DocumentRecord {
                key: KeyWrap::Scope {
                    epoch: next,
                    wrap: wrap::wrap_dek(&dek, new_recipient, &bind)?,
                },
                ..d.clone()
            }))
        }
        _ => Ok(None),
    }
}
