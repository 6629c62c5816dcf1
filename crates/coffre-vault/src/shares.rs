//! Share links: one document version for a third party without an account,
//! until an expiry and a download limit. The server keeps the link's lookup
//! key and the DEK wrapped under a key derived from its secret, never the
//! secret itself. A link made by a structure dies with that structure's
//! consent (revocation, expiry, the document made private).

use coffre_crypto::wrap::ShareSecret;
use coffre_crypto::{DocumentId, PrincipalId, ShareId};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::access::Access;
use crate::documents::{DocumentInfo, PlaintextStream};
use crate::journal::{Event, NewEntry, Who};
use crate::model::DAY_MS;
use crate::policy::Action;
use crate::records::ShareRecord;
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// A link just made: its secret goes to the caller once.
#[derive(Debug)]
pub struct ShareCreated {
    pub share_id: ShareId,
    /// The secret for the URL (`/s/{token}`). Shown once, never stored.
    pub token: Zeroizing<String>,
    pub expires_ms: i64,
}

/// A link as its owner sees it.
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
const MAX_SHARES_PER_VAULT: u64 = 1000;

/// A live link, as its page shows it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ShareStatus {
    pub expires_ms: i64,
    pub downloads_left: u32,
}

/// A copy given through a link: the paper, and what its mark says.
pub struct SharedCopy {
    pub info: DocumentInfo,
    pub stream: PlaintextStream,
    /// Whom the link was made for, if it was named.
    pub recipient: Option<String>,
    /// When it is given (now).
    pub given_ms: i64,
}

impl std::fmt::Debug for SharedCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCopy")
            .field("document", &self.info.document_id)
            .finish_non_exhaustive()
    }
}

/// Longest recipient name ("CAF de Lyon", "Préfecture du Rhône").
pub const MAX_RECIPIENT_CHARS: usize = 80;

/// A recipient's name, checked: one line, 1 to 80 characters.
pub(crate) fn recipient_text(name: &str) -> Result<String> {
    let refused = || {
        VaultError::Invalid(format!(
            "a recipient is 1 to {MAX_RECIPIENT_CHARS} characters on one line"
        ))
    };
    // The check every text of a paper passes (trimmed, printable, bounded),
    // and not empty.
    let name =
        crate::documents::text(name, MAX_RECIPIENT_CHARS, "recipient").map_err(|_| refused())?;
    if name.is_empty() {
        return Err(refused());
    }
    Ok(name)
}

impl Vault {
    pub async fn create_share(
        &self,
        session: &Session,
        document: DocumentId,
        days: Option<u32>,
        max_downloads: u32,
    ) -> Result<ShareCreated> {
        self.make_share(session, document, days, max_downloads, None)
            .await
    }

    /// A link for a named recipient: the copy it gives carries "Copie
    /// transmise à {recipient} le {date}".
    pub async fn create_share_to(
        &self,
        session: &Session,
        document: DocumentId,
        days: Option<u32>,
        max_downloads: u32,
        recipient: &str,
    ) -> Result<ShareCreated> {
        let recipient = recipient_text(recipient)?;
        self.make_share(session, document, days, max_downloads, Some(&recipient))
            .await
    }

