//! Consent: grants are made by wrapping scope keys, which needs the
//! beneficiary's unlocked identity; revocation deletes the structure's
//! wraps and rotates the scope key; expiry is checked on every access and
//! swept.
//!
//! Every change here is computed from a read of the vault, then written in
//! one transaction that first checks the vault's stamp is still the one
//! read: a concurrent upload, grant or deletion makes it start again, so no
//! change is ever written over a state it was not computed from.

use coffre_crypto::{GrantId, Identity, PrincipalId, Recipient};

use crate::access::Access;
use crate::access::scope::Rotation;
use crate::journal::{Event, NewEntry, Who};
use crate::model::{Category, DAY_MS, Permission};
use crate::policy::{Action, GrantState};
use crate::principals::{NewGrant, check_grant};
use crate::records::{
    BeneficiaryRecord, GrantRecord, ScopeRecord, ShareRecord, StructureRecord, Tx, TxResult,
};
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// How many times a change computed outside a transaction is recomputed
/// when the vault changed before it could commit.
const RETRIES: usize = 8;

/// A grant ready to write: the record and the scope keys wrapped to the
/// structure (for a view grant).
pub(crate) struct GrantPlan {
    grant: GrantRecord,
    wraps: Vec<(Category, u32, Vec<u8>)>,
    days: u32,
}

impl GrantPlan {
    /// Writes the grant, its wraps (each checked against the scope's
    /// current epoch) and the link to the structure.
    pub fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        let g = &self.grant;
        for (c, epoch, w) in &self.wraps {
            tx.scopes().expect_epoch(g.beneficiary, *c, *epoch)?;
            tx.scopes()
                .put_wrap(g.beneficiary, *c, *epoch, g.structure, w)?;
        }
        tx.grants().insert(g)?;
        tx.beneficiaries().update(g.beneficiary, |b| {
            if !b.linked.contains(&g.structure) {
                b.linked.push(g.structure);
            }
            Ok(())
        })?;
        tx.links().insert(g.structure, g.beneficiary)
    }

    pub fn entry(&self, actor: Who) -> NewEntry {
        NewEntry::ok(actor, Event::GrantCreate)
            .vault(self.grant.beneficiary)
            .detail(format!(
                "grant:{} structure:{} days:{}",
                self.grant.id, self.grant.structure, self.days
            ))
    }
}

fn sorted<T: Ord + Copy>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// The categories of `g` whose scope key its structure must lose once `g`
/// no longer counts: those it viewed and no other live grant of the same
/// structure still lets it view.
fn categories_lost(g: &GrantRecord, others: &[GrantRecord], now: i64) -> Vec<Category> {
    if !g.permissions.contains(&Permission::View) {
        return Vec::new();
    }
    let others: Vec<GrantRecord> = others.iter().filter(|o| o.id != g.id).cloned().collect();
    g.categories
        .iter()
        .copied()
        .filter(|c| !GrantState::of(&others, g.structure, *c, now).can_view())
        .collect()
}

