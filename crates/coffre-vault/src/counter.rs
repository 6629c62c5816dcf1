//! Counter links ("Montrer au guichet"): the person shows a paper at a
//! counter and the agent gets a copy without taking the phone, through a
//! QR code (a link with a 256-bit token) or a short code typed at `/c`
//! (9 characters, 45 bits). Single use, a few minutes, stopped at once by
//! "Arrêter de montrer".
//!
//! They live in memory only, never on disk: the document key they hold
//! for their few minutes is not in the database, so a thief with the disks
//! finds nothing of them, and a short code cannot be attacked offline. A
//! restart ends them (the person makes another). Short-code guessing is
//! bounded by the per-address limit of the page and by a global budget
//! here; the arithmetic is in SECURITY.md.

use std::collections::HashMap;
use std::sync::Mutex;

use coffre_crypto::{Dek, DocumentId, PrincipalId, ShareId};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::documents::{DocumentInfo, PlaintextStream};
use crate::journal::{Event, NewEntry, Who};
use crate::policy::Action;
use crate::session::{Principal, Session};
use crate::shares::recipient_text;
use crate::{Result, Vault, VaultError};

/// The short code's alphabet: no 0/O, 1/I, so it reads and types
/// without doubt. 32 letters: 5 bits each.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters in a short code (45 bits).
pub const CODE_LEN: usize = 9;
/// Longest life of a counter link.
pub const MAX_MINUTES: u32 = 60;
/// Live counter links per person, and in all.
const MAX_PER_PERSON: usize = 5;
const MAX_LIVE: usize = 10_000;
/// Short codes tried per minute, all clients together.
pub const CODE_TRIES_PER_MINUTE: u32 = 600;

/// A counter link just made, for the person's page.
#[derive(Debug)]
pub struct CounterCreated {
    pub id: ShareId,
}

/// A live counter link as its owner's page shows it.
#[derive(Debug, Clone)]
pub struct CounterView {
    pub id: ShareId,
    pub document: DocumentId,
    /// For the QR code's link (`/c/{token}`).
    pub token: Zeroizing<String>,
    /// To type at `/c`, shown as `ABC-DEF-GHJ`.
    pub code: Zeroizing<String>,
    pub recipient: String,
    pub expires_ms: i64,
}

/// What the agent gets: the paper and what its mark says.
pub struct CounterCopy {
    pub info: DocumentInfo,
    pub stream: PlaintextStream,
    pub recipient: String,
    pub given_ms: i64,
}

impl std::fmt::Debug for CounterCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterCopy")
            .field("document", &self.info.document_id)
            .finish_non_exhaustive()
    }
}

struct Link {
    id: ShareId,
    beneficiary: PrincipalId,
    document: DocumentId,
    version: u32,
    dek: Dek,
    recipient: String,
    token: Zeroizing<String>,
    code: Zeroizing<String>,
    expires_ms: i64,
}

#[derive(Default)]
struct Table {
    /// By SHA-256 of the token.
    links: HashMap<[u8; 32], Link>,
    /// SHA-256 of the short code → SHA-256 of the token.
    codes: HashMap<[u8; 32], [u8; 32]>,
    /// Short codes tried in the current minute: `(minute, count)`.
    tries: (i64, u32),
}

impl Table {
    fn sweep(&mut self, now_ms: i64) {
        self.links.retain(|_, l| l.expires_ms > now_ms);
        let live = &self.links;
        self.codes.retain(|_, t| live.contains_key(t));
    }

    fn remove(&mut self, token_hash: &[u8; 32]) -> Option<Link> {
        let link = self.links.remove(token_hash)?;
        self.codes.remove(&hash(link.code.as_bytes()));
        Some(link)
    }
}

/// The counter links of a vault process.
#[derive(Default)]
pub(crate) struct CounterLinks {
    table: Mutex<Table>,
}

impl CounterLinks {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Table>> {
        self.table
            .lock()
            .map_err(|_| VaultError::Internal("counter table"))
    }
}