    async fn make_share(
        &self,
        session: &Session,
        document: DocumentId,
        days: Option<u32>,
        max_downloads: u32,
        recipient: Option<&str>,
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
        let secret = ShareSecret::generate()?;
        let now = self.now_ms();
        let rec = ShareRecord {
            id: ShareId::random()?,
            document: d.id,
            version: d.version,
            beneficiary: d.beneficiary,
            category: d.category,
            created_by: session.principal.who().to_string(),
            structure: match session.principal {
                Principal::Caseworker { structure, .. } => Some(structure),
                Principal::Beneficiary { .. } => None,
            },
            created_ms: now,
            expires_ms: now + i64::from(days) * DAY_MS,
            max_downloads,
            downloads: 0,
            wrap: Access::share_wrap(&secret, &dek, &d)?,
            sealed_recipient: match recipient {
                Some(r) => coffre_crypto::object::seal_field(
                    &dek,
                    &coffre_crypto::object::ObjectHeader::new(d.id, d.version),
                    coffre_crypto::object::Field::Recipient,
                    r,
                )?,
                None => Vec::new(),
            },
        };
        let lookup = secret.lookup_key()?;
        self.retrying(|| {
            let stamp = self.beneficiary(d.beneficiary)?.stamp;
            // The structure's consent, checked again when the link is
            // written: a revocation meanwhile would leave it behind.
            if let Principal::Caseworker { structure, .. } = session.principal
                && !self
                    .grant_state(d.beneficiary, structure, d.category)?
                    .can_view()
            {
                return Err(VaultError::Forbidden(
                    "no live consent to view this category",
                ));
            }
            self.records().write(|tx| {
                tx.beneficiaries().expect_stamp(d.beneficiary, stamp)?;
                if tx
                    .documents()
                    .get(d.id)?
                    .is_none_or(|cur| cur.private() && rec.structure.is_some())
                {
                    return Err(VaultError::NotFound.into());
                }
                tx.shares().insert(&lookup, &rec)?;
                // The cap, inside the transaction: concurrent links cannot
                // pass it together.
                tx.beneficiaries().update(d.beneficiary, |b| {
                    if b.shares >= MAX_SHARES_PER_VAULT {
                        return Err(VaultError::Conflict(
                            "too many share links in this vault; revoke some",
                        )
                        .into());
                    }
                    b.shares += 1;
                    Ok(())
                })
            })
        })?;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::ShareCreate)
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
        let (d, _) = self
            .readable(session, document, Action::CreateShare)
            .await?;
        Ok(self
            .links_of(&d)?
            .into_iter()
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

    /// The live links of a vault (neither expired nor used up), newest
    /// first: what "Qui voit mes papiers" shows the person.
    pub async fn vault_shares(
        &self,
        session: &Session,
        beneficiary: PrincipalId,
    ) -> Result<Vec<ShareInfo>> {
        self.authorize(session, Action::ListGrants, beneficiary, None, None)
            .await?;
        if !matches!(session.principal, Principal::Beneficiary { id } if id == beneficiary) {
            return Err(VaultError::Forbidden(
                "only the person sees all their links",
            ));
        }
        let now = self.now_ms();
        let mut out: Vec<ShareInfo> = self
            .records()
            .read()
            .shares()
            .of_vault(beneficiary)?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.expires_ms > now && r.downloads < r.max_downloads)
            .map(|r| ShareInfo {
                share_id: r.id,
                document_id: r.document,
                created_by: r.created_by,
                expires_ms: r.expires_ms,
                max_downloads: r.max_downloads,
                downloads: r.downloads,
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.expires_ms));
        Ok(out)
    }