impl Vault {
    /// Plans a grant: the scope keys of its categories (their `scopes`
    /// records, current) wrapped to the structure when it may view.
    pub(crate) fn grant_plan(
        &self,
        owner: &Identity,
        b: &BeneficiaryRecord,
        structure: &StructureRecord,
        grant: &NewGrant,
        scopes: &[(Category, ScopeRecord)],
    ) -> Result<GrantPlan> {
        let s_recipient: Recipient = structure
            .recipient
            .parse()
            .map_err(|_| VaultError::Integrity)?;
        let categories = sorted(&grant.categories);
        let permissions = sorted(&grant.permissions);
        let wraps = if permissions.contains(&Permission::View) {
            let chosen: Vec<(Category, ScopeRecord)> = scopes
                .iter()
                .filter(|(c, _)| categories.contains(c))
                .cloned()
                .collect();
            Access::consent_wraps(owner, b.id, &chosen, &s_recipient)?
        } else {
            Vec::new()
        };
        let now = self.now_ms();
        Ok(GrantPlan {
            grant: GrantRecord {
                id: GrantId::random()?,
                beneficiary: b.id,
                structure: structure.id,
                categories,
                permissions,
                created_ms: now,
                expires_ms: now + i64::from(grant.days) * DAY_MS,
                revoked_ms: None,
                swept: false,
            },
            wraps,
            days: grant.days,
        })
    }

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
        let s = self
            .records()
            .read()
            .structures()
            .get(structure)?
            .ok_or(VaultError::NotFound)?;
        let plan = self.retrying(|| {
            let read = self.records().read();
            let b = read.beneficiaries().find(beneficiary)?;
            let scopes = grant
                .categories
                .iter()
                .map(|c| Ok((*c, read.scopes().get(beneficiary, *c)?)))
                .collect::<Result<Vec<_>>>()?;
            let plan = self.grant_plan(&session.identity, &b, &s, &grant, &scopes)?;
            self.records().write(|tx| plan.write(tx))?;
            Ok(plan)
        })?;
        self.journal(plan.entry(session.principal.who())).await?;
        Ok(plan.grant)
    }

    /// Runs `attempt` again while it fails on a concurrent change.
    pub(crate) fn retrying<R>(&self, attempt: impl Fn() -> Result<R>) -> Result<R> {
        let mut last = None;
        for _ in 0..RETRIES {
            match attempt() {
                Err(VaultError::Conflict(why)) => last = Some(why),
                other => return other,
            }
        }
        Err(VaultError::Conflict(
            last.unwrap_or("the vault changed meanwhile; try again"),
        ))
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
        let mut grants = self.records().read().grants().of_vault(beneficiary)?;
        if let Principal::Caseworker { structure, .. } = session.principal {
            grants.retain(|g| g.structure == structure);
        }
        grants.sort_by_key(|g| g.created_ms);
        Ok(grants)
    }

    /// Revokes a grant: the structure's wraps go at once, and every
    /// category it viewed gets a new scope key, with the category's shared
    /// documents re-wrapped to it, so a key kept from before revocation
    /// opens nothing uploaded after it. All in one transaction.
    pub async fn revoke_grant(&self, session: &Session, grant: GrantId) -> Result<()> {
        let _writing = self.writing().await;
        let who = session.principal.who();
        let Some(g) = self.records().read().grants().get(grant)? else {
            self.journal(NewEntry::denied(who, Event::GrantRevoke).detail("unknown grant"))
                .await?;
            return Err(VaultError::NotFound);
        };
        self.authorize(session, Action::RevokeGrant, g.beneficiary, None, None)
            .await?;
        if g.revoked_ms.is_some() {
            return Ok(());
        }
        let b = g.beneficiary;
        let revoked = GrantRecord {
            revoked_ms: Some(self.now_ms()),
            ..g.clone()
        };
        self.retrying(|| {
            let read = self.records().read();
            let stamp = read.beneficiaries().find(b)?.stamp;
            let grants = read.grants().of_vault(b)?;
            let lost = categories_lost(&g, &grants, self.now_ms());
            let cut = self.cut_plan(b, g.structure, &lost)?;
            let documents = read.documents().of_vault(b)?;
            let mut rotations = Vec::new();
            for c in &lost {
                let holders = self.view_holders(&grants, Some(g.id), *c)?;
                rotations.push(self.access().rotation(
                    &session.identity,
                    b,
                    *c,
                    &holders,
                    &documents,
                )?);
            }
            let old_wraps = rotations
                .iter()
                .map(|r| {
                    Ok(read
                        .scopes()
                        .wraps_of(b, r.category)?
                        .into_iter()
                        .filter(|(e, _)| *e == r.from)
                        .map(|(_, s)| (r.category, r.from, s))
                        .collect::<Vec<_>>())
                })
                .collect::<Result<Vec<_>>>()?;
            self.records().write(|tx| {
                tx.beneficiaries().expect_stamp(b, stamp)?;
                tx.grants().put(&revoked)?;
                cut.write(tx)?;
                for (r, old) in rotations.iter().zip(&old_wraps) {
                    write_rotation(tx, b, r, old)?;
                }
                tx.beneficiaries().update(b, |_| Ok(()))
            })
        })?;
        self.journal(
            NewEntry::ok(who, Event::GrantRevoke)
                .vault(b)
                .detail(format!("grant:{} structure:{}", g.id, g.structure)),
        )
        .await?;
        Ok(())
    }

    /// The structures (and their recipients) holding a live view grant on
    /// `c` among `grants`, leaving out `except`.
    fn view_holders(
        &self,
        grants: &[GrantRecord],
        except: Option<GrantId>,
        c: Category,
    ) -> Result<Vec<(PrincipalId, String)>> {
        let now = self.now_ms();
        let mut holders: Vec<(PrincipalId, String)> = Vec::new();
        for g in grants {
            if Some(g.id) == except
                || !g.gives(now, c, Permission::View)
                || holders.iter().any(|(s, _)| *s == g.structure)
            {
                continue;
            }
            let s = self
                .records()
                .read()
                .structures()
                .get(g.structure)?
                .ok_or(VaultError::Integrity)?;
            holders.push((g.structure, s.recipient));
        }
        Ok(holders)
    }

    /// What a structure loses in a vault when its view consent on
    /// `categories` ends: its scope wraps (every epoch) and the share links
    /// its caseworkers made there.
    fn cut_plan(
        &self,
        b: PrincipalId,
        structure: PrincipalId,
        categories: &[Category],
    ) -> Result<Cut> {
        let read = self.records().read();
        let mut wraps = Vec::new();
        for c in categories {
            for (epoch, s) in read.scopes().wraps_of(b, *c)? {
                if s == structure {
                    wraps.push((*c, epoch));
                }
            }
        }
        let shares = read
            .shares()
            .of_vault(b)?
            .into_iter()
            .filter(|(_, r)| r.structure == Some(structure) && categories.contains(&r.category))
            .collect();
        Ok(Cut {
            beneficiary: b,
            structure,
            wraps,
            shares,
        })
    }

    /// Deletes the wraps of expired grants (every access checks expiry
    /// anyway; this removes the keys themselves). Returns how many grants.
    pub async fn sweep_expired_grants(&self) -> Result<usize> {
        let _writing = self.writing().await;
        let now = self.now_ms();
        let mut swept = 0;
        for g in self.records().read().grants().all()? {
            if g.revoked_ms.is_some() || g.swept || g.expires_ms > now {
                continue;
            }
            let b = g.beneficiary;
            let done = GrantRecord {
                swept: true,
                ..g.clone()
            };
            self.retrying(|| {
                let read = self.records().read();
                let stamp = read.beneficiaries().find(b)?.stamp;
                let grants = read.grants().of_vault(b)?;
                let cut = self.cut_plan(b, g.structure, &categories_lost(&g, &grants, now))?;
                self.records().write(|tx| {
                    tx.beneficiaries().expect_stamp(b, stamp)?;
                    cut.write(tx)?;
                    tx.grants().put(&done)?;
                    tx.beneficiaries().update(b, |_| Ok(()))
                })
            })?;
            self.journal(
                NewEntry::ok(Who::System, Event::GrantExpire)
                    .vault(b)
                    .detail(format!("grant:{}", g.id)),
            )
            .await?;
            swept += 1;
        }
        Ok(swept)
    }
}