impl Link {
    fn view(&self) -> CounterView {
        CounterView {
            id: self.id,
            document: self.document,
            token: self.token.clone(),
            code: self.code.clone(),
            recipient: self.recipient.clone(),
            expires_ms: self.expires_ms,
        }
    }
}

fn hash(b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, b).as_ref());
    out
}

/// A short code as typed: spaces and dashes dropped, upper case.
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn random_code() -> Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new([0u8; CODE_LEN]);
    SystemRandom::new()
        .fill(raw.as_mut())
        .map_err(|_| VaultError::Internal("no randomness"))?;
    // 32 letters: the low 5 bits of each byte are uniform.
    Ok(Zeroizing::new(
        raw.iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect(),
    ))
}

impl Vault {
    /// The person shows a paper at a counter: a single-use link for
    /// `recipient`, living `minutes`.
    pub async fn create_counter_link(
        &self,
        session: &Session,
        document: DocumentId,
        recipient: &str,
        minutes: u32,
    ) -> Result<CounterCreated> {
        let recipient = recipient_text(recipient)?;
        if minutes == 0 || minutes > MAX_MINUTES {
            return Err(VaultError::Invalid(format!(
                "a counter link lives 1 to {MAX_MINUTES} minutes"
            )));
        }
        let (d, dek) = self
            .readable(session, document, Action::CreateShare)
            .await?;
        // Only the person shows their own papers at a counter.
        if session.principal != (Principal::Beneficiary { id: d.beneficiary }) {
            return Err(VaultError::Forbidden("only the person shows their papers"));
        }
        let secret = coffre_crypto::wrap::ShareSecret::generate()?;
        let token = secret.to_token();
        let code = random_code()?;
        let now = self.now_ms();
        let id = ShareId::random()?;
        let link = Link {
            id,
            beneficiary: d.beneficiary,
            document: d.id,
            version: d.version,
            dek,
            recipient,
            token: token.clone(),
            code: code.clone(),
            expires_ms: now + i64::from(minutes) * 60_000,
        };
        {
            let mut t = self.inner.counter.lock()?;
            t.sweep(now);
            let mine = t
                .links
                .values()
                .filter(|l| l.beneficiary == d.beneficiary)
                .count();
            if mine >= MAX_PER_PERSON || t.links.len() >= MAX_LIVE {
                return Err(VaultError::Conflict(
                    "too many papers shown at once; stop one first",
                ));
            }
            let token_hash = hash(token.as_bytes());
            t.codes.insert(hash(code.as_bytes()), token_hash);
            t.links.insert(token_hash, link);
        }
        self.journal(
            NewEntry::ok(session.principal.who(), Event::ShareCreate)
                .vault(d.beneficiary)
                .doc(d.id)
                .detail(format!("counter:{id} minutes:{minutes}")),
        )
        .await?;
        Ok(CounterCreated { id })
    }

    /// A live counter link of the person's, for their page (QR code and
    /// short code shown while it lives).
    pub fn counter_link(&self, session: &Session, id: ShareId) -> Result<CounterView> {
        let now = self.now_ms();
        let mut t = self.inner.counter.lock()?;
        t.sweep(now);
        t.links
            .values()
            .find(|l| {
                l.id == id && session.principal == (Principal::Beneficiary { id: l.beneficiary })
            })
            .map(Link::view)
            .ok_or(VaultError::NotFound)
    }

    /// The person's live counter links.
    pub fn counter_links(&self, session: &Session) -> Result<Vec<CounterView>> {
        let Principal::Beneficiary { id: me } = session.principal else {
            return Ok(Vec::new());
        };
        let now = self.now_ms();
        let mut t = self.inner.counter.lock()?;
        t.sweep(now);
        Ok(t.links
            .values()
            .filter(|l| l.beneficiary == me)
            .map(Link::view)
            .collect())
    }

