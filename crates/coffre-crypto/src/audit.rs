//! Audit journal primitives: canonical entries, the SHA-256 hash chain and
//! Ed25519-signed checkpoints.
//!
//! `hash(n) = SHA-256(hash(n-1) ‖ digest(n))`, `hash(0)` = 32 zero bytes,
//! where `digest(n) = SHA-256(label ‖ vault_tag(n) ‖ SHA-256(canonical(n)))`
//! and `vault_tag(n) = SHA-256(label ‖ seq ‖ beneficiary)`. Chaining a digest
//! rather than the entry's bytes lets an export for one person carry other
//! people's entries as their vault tag and content hash only
//! ([`Link::Elided`]) and still verify end to end; the vault tag lets the
//! verifier check that no entry of *that* person was hidden so. A tag names
//! no one, and tags of one person do not link together (each is keyed by the
//! entry's number), but it is no secret: whoever knows a person's id can
//! recognise that person's tags. A checkpoint signs `(seq, hash(seq), time)`. The journal never holds document content or
//! secrets: entries carry ids, actions and outcomes only.

pub mod export;

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::digest::{Context, SHA256};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::binding::Binding;
use crate::error::ChainBreak;
use crate::root::RootKeyRing;
use crate::{Error, Result};

/// One journal entry. Strings are ids and short codes, never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// Who acted, e.g. `caseworker:<id>`, `beneficiary:<id>`, `operator`, `anonymous`.
    pub actor: String,
    /// What was attempted, e.g. `document.download`.
    pub action: String,
    /// `ok`, `denied`, `failed`.
    pub outcome: String,
    /// The vault concerned, if any (a beneficiary id).
    pub beneficiary: Option<String>,
    /// The document concerned, if any.
    pub document: Option<String>,
    /// A short reason or parameter (never a secret, title or file name).
    pub detail: Option<String>,
}

impl Entry {
    /// The canonical encoding that is hashed: a domain label, `seq` and
    /// `time_ms` as 8 bytes big-endian, then each text field as a presence
    /// byte (0 absent, 1 present) and, when present, its UTF-8 length as 8
    /// bytes big-endian and its bytes, in declaration order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"coffre.org/audit-entry@v1\x00");
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        let fields: [Option<&str>; 6] = [
            Some(&self.actor),
            Some(&self.action),
            Some(&self.outcome),
            self.beneficiary.as_deref(),
            self.document.as_deref(),
            self.detail.as_deref(),
        ];
        for f in fields {
            match f {
                None => out.push(0),
                Some(s) => {
                    out.push(1);
                    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        out
    }

    /// `SHA-256(canonical(entry))`.
    pub fn content_hash(&self) -> ContentHash {
        ContentHash(sha256(&[&self.canonical_bytes()]))
    }

    /// The tag naming the vault of this entry (see [`VaultTag::of`]).
    pub fn vault_tag(&self) -> VaultTag {
        VaultTag::of(self.seq, self.beneficiary.as_deref())
    }

    /// What the chain links: all an export keeps of an entry it leaves out
    /// is the two parts of it.
    pub fn digest(&self) -> EntryDigest {
        EntryDigest::of(&self.vault_tag(), &self.content_hash())
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The SHA-256 of an entry's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

/// Which vault an entry concerns, keyed by its sequence number:
/// `SHA-256("coffre.org/audit-vault@v1\0" ‖ seq ‖ 0x00 | 0x01 ‖ len ‖ id)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VaultTag(pub [u8; 32]);

impl VaultTag {
    /// The tag of entry `seq` of vault `beneficiary` (none for entries outside any vault).
    pub fn of(seq: u64, beneficiary: Option<&str>) -> VaultTag {
        let (present, len, id): (&[u8], [u8; 8], &[u8]) = match beneficiary {
            Some(b) => (&[1], (b.len() as u64).to_be_bytes(), b.as_bytes()),
            None => (&[0], [0; 8], &[]),
        };
        VaultTag(sha256(&[
            b"coffre.org/audit-vault@v1\x00",
            &seq.to_be_bytes(),
            present,
            &len,
            id,
        ]))
    }
}

/// `SHA-256("coffre.org/audit-digest@v1\0" ‖ vault tag ‖ content hash)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryDigest(pub [u8; 32]);

impl EntryDigest {
    /// The digest the chain links for an entry with this tag and content.
    pub fn of(vault: &VaultTag, content: &ContentHash) -> EntryDigest {
        EntryDigest(sha256(&[
            b"coffre.org/audit-digest@v1\x00",
            &vault.0,
            &content.0,
        ]))
    }
}

/// A link of the hash chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The hash before the first entry.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// `SHA-256(self ‖ SHA-256(canonical(entry)))`.
    pub fn next(&self, entry: &Entry) -> ChainHash {
        self.next_digest(&entry.digest())
    }

    /// The same link from the entry's digest alone.
    pub fn next_digest(&self, digest: &EntryDigest) -> ChainHash {
        ChainHash(sha256(&[&self.0, &digest.0]))
    }
}

macro_rules! hex_newtype {
    ($t:ident, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($t), "({})"), self)
            }
        }

        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out).map_err(|_| Error::Malformed($what))?;
                Ok($t(out))
            }
        }

        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_newtype!(ChainHash, "chain hash (64 hex digits)");
