//! Consent: grants are made by wrapping scope keys, which needs the
//! beneficiary's unlocked identity; revocation deletes the structure's
//! wraps and rotates the scope key (re-wrapping the category's papers);
//! expiry is checked on every access, and the sweeper deletes the wraps and
//! starts a new epoch too. A structure with no live grant left, and not the
//! person's trustee, is unlinked: it no longer finds the person.
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
/// structure (for a view grant), every epoch of each category.
pub(crate) struct GrantPlan {
    grant: GrantRecord,
    wraps: Vec<(Category, u32, Vec<u8>)>,
    days: u32,
    /// The structure's key the wraps were made for.
    structure_recipient: String,
    /// The vault's stamp the plan was computed from (none for a vault being
    /// enrolled).
    stamp: Option<u64>,
}

impl GrantPlan {
    /// Writes the grant, its wraps and the link to the structure, after
    /// checking the vault and the structure's key are what it was computed
    /// from.
    pub fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        let g = &self.grant;
        if let Some(stamp) = self.stamp {
            tx.beneficiaries().expect_stamp(g.beneficiary, stamp)?;
        }
        tx.structures()
            .expect_recipient(g.structure, &self.structure_recipient)?;
        for (c, epoch, w) in &self.wraps {
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

    /// The journal entry; `presence` says who else was there.
    pub fn entry(&self, actor: Who, presence: Option<&str>) -> NewEntry {
        let mut detail = format!(
            "grant:{} structure:{} days:{}",
            self.grant.id, self.grant.structure, self.days
        );
        if let Some(p) = presence {
            detail.push_str("; ");
            detail.push_str(p);
        }
        NewEntry::ok(actor, Event::GrantCreate)
            .vault(self.grant.beneficiary)
            .detail(detail)
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

/// Inside a transaction: a structure that holds no live grant any more and
/// is not the person's trustee no longer finds them. `grants` is the vault's
/// grants as this transaction leaves them.
pub(crate) fn unlink_if_idle(
    tx: &Tx<'_>,
    b: PrincipalId,
    structure: PrincipalId,
    grants: &[GrantRecord],
    now: i64,
) -> TxResult<()> {
    let live = grants
        .iter()
        .any(|g| g.structure == structure && g.live(now));
    let rec = tx.beneficiaries().find(b)?;
    if live || rec.recovery.iter().any(|r| r.structure == structure) {
        return Ok(());
    }
    if rec.linked.contains(&structure) {
        tx.beneficiaries().update(b, |rec| {
            rec.linked.retain(|s| *s != structure);
            Ok(())
        })?;
        tx.links().remove(structure, b)?;
    }
    Ok(())
}

impl Vault {
    /// Plans a grant: every epoch of its categories (`scopes`, all the
    /// records still kept) wrapped to the structure when it may view.
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
            structure_recipient: structure.recipient.clone(),
            stamp: None,
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
        self.create_grant_with_presence(session, beneficiary, structure, grant, None)
            .await
    }

    /// The same, at a caseworker's desk: the journal names the person as
    /// the actor and `present` as the caseworker who was there.
    pub async fn create_grant_with_presence(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        structure: PrincipalId,
        grant: NewGrant,
        present: Option<PrincipalId>,
    ) -> Result<GrantRecord> {
        let _writing = self.writing().await;
        self.authorize(session, Action::CreateGrant, beneficiary, None, None)
            .await?;
        let Principal::Beneficiary { .. } = session.principal else {
            return Err(VaultError::Forbidden("only the person gives consent"));
        };
        check_grant(&grant)?;
        let s = self
            .alarm(self.records().read().structures().find(structure))
            .await?;
        let plan = self.retrying(|| {
            let read = self.records().read();
            let b = read.beneficiaries().find(beneficiary)?;
            let mut scopes = Vec::new();
            for c in &grant.categories {
                for rec in read.scopes().epochs(beneficiary, *c)? {
                    scopes.push((*c, rec));
                }
            }
            let mut plan = self.grant_plan(&session.identity, &b, &s, &grant, &scopes)?;
            plan.stamp = Some(b.stamp);
            self.records().write(|tx| plan.write(tx))?;
            Ok(plan)
        })?;
        // A structure given consent again holds new wraps of the same
        // scope keys: what its sessions memoized from the old ones goes.
        self.forget_keys(beneficiary);
        let presence = present.map(|c| format!("at the desk of caseworker:{c}"));
        self.journal(plan.entry(session.principal.who(), presence.as_deref()))
            .await?;
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
        let revoked = GrantRecord {
            revoked_ms: Some(self.now_ms()),
            ..g.clone()
        };
        self.end_grants(&session.identity, g.beneficiary, &[revoked])?;
        self.journal(
            NewEntry::ok(who, Event::GrantRevoke)
                .vault(g.beneficiary)
                .detail(format!("grant:{} structure:{}", g.id, g.structure)),
        )
        .await?;
        Ok(())
    }

    /// The person removes a structure from their vault: its grants end
    /// (with the rotations a revocation makes), it stops being a trustee,
    /// and it no longer finds them; it sees neither their name nor their
    /// grants any more.
    pub async fn leave_structure(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
        structure: PrincipalId,
    ) -> Result<()> {
        let _writing = self.writing().await;
        let b = self
            .authorize(session, Action::RevokeGrant, beneficiary, None, None)
            .await?;
        if !b.linked.contains(&structure) && !b.recovery.iter().any(|r| r.structure == structure) {
            return Err(VaultError::NotFound);
        }
        let now = self.now_ms();
        let ended: Vec<GrantRecord> = self
            .records()
            .read()
            .grants()
            .of_vault(beneficiary)?
            .into_iter()
            .filter(|g| g.structure == structure && g.revoked_ms.is_none())
            .map(|g| GrantRecord {
                revoked_ms: Some(now),
                ..g
            })
            .collect();
        self.records().write(|tx| {
            tx.beneficiaries().update(beneficiary, |rec| {
                rec.recovery.retain(|r| r.structure != structure);
                Ok(())
            })
        })?;
        self.end_grants(&session.identity, beneficiary, &ended)?;
        // No grant was live any more: unlink it all the same.
        self.retrying(|| {
            let grants = self.records().read().grants().of_vault(beneficiary)?;
            self.records()
                .write(|tx| unlink_if_idle(tx, beneficiary, structure, &grants, now))
        })?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::StructureLeave)
                .vault(beneficiary)
                .detail(format!("structure:{structure}")),
        )
        .await?;
        Ok(())
    }

