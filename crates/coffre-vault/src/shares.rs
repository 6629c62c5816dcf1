//! Share links: one document version for a third party without an account,
//! until an expiry and a download limit. The server keeps the link's lookup
//! key and the DEK wrapped under a key derived from its secret, never the
//! secret itself. A link made by a structure dies with that structure's
//! consent (revocation, expiry, the document made private).

use coffre_crypto::wrap::{Binding, ShareSecret};
use coffre_crypto::{DocumentId, PrincipalId, ShareId};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::db::{self, key};
use crate::documents::{DocumentInfo, PlaintextStream};
use crate::journal::NewEntry;
use crate::model::{Category, DAY_MS, ShareRecord};
use crate::policy::Action;
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError, now_ms};

#[derive(Debug)]
pub struct ShareCreated {
    pub share_id: ShareId,
    /// The secret for the URL (`/s/{token}`). Shown once, never stored.
    pub token: Zeroizing<String>,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShareInfo {
    pub share_id: ShareId,
    pub document_id: DocumentId,
    pub created_by: String,
    pub expires_ms: i64,
    pub max_downloads: u32,
    pub downloads: u32,
}

/// Most live links per vault.
const MAX_SHARES_PER_VAULT: usize = 1000;

impl Vault {
    pub async fn create_share(
        &self,
        session: &Session,
        document: DocumentId,
        days: Option<u32>,
        max_downloads: u32,
    ) -> Result<ShareCreated> {
        let _writing = self.writing().await;
        let l = self.limits();
        let days = days.unwrap_or(l.share_default_days);
        if days == 0 || days > l.share_max_days {
            return Err(VaultError::Invalid(format!(
                "links last 1 to {} days",
                l.share_max_days
            )));
        }
        if max_downloads == 0 || max_downloads > l.share_max_downloads {
            return Err(VaultError::Invalid(format!(
                "1 to {} downloads per link",
                l.share_max_downloads
            )));
        }
        let (d, dek) = self
            .readable(session, document, Action::CreateShare)
            .await?;
        if self
            .db()
            .vault_shares
            .scan_prefix(d.beneficiary.as_bytes())
            .count()
            >= MAX_SHARES_PER_VAULT
        {
            return Err(VaultError::Conflict(
                "too many share links in this vault; revoke some",
            ));
        }
        let secret = ShareSecret::generate()?;
        let now = now_ms();
        let rec = ShareRecord {
            id: ShareId::random()?,
            document: d.id,
            version: d.version,
            beneficiary: d.beneficiary,
            category: d.category,
            created_by: session.principal.label(),
            structure: match session.principal {
                Principal::Caseworker { structure, .. } => Some(structure),
                Principal::Beneficiary { .. } => None,
            },
            created_ms: now,
            expires_ms: now + i64::from(days) * DAY_MS,
            max_downloads,
            downloads: 0,
            wrap: secret.wrap_dek(&dek, &Binding::document_key(d.id, d.version))?,
        };
        let lookup = secret.lookup_key()?;
        db::put(&self.db().shares, lookup, &rec)?;
        self.db().share_ids.insert(rec.id.as_bytes(), &lookup)?;
        self.db()
            .vault_shares
            .insert(key(&[d.beneficiary.as_bytes(), rec.id.as_bytes()]), &lookup)?;
        self.journal(
            NewEntry::new(session.principal.label(), "share.create", "ok")
                .vault(d.beneficiary)
                .doc(d.id)
                .detail(format!("share:{} days:{days} max:{max_downloads}", rec.id)),
        )
        .await?;
        Ok(ShareCreated {
            share_id: rec.id,
            token: secret.to_token(),
            expires_ms: rec.expires_ms,
        })
    }

    /// The share records of a vault.
    fn shares_of(&self, beneficiary: PrincipalId) -> Result<Vec<([u8; 32], ShareRecord)>> {
        let mut out = Vec::new();
        for v in self
            .db()
            .vault_shares
            .scan_prefix(beneficiary.as_bytes())
            .values()
        {
            let lookup: [u8; 32] = v?.as_ref().try_into().map_err(|_| VaultError::Integrity)?;
            if let Some(r) = db::get::<ShareRecord>(&self.db().shares, lookup)? {
                out.push((lookup, r));
            }
        }
        Ok(out)
    }

    /// The links of one document (owner, or a structure that may view it).
    pub async fn list_shares(
        &self,
        session: &Session,
        document: DocumentId,
    ) -> Result<Vec<ShareInfo>> {
        let (d, _) = self
            .readable(session, document, Action::CreateShare)
            .await?;
        Ok(self
            .shares_of(d.beneficiary)?
            .into_iter()
            .filter(|(_, r)| r.document == document)
            .map(|(_, r)| ShareInfo {
                share_id: r.id,
                document_id: r.document,
                created_by: r.created_by,
                expires_ms: r.expires_ms,
                max_downloads: r.max_downloads,
                downloads: r.downloads,
            })
            .collect())
    }