hex_newtype!(EntryDigest, "entry digest (64 hex digits)");
hex_newtype!(ContentHash, "content hash (64 hex digits)");
hex_newtype!(VaultTag, "vault tag (64 hex digits)");

/// An entry with the chain hash recorded after it, as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    /// The entry.
    pub entry: Entry,
    /// The chain hash after it.
    pub hash: ChainHash,
}

/// A signed statement that the journal's entry `seq` has chain hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last entry it signs.
    pub seq: u64,
    /// The chain hash after that entry.
    pub hash: ChainHash,
    /// When it was signed (ms since the epoch).
    pub time_ms: i64,
    /// Ed25519 signature, base64.
    pub signature: String,
}

fn checkpoint_message(seq: u64, hash: &ChainHash, time_ms: i64) -> Vec<u8> {
    let mut m = b"coffre.org/audit-checkpoint@v1\x00".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&hash.0);
    m.extend_from_slice(&time_ms.to_be_bytes());
    m
}

/// The journal's Ed25519 signing key. Held by the server, sealed under the
/// root key ring at rest. ring does not zeroize its key pair; the seed does.
pub struct AuditSigningKey {
    pub(crate) seed: Zeroizing<[u8; 32]>,
    pair: Ed25519KeyPair,
}

const SIGNING_KEY_NAME: &str = "audit-signing-key";

impl AuditSigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        crate::primitives::fill(seed.as_mut_slice())?;
        Self::from_seed(seed)
    }

    fn from_seed(seed: Zeroizing<[u8; 32]>) -> Result<Self> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed.as_slice()).map_err(|_| Error::Decryption)?;
        Ok(Self { seed, pair })
    }

    /// Its public half, for auditors.
    pub fn verifying_key(&self) -> AuditVerifyingKey {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(self.pair.public_key().as_ref());
        AuditVerifyingKey(pk)
    }

    /// Signs a checkpoint for entry `seq` whose chain hash is `hash`.
    pub fn checkpoint(&self, seq: u64, hash: ChainHash, time_ms: i64) -> Checkpoint {
        let sig = self.pair.sign(&checkpoint_message(seq, &hash, time_ms));
        Checkpoint {
            seq,
            hash,
            time_ms,
            signature: B64.encode(sig.as_ref()),
        }
    }

    /// The key sealed under the root ring, for storage.
    pub fn seal(&self, root: &RootKeyRing) -> Result<Vec<u8>> {
        root.seal(
            self.seed.as_slice(),
            &Binding::server_secret(SIGNING_KEY_NAME),
        )
    }

    /// Opens a key sealed by [`AuditSigningKey::seal`].
    pub fn unseal(sealed: &[u8], root: &RootKeyRing) -> Result<Self> {
        let bytes = root.open(sealed, &Binding::server_secret(SIGNING_KEY_NAME))?;
        if bytes.len() != 32 {
            return Err(Error::Decryption);
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes);
        Self::from_seed(seed)
    }

    /// Re-seals under the ring's current version.
    pub fn reseal(sealed: &[u8], root: &RootKeyRing) -> Result<Vec<u8>> {
        root.reseal(sealed, &Binding::server_secret(SIGNING_KEY_NAME))
    }
}

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuditSigningKey {{ public: {}, seed: [redacted] }}",
            self.verifying_key()
        )
    }
}

/// The public key auditors verify checkpoints with (base64 text form).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuditVerifyingKey(pub [u8; 32]);

