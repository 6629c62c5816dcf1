//! Consistency of one vault's records: every record has its index entries
//! and every index entry its record, the quota counts what is stored,
//! every shared paper is wrapped to its scope's current epoch, and the
//! structures holding a scope's wraps are exactly those with live view
//! consent. Used by tests after concurrent work, and fit for a check of a
//! live database (it only reads).

use std::collections::BTreeSet;

use coffre_crypto::PrincipalId;

use super::{DocumentRecord, KeyWrap, Records, ShareRecord, Table, db_error, id_at};
use crate::Result;
use crate::model::{Category, Permission};

impl Records {
    /// What is wrong with vault `b` at `now_ms`; empty when nothing is.
    pub fn vault_problems(&self, b: PrincipalId, now_ms: i64) -> Result<Vec<String>> {
        let read = self.read();
        let mut problems = Vec::new();
        let Some(ben) = read.beneficiaries().get(b)? else {
            return Ok(vec!["no beneficiary record".into()]);
        };
        // Documents and their index, both ways.
        let indexed: BTreeSet<[u8; 16]> = self
            .tree(Table::VaultDocuments)
            .scan_prefix(b.as_bytes())
            .keys()
            .map(|k| {
                k.map_err(db_error)
                    .map(|k| id_at(&k, 16).unwrap_or_default())
            })
            .collect::<Result<_>>()?;
        let mut docs = Vec::new();
        for kv in self.tree(Table::Documents).iter() {
            let (k, v) = kv.map_err(db_error)?;
            let d: DocumentRecord = self.codec.decode(Table::Documents, &k, &v)?;
            if d.beneficiary == b {
                if !indexed.contains(d.id.as_bytes()) {
                    problems.push(format!("document {} without its index entry", d.id));
                }
                docs.push(d);
            }
        }
        if indexed.len() != docs.len() {
            problems.push(format!(
                "{} index entries for {} documents",
                indexed.len(),
                docs.len()
            ));
        }
        let used: u64 = docs.iter().map(|d| d.size).sum();
        if used != ben.used_bytes {
            problems.push(format!(
                "used_bytes {} but the documents sum to {used}",
                ben.used_bytes
            ));
        }
        if ben.documents != docs.len() as u64 {
            problems.push(format!(
                "{} documents counted, {} stored",
                ben.documents,
                docs.len()
            ));
        }
        // Shared papers at an epoch of their scope that exists.
        for d in &docs {
            if let KeyWrap::Scope { epoch, .. } = d.key
                && read.scopes().get(b, d.category, epoch)?.is_none()
            {
                problems.push(format!(
                    "document {} wrapped at epoch {epoch}, which its scope no longer has",
                    d.id
                ));
            }
        }
        // Grants and their index, links.
        let grants = read.grants().of_vault(b)?;
        let all_grants = read.grants().all()?;
        let orphan_grants = all_grants
            .iter()
            .filter(|g| g.beneficiary == b && !grants.iter().any(|o| o.id == g.id))
            .count();
        if orphan_grants > 0 {
            problems.push(format!("{orphan_grants} grants without their index entry"));
        }
        for g in &grants {
            if g.live(now_ms) && !ben.linked.contains(&g.structure) {
                problems.push(format!("live grant {} to a structure not linked", g.id));
            }
        }
        for s in &ben.linked {
            if !read.links().of_structure(*s)?.contains(&b) {
                problems.push(format!("structure {s} linked without its link entry"));
            }
        }
        // Scope wraps, at every epoch still kept: every structure with live
        // view consent, and no other but one whose view grant expired and
        // that the sweeper has not passed over yet.
        for c in Category::ALL {
            let viewing = |live: bool| -> BTreeSet<PrincipalId> {
                grants
                    .iter()
                    .filter(|g| {
                        g.categories.contains(&c)
                            && g.permissions.contains(&Permission::View)
                            && if live {
                                g.live(now_ms)
                            } else {
                                g.revoked_ms.is_none() && !g.swept
                            }
                    })
                    .map(|g| g.structure)
                    .collect()
            };
            let (must, may) = (viewing(true), viewing(false));
            let epochs: BTreeSet<u32> = read
                .scopes()
                .epochs(b, c)?
                .into_iter()
                .map(|r| r.epoch)
                .collect();
            let current = read.scopes().current(b, c)?;
            if !epochs.contains(&current) {
                problems.push(format!("{c}: the current epoch has no key"));
            }
            let wraps = read.scopes().wraps_of(b, c)?;
            for e in &epochs {
                let held: BTreeSet<PrincipalId> = wraps
                    .iter()
                    .filter(|(we, _)| we == e)
                    .map(|(_, s)| *s)
                    .collect();
                if !must.is_subset(&held) {
                    problems.push(format!(
                        "{c}: a structure with live view consent lacks the key of epoch {e}"
                    ));
                }
                if !held.is_subset(&may) {
                    problems.push(format!(
                        "{c}: a structure without view consent holds the key of epoch {e}"
                    ));
                }
            }
            if wraps.iter().any(|(e, _)| !epochs.contains(e)) {
                problems.push(format!("{c}: wraps left at an epoch that is gone"));
            }
        }
        // Share links and their two indexes.
        for (lookup, r) in read.shares().of_vault(b)? {
            match read.shares().by_id(r.id)? {
                Some((l, _)) if l == lookup => {}
                _ => problems.push(format!("share {} without its id index", r.id)),
            }
            if !docs.iter().any(|d| d.id == r.document) {
                problems.push(format!("share {} of a paper that is gone", r.id));
            }
        }
        let indexed = read.shares().of_vault(b)?.len();
        let mut stored = 0;
        for kv in self.tree(Table::Shares).iter() {
            let (k, v) = kv.map_err(db_error)?;
            let r: ShareRecord = self.codec.decode(Table::Shares, &k, &v)?;
            stored += usize::from(r.beneficiary == b);
        }
        if stored != indexed || ben.shares != stored as u64 {
            problems.push(format!(
                "{stored} share records, {indexed} in the vault's index, {} counted",
                ben.shares
            ));
        }
        Ok(problems)
    }
}