/// See [`Vault::cut_plan`].
struct Cut {
    beneficiary: PrincipalId,
    structure: PrincipalId,
    wraps: Vec<(Category, u32)>,
    shares: Vec<([u8; 32], ShareRecord)>,
}

impl Cut {
    fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        for (c, epoch) in &self.wraps {
            tx.scopes()
                .remove_wrap(self.beneficiary, *c, *epoch, self.structure)?;
        }
        for (lookup, r) in &self.shares {
            tx.shares().remove(lookup, r)?;
        }
        Ok(())
    }
}

/// Writes a rotation: the scope's new record and wraps, the old epoch's
/// wraps gone, the category's documents re-wrapped.
fn write_rotation(
    tx: &Tx<'_>,
    b: PrincipalId,
    r: &Rotation,
    old_wraps: &[(Category, u32, PrincipalId)],
) -> TxResult<()> {
    tx.scopes().expect_epoch(b, r.category, r.from)?;
    tx.scopes().put(b, r.category, &r.record)?;
    for (c, epoch, s) in old_wraps {
        tx.scopes().remove_wrap(b, *c, *epoch, *s)?;
    }
    for (s, w) in &r.wraps {
        tx.scopes().put_wrap(b, r.category, r.record.epoch, *s, w)?;
    }
    for d in &r.documents {
        tx.documents().put(d)?;
    }
    Ok(())
}