    /// Revokes a link: its row (and so its key wrap) is deleted.
    pub async fn revoke_share(&self, session: &Session, share: ShareId) -> Result<()> {
        let _writing = self.writing().await;
        let found = match self.db().share_ids.get(share.as_bytes())? {
            Some(lookup) => {
                db::get::<ShareRecord>(&self.db().shares, &lookup)?.map(|r| (lookup, r))
            }
            None => None,
        };
        let Some((lookup, rec)) = found else {
            self.journal(
                NewEntry::new(session.principal.label(), "share.revoke", "denied")
                    .detail("unknown link"),
            )
            .await?;
            return Err(VaultError::NotFound);
        };
        // The owner, or whoever created it.
        if session.principal.label() != rec.created_by {
            let d = self.document(rec.document)?;
            self.authorize(
                session,
                Action::ManageShares,
                rec.beneficiary,
                Some(d.category),
                Some(&d),
            )
            .await?;
        }
        self.delete_share(&lookup, &rec)?;
        self.journal(
            NewEntry::new(session.principal.label(), "share.revoke", "ok")
                .vault(rec.beneficiary)
                .doc(rec.document)
                .detail(format!("share:{share}")),
        )
        .await?;
        Ok(())
    }

    fn delete_share(&self, lookup: &[u8], rec: &ShareRecord) -> Result<()> {
        self.db().shares.remove(lookup)?;
        self.db().share_ids.remove(rec.id.as_bytes())?;
        self.db()
            .vault_shares
            .remove(key(&[rec.beneficiary.as_bytes(), rec.id.as_bytes()]))?;
        Ok(())
    }

    /// Anonymous redemption of a link. The download is counted atomically
    /// (compare-and-swap) and durably before the stream is returned;
    /// expired, exhausted or revoked links are `Gone`.
    pub async fn redeem_share(&self, token: &str) -> Result<(DocumentInfo, PlaintextStream)> {
        let _writing = self.writing().await;
        let Ok(secret) = ShareSecret::from_token(token) else {
            self.journal(
                NewEntry::new("anonymous", "share.download", "denied").detail("malformed link"),
            )
            .await?;
            return Err(VaultError::Gone);
        };
        let lookup = secret.lookup_key()?;
        let rec = loop {
            let Some(old) = self.db().shares.get(lookup)? else {
                self.journal(
                    NewEntry::new("anonymous", "share.download", "denied")
                        .detail("unknown or revoked link"),
                )
                .await?;
                return Err(VaultError::Gone);
            };
            let mut rec: ShareRecord = serde_json::from_slice(&old)?;
            if rec.expires_ms <= now_ms() || rec.downloads >= rec.max_downloads {
                self.journal(
                    NewEntry::new(format!("share:{}", rec.id), "share.download", "denied")
                        .vault(rec.beneficiary)
                        .doc(rec.document)
                        .detail(if rec.downloads >= rec.max_downloads {
                            "download limit reached"
                        } else {
                            "expired"
                        }),
                )
                .await?;
                return Err(VaultError::Gone);
            }
            rec.downloads += 1;
            let new = db::enc(&rec)?;
            // A concurrent redemption or revocation changed the row: read again.
            if self
                .db()
                .shares
                .compare_and_swap(lookup, Some(old), Some(new))?
                .is_ok()
            {
                break rec;
            }
        };
        let label = format!("share:{}", rec.id);
        let d = match self.document(rec.document) {
            Ok(d) if d.version == rec.version => d,
            _ => return Err(VaultError::Gone),
        };
        let dek = secret.unwrap_dek(&rec.wrap, &Binding::document_key(d.id, d.version))?;
        let info = self.info(&d, &dek)?;
        let stream = self.open_object(&d, dek).await?;
        self.journal(
            NewEntry::new(label, "share.download", "ok")
                .vault(rec.beneficiary)
                .doc(rec.document)
                .detail(format!(
                    "download {} of {}",
                    rec.downloads, rec.max_downloads
                )),
        )
        .await?;
        Ok((info, stream))
    }

    /// Deletes the links of one document (deletion, erasure).
    pub(crate) fn remove_shares_of(
        &self,
        beneficiary: PrincipalId,
        document: DocumentId,
    ) -> Result<()> {
        for (lookup, r) in self.shares_of(beneficiary)? {
            if r.document == document {
                self.delete_share(&lookup, &r)?;
            }
        }
        Ok(())
    }

    /// Deletes the links a structure made in a vault: in one category when
    /// its consent there ends, or on one document when it becomes private.
    pub(crate) fn remove_structure_shares(
        &self,
        beneficiary: PrincipalId,
        category: Option<Category>,
        document: Option<DocumentId>,
        structure: Option<PrincipalId>,
    ) -> Result<usize> {
        let mut n = 0;
        for (lookup, r) in self.shares_of(beneficiary)? {
            let by_structure = match structure {
                Some(s) => r.structure == Some(s),
                None => r.structure.is_some(),
            };
            if by_structure
                && category.is_none_or(|c| r.category == c)
                && document.is_none_or(|d| r.document == d)
            {
                self.delete_share(&lookup, &r)?;
                n += 1;
            }
        }
        Ok(n)
    }
}
