//! Consistency of one vault's records: every record has its index entries
//! and every index entry its record, the quota counts what is stored,
//! every shared paper is wrapped to its scope's current epoch, and the
//! structures holding a scope's wraps are exactly those with live view
//! consent. Used by tests after concurrent work, and fit for a check of a
//! live database (it only reads).

use std::collections::BTreeSet;

use coffre_crypto::PrincipalId;

use super::{DocumentRecord, KeyWrap, Records, Table, codec, db_error, id_at};
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
        for v in self.tree(Table::Documents).iter().values() {
            let d: DocumentRecord = codec::decode(&v.map_err(db_error)?)?;
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
        // Shared papers at their scope's current epoch.
        for d in &docs {
            if let KeyWrap::Scope { epoch, .. } = d.key {
                let current = read.scopes().get(b, d.category)?.epoch;
                if epoch != current {
                    problems.push(format!(
                        "document {} wrapped at epoch {epoch}, its scope is at {current}",
                        d.id
                    ));
                }
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
            if !ben.linked.contains(&g.structure) {
                problems.push(format!("grant {} to a structure not linked", g.id));
            }
        }
        for s in &ben.linked {
            if !read.links().of_structure(*s)?.contains(&b) {
                problems.push(format!("structure {s} linked without its link entry"));
            }
        }
        // Scope wraps at the current epoch: every structure with live view
        // consent, and no other but one whose view grant expired and that
        // the sweeper has not passed over yet.
        for c in Category::ALL {
            let current = read.scopes().get(b, c)?.epoch;
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
            let wraps = read.scopes().wraps_of(b, c)?;
            let held: BTreeSet<PrincipalId> = wraps
                .iter()
                .filter(|(e, _)| *e == current)
                .map(|(_, s)| *s)
                .collect();
            if !must.is_subset(&held) {
                problems.push(format!(
                    "{c}: a structure with live view consent lacks the current scope key"
                ));
            }
            if !held.is_subset(&may) {
                problems.push(format!(
                    "{c}: a structure without view consent holds the scope key"
                ));
            }
            if wraps.iter().any(|(e, _)| *e != current) {
                problems.push(format!("{c}: wraps left at a retired epoch"));
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
        let shares_indexed = read.shares().count_of_vault(b);
        let shares = self
            .tree(Table::Shares)
            .iter()
            .values()
            .filter_map(|v| v.ok())
            .filter_map(|v| codec::decode::<super::ShareRecord>(&v).ok())
            .filter(|r| r.beneficiary == b)
            .count();
        if shares != shares_indexed {
            problems.push(format!(
                "{shares} share records, {shares_indexed} in the vault's index"
            ));
        }
        Ok(problems)
    }
}