impl AuditVerifyingKey {
    /// Checks a checkpoint's signature.
    pub fn verify(&self, c: &Checkpoint) -> Result<()> {
        let bad = || Error::AuditChain {
            seq: c.seq,
            reason: ChainBreak::BadSignature,
        };
        let sig = B64.decode(c.signature.as_bytes()).map_err(|_| bad())?;
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(&checkpoint_message(c.seq, &c.hash, c.time_ms), &sig)
            .map_err(|_| bad())
    }
}

impl fmt::Display for AuditVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0))
    }
}

impl fmt::Debug for AuditVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditVerifyingKey({self})")
    }
}

impl FromStr for AuditVerifyingKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bytes = B64
            .decode(s.trim())
            .map_err(|_| Error::Malformed("audit verifying key"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::Malformed("audit verifying key"))?;
        Ok(Self(key))
    }
}

impl Serialize for AuditVerifyingKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuditVerifyingKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Where a (possibly partial) journal starts: the hash before its first
/// entry and that entry's expected sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// The chain hash before the first entry.
    pub prev_hash: ChainHash,
    /// The sequence number of the first entry.
    pub next_seq: u64,
}

impl Anchor {
    /// The start of a journal.
    pub const GENESIS: Anchor = Anchor {
        prev_hash: ChainHash::GENESIS,
        next_seq: 1,
    };
}

/// What a successful verification covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked in full.
    pub entries: u64,
    /// Entries present only as a digest (left out of a filtered export).
    pub elided: u64,
    /// How many checkpoints were checked.
    pub checkpoints: u64,
    /// Sequence number of the last link (the anchor's predecessor when empty).
    pub last_seq: u64,
    /// The chain hash after the last link.
    pub head: ChainHash,
}

/// One position of a journal being verified: a whole entry, or only the
/// digest of an entry a filtered export leaves out.
#[derive(Debug, Clone, Copy)]
pub enum Link<'a> {
    /// An entry, whole.
    Entry(&'a Record),
    /// An entry of another vault, as its two hashes.
    Elided {
        /// Its sequence number.
        seq: u64,
        /// The tag of its vault.
        vault: VaultTag,
        /// The hash of its content.
        content: ContentHash,
    },
}

impl Link<'_> {
    /// The link's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Link::Entry(r) => r.entry.seq,
            Link::Elided { seq, .. } => *seq,
        }
    }
}

/// Verifies a journal (or a slice of one starting at `anchor`) offline.
pub fn verify(
    records: &[Record],
    checkpoints: &[Checkpoint],
    key: &AuditVerifyingKey,
    anchor: Anchor,
) -> Result<Verified> {
    verify_links(
        records.iter().map(Link::Entry),
        checkpoints,
        key,
        anchor,
        None,
    )
}

/// Verifies a sequence of links against the checkpoints (in any order).
///
/// Fails at the first problem, naming the entry: a sequence gap or
/// reordering, a recorded hash that does not follow from the entry, a
/// checkpoint whose hash or signature does not match, or entries that no
/// checkpoint signs (so a forged line appended at the end is caught even if
/// its recorded hash was recomputed). Elided links are accepted only for a
/// journal filtered for `vault`, and never for an entry of that vault. What it
/// cannot see is a tail removed together with its checkpoints: compare `head`
/// with one obtained separately.
pub fn verify_links<'a>(
    links: impl IntoIterator<Item = Link<'a>>,
    checkpoints: &[Checkpoint],
    key: &AuditVerifyingKey,
    anchor: Anchor,
    vault: Option<&str>,
) -> Result<Verified> {
    let mut cps: Vec<&Checkpoint> = checkpoints.iter().collect();
    cps.sort_by_key(|c| c.seq);
    let mut cps = cps.into_iter().peekable();
    if let Some(c) = cps.next_if(|c| c.seq < anchor.next_seq) {
        return Err(Error::AuditChain {
            seq: c.seq,
            reason: ChainBreak::CheckpointOutOfRange,
        });
    }
    let mut v = ChainVerifier::new(key, anchor, vault);
    for link in links {
        v.push(link)?;
        let seq = link.seq();
        while let Some(c) = cps.next_if(|c| c.seq == seq) {
            v.checkpoint(c)?;
        }
    }
    if let Some(c) = cps.next() {
        return Err(Error::AuditChain {
            seq: c.seq,
            reason: ChainBreak::CheckpointOutOfRange,
        });
    }
    v.finish()
}

