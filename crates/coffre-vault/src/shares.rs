//! Share links: one document version for a third party without an account,
//! until an expiry and a download limit. The server keeps the link's lookup
//! key and the DEK wrapped under a key derived from its secret, never the
//! secret itself.

use coffre_crypto::wrap::{Binding, ShareSecret};
use coffre_crypto::{DocumentId, ShareId};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::db;
use crate::documents::{DocumentInfo, PlaintextStream};
use crate::journal::NewEntry;
use crate::model::{DAY_MS, ShareRecord};
use crate::policy::Action;
use crate::session::Session;
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

impl Vault {
    pub async fn create_share(
        &self,
        session: &Session,
        document: DocumentId,
        days: Option<u32>,
        max_downloads: u32,
    ) -> Result<ShareCreated> {
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
        let d = self.document(document).map_err(|_| VaultError::NotFound)?;
        self.authorize(
            session,
            Action::CreateShare,
            d.beneficiary,
            Some(d.category),
            Some(&d),
        )
        .await?;
        let dek = self.dek_for(session, &d)?;
        let secret = ShareSecret::generate()?;
        let now = now_ms();
        let rec = ShareRecord {
            id: ShareId::random()?,
            document: d.id,
            version: d.version,
            beneficiary: d.beneficiary,
            created_by: session.principal.label(),
            created_ms: now,
            expires_ms: now + i64::from(days) * DAY_MS,
            max_downloads,
            downloads: 0,
            wrap: secret.wrap_dek(&dek, &Binding::document_key(d.id, d.version))?,
        };
        let lookup = secret.lookup_key()?;
        db::put(&self.db().shares, lookup, &rec)?;
        self.db().share_ids.insert(rec.id.as_bytes(), &lookup)?;
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

    /// The links of one document (owner, or a structure that may view it).
    pub async fn list_shares(
        &self,
        session: &Session,
        document: DocumentId,
    ) -> Result<Vec<ShareInfo>> {
        let d = self.document(document).map_err(|_| VaultError::NotFound)?;
        self.authorize(
            session,
            Action::CreateShare,
            d.beneficiary,
            Some(d.category),
            Some(&d),
        )
        .await?;
        let mut out = Vec::new();
        for v in self.db().shares.iter().values() {
            let r: ShareRecord = serde_json::from_slice(&v?)?;
            if r.document == document {
                out.push(ShareInfo {
                    share_id: r.id,
                    document_id: r.document,
                    created_by: r.created_by,
                    expires_ms: r.expires_ms,
                    max_downloads: r.max_downloads,
                    downloads: r.downloads,
                });
            }
        }
        Ok(out)
    }

    /// Revokes a link: its row (and so its key wrap) is deleted.
    pub async fn revoke_share(&self, session: &Session, share: ShareId) -> Result<()> {
        let lookup = self
            .db()
            .share_ids
            .get(share.as_bytes())?
            .ok_or(VaultError::NotFound)?;
        let rec: ShareRecord = db::get(&self.db().shares, &lookup)?.ok_or(VaultError::NotFound)?;
        let d = self.document(rec.document)?;
        // The owner, or whoever created it.
        if session.principal.label() != rec.created_by {
            self.authorize(
                session,
                Action::ManageShares,
                rec.beneficiary,
                Some(d.category),
                Some(&d),
            )
            .await?;
        }
        self.db().shares.remove(&lookup)?;
        self.db().share_ids.remove(share.as_bytes())?;
        self.journal(
            NewEntry::new(session.principal.label(), "share.revoke", "ok")
                .vault(rec.beneficiary)
                .doc(rec.document)
                .detail(format!("share:{share}")),
        )
        .await?;
        Ok(())
    }

    /// Anonymous redemption of a link. Counts the download durably before
    /// returning the stream; expired, exhausted or revoked links are `Gone`.
    pub async fn redeem_share(&self, token: &str) -> Result<(DocumentInfo, PlaintextStream)> {
        let secret = ShareSecret::from_token(token).map_err(|_| VaultError::NotFound)?;
        let lookup = secret.lookup_key()?;
        let Some(mut rec) = db::get::<ShareRecord>(&self.db().shares, lookup)? else {
            self.journal(
                NewEntry::new("anonymous", "share.download", "denied")
                    .detail("unknown or revoked link"),
            )
            .await?;
            return Err(VaultError::Gone);
        };
        let label = format!("share:{}", rec.id);
        if rec.expires_ms <= now_ms() || rec.downloads >= rec.max_downloads {
            self.journal(
                NewEntry::new(label, "share.download", "denied")
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
        let d = self.document(rec.document).map_err(|_| VaultError::Gone)?;
        if d.version != rec.version {
            return Err(VaultError::Gone);
        }
        let dek = secret.unwrap_dek(&rec.wrap, &Binding::document_key(d.id, d.version))?;
        let info = self.info(&d, &dek)?;
        rec.downloads += 1;
        db::put(&self.db().shares, lookup, &rec)?;
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

    pub(crate) fn remove_shares_of(&self, document: DocumentId) -> Result<()> {
        for kv in self.db().shares.iter() {
            let (k, v) = kv?;
            let r: ShareRecord = serde_json::from_slice(&v)?;
            if r.document == document {
                self.db().shares.remove(k)?;
                self.db().share_ids.remove(r.id.as_bytes())?;
            }
        }
        Ok(())
    }
}