    /// Ends grants (`ended`: their records as they will be stored, revoked)
    /// with the owner's key at hand: cuts, rotations with re-wrapping,
    /// unlinks, in one transaction.
    fn end_grants(&self, owner: &Identity, b: PrincipalId, ended: &[GrantRecord]) -> Result<()> {
        self.retrying(|| {
            let read = self.records().read();
            let stamp = read.beneficiaries().find(b)?.stamp;
            let now = self.now_ms();
            let mut grants = read.grants().of_vault(b)?;
            for e in ended {
                if let Some(g) = grants.iter_mut().find(|g| g.id == e.id) {
                    *g = e.clone();
                }
            }
            let documents = read.documents().of_vault(b)?;
            let mut cuts = Vec::new();
            let mut rotations = Vec::new();
            for e in ended {
                let lost = categories_lost(e, &grants, now);
                cuts.push(self.cut_plan(b, e.structure, &lost)?);
                for c in lost {
                    if rotations.iter().any(|r: &Rotation| r.category == c) {
                        continue;
                    }
                    let holders = self.view_holders(&grants, c)?;
                    rotations.push(self.access().rotation(owner, b, c, &holders, &documents)?);
                }
            }
            let retired = self.retired_wraps(b, &rotations)?;
            self.records().write(|tx| {
                tx.beneficiaries().expect_stamp(b, stamp)?;
                for e in ended {
                    tx.grants().put(e)?;
                }
                for cut in &cuts {
                    cut.write(tx)?;
                }
                for (r, old) in rotations.iter().zip(&retired) {
                    write_rotation(tx, b, r, old)?;
                }
                for e in ended {
                    unlink_if_idle(tx, b, e.structure, &grants, now)?;
                }
                tx.beneficiaries().touch(b)
            })
        })?;
        self.forget_keys(b);
        Ok(())
    }