/// The same checks, fed one link at a time (an export is verified as it is
/// read, in bounded memory). A checkpoint must follow the link it signs.
#[derive(Debug)]
pub struct ChainVerifier {
    key: AuditVerifyingKey,
    /// The vault a filtered journal is for; `None`: no entry may be elided.
    vault: Option<String>,
    first: u64,
    next_seq: u64,
    hash: ChainHash,
    last_signed: Option<u64>,
    entries: u64,
    elided: u64,
    checkpoints: u64,
}

impl ChainVerifier {
    /// A verifier starting at `anchor`; `vault` names the person of a filtered journal.
    pub fn new(key: &AuditVerifyingKey, anchor: Anchor, vault: Option<&str>) -> Self {
        Self {
            key: *key,
            vault: vault.map(str::to_owned),
            first: anchor.next_seq,
            next_seq: anchor.next_seq,
            hash: anchor.prev_hash,
            last_signed: None,
            entries: 0,
            elided: 0,
            checkpoints: 0,
        }
    }

    /// The sequence number the next link must have.
    pub fn expected_seq(&self) -> u64 {
        self.next_seq
    }

    /// The chain hash after the last link pushed (the anchor's before any).
    pub fn head(&self) -> ChainHash {
        self.hash
    }

    /// Feeds the next link (entry or elided entry), in sequence.
    pub fn push(&mut self, link: Link<'_>) -> Result<()> {
        let seq = self.next_seq;
        if link.seq() != seq {
            return Err(Error::AuditChain {
                seq,
                reason: ChainBreak::Sequence,
            });
        }
        match link {
            Link::Entry(r) => {
                self.hash = self.hash.next(&r.entry);
                if self.hash != r.hash {
                    return Err(Error::AuditChain {
                        seq,
                        reason: ChainBreak::HashMismatch,
                    });
                }
                self.entries += 1;
            }
            Link::Elided { vault, content, .. } => {
                let hidden = match &self.vault {
                    None => true,
                    Some(b) => vault == VaultTag::of(seq, Some(b)),
                };
                if hidden {
                    return Err(Error::AuditChain {
                        seq,
                        reason: ChainBreak::Hidden,
                    });
                }
                self.hash = self.hash.next_digest(&EntryDigest::of(&vault, &content));
                self.elided += 1;
            }
        }
        self.next_seq = seq.saturating_add(1);
        Ok(())
    }

    /// A checkpoint over the link pushed last.
    pub fn checkpoint(&mut self, c: &Checkpoint) -> Result<()> {
        let last = self.next_seq.checked_sub(1).filter(|l| *l >= self.first);
        if Some(c.seq) != last {
            return Err(Error::AuditChain {
                seq: c.seq,
                reason: ChainBreak::CheckpointOutOfRange,
            });
        }
        self.key.verify(c)?;
        if c.hash != self.hash {
            return Err(Error::AuditChain {
                seq: c.seq,
                reason: ChainBreak::HashMismatch,
            });
        }
        self.last_signed = Some(c.seq);
        self.checkpoints += 1;
        Ok(())
    }