    /// Revokes a link: its row (and so its key wrap) is deleted.
    pub async fn revoke_share(&self, session: &Session, share: ShareId) -> Result<()> {
        let _writing = self.writing().await;
        let who = session.principal.who();
        let Some((lookup, rec)) = self.records().read().shares().by_id(share)? else {
            self.journal(NewEntry::denied(who, Event::ShareRevoke).detail("unknown link"))
                .await?;
            return Err(VaultError::NotFound);
        };
        // The owner, or whoever created it.
        if who.to_string() != rec.created_by {
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
        if !self.records().write(|tx| tx.drop_share(&lookup, &rec))? {
            return Err(VaultError::NotFound);
        }
        self.journal(
            NewEntry::ok(who, Event::ShareRevoke)
                .vault(rec.beneficiary)
                .doc(rec.document)
                .detail(format!("share:{share}")),
        )
        .await?;
        Ok(())
    }

    /// What a link's page says before anything is downloaded: until when
    /// it works and how many downloads are left. Nothing is counted or
    /// journaled (a messaging app's link preview, a `HEAD`, a person who
    /// opens the page and goes no further use nothing up); nothing about
    /// the paper is told. `Gone` for a link that would not download.
    pub fn share_status(&self, token: &str) -> Result<ShareStatus> {
        let secret = ShareSecret::from_token(token).map_err(|_| VaultError::Gone)?;
        let lookup = secret.lookup_key()?;
        let Some(rec) = self.records().read().shares().by_lookup(&lookup)? else {
            return Err(VaultError::Gone);
        };
        let consent_ended = match rec.structure {
            Some(structure) => !self
                .grant_state(rec.beneficiary, structure, rec.category)?
                .can_view(),
            None => false,
        };
        if consent_ended || rec.expires_ms <= self.now_ms() || rec.downloads >= rec.max_downloads {
            return Err(VaultError::Gone);
        }
        Ok(ShareStatus {
            expires_ms: rec.expires_ms,
            downloads_left: rec.max_downloads - rec.downloads,
        })
    }

    /// Anonymous redemption of a link. The download is counted atomically
    /// and durably before the stream is returned; expired, exhausted or
    /// revoked links are `Gone`.
    pub async fn redeem_share(&self, token: &str) -> Result<(DocumentInfo, PlaintextStream)> {
        let copy = self.redeem_share_copy(token).await?;
        Ok((copy.info, copy.stream))
    }

    /// The same, with what the copy's mark says.
    pub async fn redeem_share_copy(&self, token: &str) -> Result<SharedCopy> {
        let _writing = self.writing().await;
        let anonymous = |detail: &'static str| {
            NewEntry::denied(Who::Anonymous, Event::ShareDownload).detail(detail)
        };
        let Ok(secret) = ShareSecret::from_token(token) else {
            self.journal(anonymous("malformed link")).await?;
            return Err(VaultError::Gone);
        };
        let lookup = secret.lookup_key()?;
        let now = self.now_ms();
        // A link a structure made lives only while that structure may view
        // the paper: between an expiry and the sweeper's pass, too.
        if let Some(rec) = self.records().read().shares().by_lookup(&lookup)?
            && let Some(structure) = rec.structure
            && !self
                .grant_state(rec.beneficiary, structure, rec.category)?
                .can_view()
        {
            self.journal(
                NewEntry::denied(Who::Share(rec.id), Event::ShareDownload)
                    .vault(rec.beneficiary)
                    .doc(rec.document)
                    .detail("the structure's consent ended"),
            )
            .await?;
            return Err(VaultError::Gone);
        }
        // Counted in one transaction: concurrent redemptions of the last
        // download cannot both pass.
        let counted = self.records().write(|tx| {
            let Some(mut rec) = tx.shares().by_lookup(&lookup)? else {
                return Ok(Err(None));
            };
            if rec.expires_ms <= now || rec.downloads >= rec.max_downloads {
                return Ok(Err(Some(rec)));
            }
            rec.downloads += 1;
            tx.shares().put(&lookup, &rec)?;
            Ok(Ok(rec))
        })?;
        let rec = match counted {
            Ok(rec) => rec,
            Err(None) => {
                self.journal(anonymous("unknown or revoked link")).await?;
                return Err(VaultError::Gone);
            }
            Err(Some(rec)) => {
                self.journal(
                    NewEntry::denied(Who::Share(rec.id), Event::ShareDownload)
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
        };
        let d = match self.document(rec.document) {
            Ok(d) if d.version == rec.version => d,
            _ => return Err(VaultError::Gone),
        };
        let dek = Access::share_dek(&secret, &rec.wrap, &d)?;
        let info = self.info(&d, &dek)?;
        let recipient = if rec.sealed_recipient.is_empty() {
            None
        } else {
            let opened = coffre_crypto::object::open_field(
                &dek,
                &coffre_crypto::object::ObjectHeader::new(d.id, d.version),
                coffre_crypto::object::Field::Recipient,
                &rec.sealed_recipient,
            )
            .map_err(|_| VaultError::Integrity)?;
            Some(opened.as_str().to_owned())
        };
        let stream = self.open_object(&d, dek).await?;
        self.journal(
            NewEntry::ok(Who::Share(rec.id), Event::ShareDownload)
                .vault(rec.beneficiary)
                .doc(rec.document)
                .detail(format!(
                    "download {} of {}",
                    rec.downloads, rec.max_downloads
                )),
        )
        .await?;
        Ok(SharedCopy {
            info,
            stream,
            recipient,
            given_ms: now,
        })
    }
}