    /// "Arrêter de montrer": the link ends at once.
    pub async fn stop_counter_link(&self, session: &Session, id: ShareId) -> Result<()> {
        let stopped = {
            let mut t = self.inner.counter.lock()?;
            let key = t
                .links
                .iter()
                .find(|(_, l)| {
                    l.id == id
                        && session.principal == (Principal::Beneficiary { id: l.beneficiary })
                })
                .map(|(k, _)| *k);
            key.and_then(|k| t.remove(&k))
        };
        let Some(link) = stopped else {
            return Err(VaultError::NotFound);
        };
        self.journal(
            NewEntry::ok(session.principal.who(), Event::ShareRevoke)
                .vault(link.beneficiary)
                .doc(link.document)
                .detail(format!("counter:{id}")),
        )
        .await?;
        Ok(())
    }

    /// Whether a counter link's token is live (its page, before the agent
    /// asks for the copy): nothing is used or journaled.
    pub fn counter_status(&self, token: &str) -> Result<i64> {
        let now = self.now_ms();
        let mut t = self.inner.counter.lock()?;
        t.sweep(now);
        t.links
            .get(&hash(token.as_bytes()))
            .map(|l| l.expires_ms)
            .ok_or(VaultError::Gone)
    }

    /// The agent's copy, through the QR code's token: used up at once.
    pub async fn redeem_counter_token(&self, token: &str) -> Result<CounterCopy> {
        let now = self.now_ms();
        let link = {
            let mut t = self.inner.counter.lock()?;
            t.sweep(now);
            t.remove(&hash(token.as_bytes()))
        };
        self.give_counter_copy(link, now).await
    }

    /// The agent's copy, through the short code typed at `/c`: used up at
    /// once. Every try counts against a global budget per minute.
    pub async fn redeem_counter_code(&self, typed: &str) -> Result<CounterCopy> {
        let now = self.now_ms();
        let code = normalize_code(typed);
        // What cannot be a code costs nothing and is not journaled: only
        // real tries spend the budget.
        if code.len() != CODE_LEN || !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(VaultError::Gone);
        }
        let link = {
            let mut t = self.inner.counter.lock()?;
            let minute = now.div_euclid(60_000);
            if t.tries.0 != minute {
                t.tries = (minute, 0);
            }
            if t.tries.1 >= CODE_TRIES_PER_MINUTE {
                return Err(VaultError::Busy {
                    retry_after: std::time::Duration::from_secs(
                        u64::try_from(60 - now.rem_euclid(60_000) / 1000).unwrap_or(60),
                    ),
                });
            }
            t.tries.1 += 1;
            t.sweep(now);
            let token_hash = t.codes.get(&hash(code.as_bytes())).copied();
            token_hash.and_then(|h| t.remove(&h))
        };
        self.give_counter_copy(link, now).await
    }

    async fn give_counter_copy(&self, link: Option<Link>, now: i64) -> Result<CounterCopy> {
        let Some(link) = link else {
            self.journal(
                NewEntry::denied(Who::Anonymous, Event::ShareDownload)
                    .detail("unknown or used counter link"),
            )
            .await?;
            return Err(VaultError::Gone);
        };
        // The paper as it was when shown: deleted or replaced since, gone.
        let d = match self.document(link.document) {
            Ok(d) if d.version == link.version => d,
            _ => return Err(VaultError::Gone),
        };
        let info = self.info(&d, &link.dek)?;
        let stream = self.open_object(&d, link.dek).await?;
        self.journal(
            NewEntry::ok(Who::Share(link.id), Event::ShareDownload)
                .vault(link.beneficiary)
                .doc(link.document)
                .detail(format!("counter:{}", link.id)),
        )
        .await?;
        Ok(CounterCopy {
            info,
            stream,
            recipient: link.recipient,
            given_ms: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_whole_alphabet_and_nothing_else() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..400 {
            let c = random_code().unwrap();
            assert_eq!(c.len(), CODE_LEN);
            for ch in c.chars() {
                assert!(ALPHABET.contains(&(ch as u8)), "{ch}");
                seen.insert(ch);
            }
        }
        assert_eq!(seen.len(), 32, "all 32 letters come up");
        assert_eq!(normalize_code(" abc-def ghj "), "ABCDEFGHJ");
    }
}