    /// Succeeds when every link is signed by a checkpoint at or after it.
    pub fn finish(self) -> Result<Verified> {
        if self.next_seq > self.first && self.last_signed != Some(self.next_seq - 1) {
            return Err(Error::AuditChain {
                seq: self.last_signed.map_or(self.first, |s| s + 1),
                reason: ChainBreak::Unsigned,
            });
        }
        Ok(Verified {
            entries: self.entries,
            elided: self.elided,
            checkpoints: self.checkpoints,
            last_seq: self.next_seq.saturating_sub(1),
            head: self.hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, action: &str) -> Entry {
        Entry {
            seq,
            time_ms: 1_700_000_000_000 + seq as i64,
            actor: "caseworker:00".into(),
            action: action.into(),
            outcome: "ok".into(),
            beneficiary: Some("b1".into()),
            document: None,
            detail: None,
        }
    }

    fn journal(n: u64) -> Vec<Record> {
        let mut h = ChainHash::GENESIS;
        (1..=n)
            .map(|s| {
                let e = entry(s, "document.download");
                h = h.next(&e);
                Record { entry: e, hash: h }
            })
            .collect()
    }

    #[test]
    fn canonical_encoding_separates_fields() {
        let mut a = entry(1, "x");
        a.beneficiary = Some("ab".into());
        a.document = Some("c".into());
        let mut b = entry(1, "x");
        b.beneficiary = Some("a".into());
        b.document = Some("bc".into());
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        let mut c = entry(1, "x");
        c.detail = Some(String::new());
        assert_ne!(entry(1, "x").canonical_bytes(), c.canonical_bytes());
    }

    #[test]
    fn verify_accepts_intact_and_names_the_bad_entry() {
        let key = AuditSigningKey::generate().unwrap();
        let vk = key.verifying_key();
        let recs = journal(10);
        let cps = vec![
            key.checkpoint(5, recs[4].hash, 1),
            key.checkpoint(10, recs[9].hash, 2),
        ];
        let ok = verify(&recs, &cps, &vk, Anchor::GENESIS).unwrap();
        assert_eq!((ok.entries, ok.checkpoints, ok.head), (10, 2, recs[9].hash));
        assert_eq!((ok.elided, ok.last_seq), (0, 10));

        let broken = |seq, reason| Err::<Verified, _>(Error::AuditChain { seq, reason });
        let check =
            |recs: &[Record], cps: &[Checkpoint]| match verify(recs, cps, &vk, Anchor::GENESIS) {
                Err(Error::AuditChain { seq, reason }) => broken(seq, reason),
                other => other,
            };

        // Altered entry, hash left alone.
        let mut t = recs.clone();
        t[3].entry.outcome = "denied".into();
        assert!(matches!(
            check(&t, &cps),
            Err(Error::AuditChain {
                seq: 4,
                reason: ChainBreak::HashMismatch
            })
        ));
        // Altered entry with every later hash recomputed: the checkpoint catches it.
        let mut t = recs.clone();
        t[3].entry.outcome = "denied".into();
        let mut h = t[2].hash;
        for r in &mut t[3..] {
            h = h.next(&r.entry);
            r.hash = h;
        }
        assert!(matches!(
            check(&t, &cps),
            Err(Error::AuditChain {
                seq: 5,
                reason: ChainBreak::HashMismatch
            })
        ));
        // Removed, swapped.
        let mut t = recs.clone();
        t.remove(6);
        assert!(matches!(
            check(&t, &cps),
            Err(Error::AuditChain {
                seq: 7,
                reason: ChainBreak::Sequence
            })
        ));
        let mut t = recs.clone();
        t.swap(1, 2);
        assert!(matches!(
            check(&t, &cps),
            Err(Error::AuditChain {
                seq: 2,
                reason: ChainBreak::Sequence
            })
        ));
        // Forged line appended with a correct-looking hash.
        let mut t = recs.clone();
        let e = entry(11, "forged");
        let h = t[9].hash.next(&e);
        t.push(Record { entry: e, hash: h });
        assert!(matches!(
            check(&t, &cps),
            Err(Error::AuditChain {
                seq: 11,
                reason: ChainBreak::Unsigned
            })
        ));
        // Forged checkpoint signature.
        let mut c = cps.clone();
        c[1].time_ms += 1;
        assert!(matches!(
            check(&recs, &c),
            Err(Error::AuditChain {
                seq: 10,
                reason: ChainBreak::BadSignature
            })
        ));
        // Another key.
        let other = AuditSigningKey::generate().unwrap().verifying_key();
        assert!(verify(&recs, &cps, &other, Anchor::GENESIS).is_err());
    }

    #[test]
    fn elided_entries_keep_the_chain_verifiable() {
        let key = AuditSigningKey::generate().unwrap();
        let vk = key.verifying_key();
        let recs = journal(6);
        let cps = vec![key.checkpoint(6, recs[5].hash, 1)];
        let links = |recs: &[Record]| -> Vec<(bool, Record)> {
            recs.iter()
                .map(|r| (r.entry.seq % 2 == 0, r.clone()))
                .collect()
        };
        let run = |l: &[(bool, Record)]| {
            verify_links(
                l.iter().map(|(keep, r)| {
                    if *keep {
                        Link::Entry(r)
                    } else {
                        Link::Elided {
                            seq: r.entry.seq,
                            vault: r.entry.vault_tag(),
                            content: r.entry.content_hash(),
                        }
                    }
                }),
                &cps,
                &vk,
                Anchor::GENESIS,
                Some("b2"),
            )
        };
        let ok = run(&links(&recs)).unwrap();
        assert_eq!((ok.entries, ok.elided, ok.head), (3, 3, recs[5].hash));
        // An elided entry's digest changed (another entry slipped in its
        // place): the next whole entry's recorded hash no longer follows.
        let mut t = links(&recs);
        t[2].1.entry.action = "forged".into();
        assert!(matches!(
            run(&t),
            Err(Error::AuditChain {
                seq: 4,
                reason: ChainBreak::HashMismatch
            })
        ));
        // A kept entry changed.
        let mut t = links(&recs);
        t[1].1.entry.outcome = "denied".into();
        assert!(matches!(
            run(&t),
            Err(Error::AuditChain {
                seq: 2,
                reason: ChainBreak::HashMismatch
            })
        ));
    }

    #[test]
    fn chain_links_the_entry_digest() {
        // Computed by hand here, so a change of definition cannot go unnoticed.
        let e = entry(7, "document.download");
        let h = |parts: &[&[u8]]| {
            let mut c = Context::new(&SHA256);
            for p in parts {
                c.update(p);
            }
            c.finish().as_ref().to_vec()
        };
        let content = h(&[&e.canonical_bytes()]);
        let vault = h(&[
            b"coffre.org/audit-vault@v1\x00",
            &7u64.to_be_bytes(),
            &[1],
            &2u64.to_be_bytes(),
            b"b1",
        ]);
        let digest = h(&[b"coffre.org/audit-digest@v1\x00", &vault, &content]);
        let link = h(&[&[0u8; 32], &digest]);
        assert_eq!(e.content_hash().0.as_slice(), content);
        assert_eq!(e.vault_tag().0.as_slice(), vault);
        assert_eq!(e.digest().0.as_slice(), digest);
        assert_eq!(ChainHash::GENESIS.next(&e).0.as_slice(), link);
        // No beneficiary: a distinct tag.
        assert_ne!(VaultTag::of(7, None), VaultTag::of(7, Some("")));
        assert_ne!(VaultTag::of(7, Some("b1")), VaultTag::of(8, Some("b1")));
    }

    #[test]
    fn an_entry_of_the_named_vault_cannot_be_hidden() {
        let key = AuditSigningKey::generate().unwrap();
        let recs = journal(3);
        let cps = vec![key.checkpoint(3, recs[2].hash, 1)];
        let hide_second = |vault: Option<&str>| {
            verify_links(
                recs.iter().map(|r| {
                    if r.entry.seq == 2 {
                        Link::Elided {
                            seq: 2,
                            vault: r.entry.vault_tag(),
                            content: r.entry.content_hash(),
                        }
                    } else {
                        Link::Entry(r)
                    }
                }),
                &cps,
                &key.verifying_key(),
                Anchor::GENESIS,
                vault,
            )
        };
        // Entries of b1, filtered for someone else: fine.
        assert!(hide_second(Some("b9")).is_ok());
        for vault in [Some("b1"), None] {
            assert!(matches!(
                hide_second(vault),
                Err(Error::AuditChain {
                    seq: 2,
                    reason: ChainBreak::Hidden
                })
            ));
        }
    }

    #[test]
    fn partial_journal_from_anchor() {
        let key = AuditSigningKey::generate().unwrap();
        let recs = journal(8);
        let anchor = Anchor {
            prev_hash: recs[2].hash,
            next_seq: 4,
        };
        let cps = vec![key.checkpoint(8, recs[7].hash, 9)];
        verify(&recs[3..], &cps, &key.verifying_key(), anchor).unwrap();
        let wrong = Anchor {
            prev_hash: recs[1].hash,
            next_seq: 4,
        };
        assert!(verify(&recs[3..], &cps, &key.verifying_key(), wrong).is_err());
    }

    #[test]
    fn signing_key_seals_under_root() {
        let mut root = RootKeyRing::generate().unwrap();
        let key = AuditSigningKey::generate().unwrap();
        let sealed = key.seal(&root).unwrap();
        root.rotate().unwrap();
        let resealed = AuditSigningKey::reseal(&sealed, &root).unwrap();
        root.retire_old_versions();
        let back = AuditSigningKey::unseal(&resealed, &root).unwrap();
        assert_eq!(back.verifying_key(), key.verifying_key());
        assert!(AuditSigningKey::unseal(&sealed, &root).is_err());
    }

    #[test]
    fn json_round_trip() {
        let r = &journal(1)[0];
        let text = serde_json::to_string(r).unwrap();
        assert!(text.contains("\"seq\":1"));
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, r);
    }
}