    /// The structures (and their recipients) holding a live view grant on
    /// `c` among `grants`.
    fn view_holders(
        &self,
        grants: &[GrantRecord],
        c: Category,
    ) -> Result<Vec<(PrincipalId, String)>> {
        let now = self.now_ms();
        let mut holders: Vec<(PrincipalId, String)> = Vec::new();
        for g in grants {
            if !g.gives(now, c, Permission::View) || holders.iter().any(|(s, _)| *s == g.structure)
            {
                continue;
            }
            let s = self.records().read().structures().find(g.structure)?;
            holders.push((g.structure, s.recipient));
        }
        Ok(holders)
    }

    /// For each rotation, the (structure) wraps held at the epochs it
    /// retires: they go with their epoch.
    fn retired_wraps(
        &self,
        b: PrincipalId,
        rotations: &[Rotation],
    ) -> Result<Vec<Vec<(u32, PrincipalId)>>> {
        let read = self.records().read();
        rotations
            .iter()
            .map(|r| {
                Ok(read
                    .scopes()
                    .wraps_of(b, r.category)?
                    .into_iter()
                    .filter(|(e, _)| r.retired.contains(e))
                    .collect())
            })
            .collect()
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
    /// anyway; this removes the keys themselves) and starts a new epoch of
    /// each scope concerned for what is uploaded next; unlinks structures
    /// left without a live grant. Returns how many grants.
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
                let ben = read.beneficiaries().find(b)?;
                let owner: Recipient = ben.recipient.parse().map_err(|_| VaultError::Integrity)?;
                let mut grants = read.grants().of_vault(b)?;
                for o in grants.iter_mut().filter(|o| o.id == g.id) {
                    *o = done.clone();
                }
                let lost = categories_lost(&g, &grants, now);
                let cut = self.cut_plan(b, g.structure, &lost)?;
                let documents = read.documents().of_vault(b)?;
                let mut rotations = Vec::new();
                for c in &lost {
                    let holders = self.view_holders(&grants, *c)?;
                    rotations.push(
                        self.access()
                            .forward_rotation(&owner, b, *c, &holders, &documents)?,
                    );
                }
                let retired = self.retired_wraps(b, &rotations)?;
                self.records().write(|tx| {
                    tx.beneficiaries().expect_stamp(b, ben.stamp)?;
                    cut.write(tx)?;
                    for (r, old) in rotations.iter().zip(&retired) {
                        write_rotation(tx, b, r, old)?;
                    }
                    tx.grants().put(&done)?;
                    unlink_if_idle(tx, b, g.structure, &grants, now)?;
                    tx.beneficiaries().touch(b)
                })
            })?;
            self.forget_keys(b);
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
            tx.drop_share(lookup, r)?;
        }
        Ok(())
    }
}

/// Writes a rotation: the scope's new epoch (made current) and its wraps,
/// the category's re-wrapped documents, and the retired epochs gone with
/// the wraps held at them.
fn write_rotation(
    tx: &Tx<'_>,
    b: PrincipalId,
    r: &Rotation,
    retired_wraps: &[(u32, PrincipalId)],
) -> TxResult<()> {
    tx.scopes().expect_epoch(b, r.category, r.from)?;
    tx.scopes().put(b, r.category, &r.record, true)?;
    for (s, w) in &r.wraps {
        tx.scopes().put_wrap(b, r.category, r.record.epoch, *s, w)?;
    }
    for d in &r.documents {
        tx.documents().put(d)?;
    }
    for e in &r.retired {
        tx.scopes().remove(b, r.category, *e)?;
    }
    for (e, s) in retired_wraps {
        tx.scopes().remove_wrap(b, r.category, *e, *s)?;
    }
    Ok(())
}
