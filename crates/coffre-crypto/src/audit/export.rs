//! The audit export format, version 1 (`docs/AUDIT.md`): JSON Lines, one
//! [`Line`] per line, inside an age file.
//!
//! ```text
//! {"type":"header", "format":"coffre-audit-export/1", …, "anchor":{…}}
//! {"type":"entry", "seq":41, …, "hash":"…"}        an entry in the export
//! {"type":"elided", "seq":42, "vault":"…", "content":"…"}   an entry left out
//! {"type":"checkpoint", "seq":42, "hash":"…", …}   follows the entry it signs
//! {"type":"end", "entries":1, "elided":1, "checkpoints":1}
//! ```

use serde::{Deserialize, Serialize};

use super::{
    Anchor, AuditVerifyingKey, ChainBreak, ChainHash, ChainVerifier, Checkpoint, ContentHash, Link,
    Record, VaultTag, Verified,
};
use crate::{Error, PrincipalId, Result};

/// The format name in every export's header.
pub const FORMAT: &str = "coffre-audit-export/1";

/// Sequence number and chain hash of one journal position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The sequence number.
    pub seq: u64,
    /// The chain hash after it.
    pub hash: ChainHash,
}

/// What the export covers and how to start verifying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// When the export was written (ms since the epoch).
    pub exported_at_ms: i64,
    /// The server's version.
    pub server_version: String,
    /// The key checkpoints are signed with. Taken from the file it proves
    /// little: compare it with the one the operator publishes.
    pub verifying_key: AuditVerifyingKey,
    /// Where the first line of the export attaches to the journal.
    pub anchor: Anchor,
    /// The signed checkpoint the anchor is (absent when the export starts at
    /// the journal's first entry): without it, entries could be cut from the
    /// start and the rest re-anchored.
    pub anchor_checkpoint: Option<Checkpoint>,
    /// Sequence numbers covered, inclusive.
    pub from_seq: u64,
    /// The last entry exported.
    pub to_seq: u64,
    /// The journal's head when the export was made (it may lie past
    /// `to_seq` when `until` was given).
    pub journal_head: Position,
    /// The period asked (ms since the epoch), if any.
    pub since_ms: Option<i64>,
    /// The end of the period asked, if any.
    pub until_ms: Option<i64>,
    /// When set, entries of other vaults are present as digests only.
    pub beneficiary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
/// One line of an export (JSON Lines).
pub enum Line {
    /// The first line.
    Header(Header),
    /// An entry, whole.
    Entry(Record),
    /// An entry about someone else, as its two hashes.
    Elided {
        /// Its sequence number.
        seq: u64,
        /// The tag of its vault.
        vault: VaultTag,
        /// The hash of its content.
        content: ContentHash,
    },
    /// A signed checkpoint over the line before it.
    Checkpoint(Checkpoint),
    /// The last line: what the file holds.
    End(Counts),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
/// How many lines of each kind an export holds.
pub struct Counts {
    /// Whole entries.
    pub entries: u64,
    /// Elided entries.
    pub elided: u64,
    /// Checkpoints.
    pub checkpoints: u64,
}

/// What a verified export proved.
#[derive(Debug, Clone)]
pub struct Report {
    /// The export's header.
    pub header: Header,
    /// What the chain check found.
    pub verified: Verified,
    /// Time of the first and last whole entry.
    pub first_time_ms: Option<i64>,
    /// The time of the last entry, if any.
    pub last_time_ms: Option<i64>,
    /// Every entry journaled after this signed time (the anchor checkpoint's)
    /// is in the export, up to `signed_until_ms`; `None`: from the journal's
    /// first entry.
    pub complete_from_ms: Option<i64>,
    /// The signed time of the last checkpoint.
    pub signed_until_ms: Option<i64>,
}

/// What the auditor knows independently of the file, from the operator or
/// from heads published earlier. Each given value must hold.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The journal's verifying key.
    pub key: Option<AuditVerifyingKey>,
    /// The person the export is for. Without it, the export must be a full
    /// one: no entry may be left out.
    pub beneficiary: Option<PrincipalId>,
    /// The first entry the export must start with.
    pub from_seq: Option<u64>,
    /// Chain hashes at given entries (heads published earlier): the export
    /// must reach each and agree with it.
    pub heads: Vec<Position>,
}

/// Checks an export line by line, in bounded memory.
#[derive(Debug, Default)]
pub struct Verifier {
    expect: Expect,
    state: State,
    first_time_ms: Option<i64>,
    last_time_ms: Option<i64>,
    last_checkpoint_ms: Option<i64>,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Start,
    Body {
        header: Box<Header>,
        chain: ChainVerifier,
    },
    Ended(Box<Report>),
}

/// The export must start right after a signed checkpoint, or at the
/// journal's first entry.
fn check_anchor(h: &Header) -> Result<()> {
    let bad = || Error::AuditChain {
        seq: h.anchor.next_seq,
        reason: ChainBreak::Anchor,
    };
    if h.from_seq != h.anchor.next_seq || h.to_seq < h.from_seq.saturating_sub(1) {
        return Err(bad());
    }
    if h.anchor == Anchor::GENESIS {
        // No checkpoint to show for the journal's very start.
        return if h.anchor_checkpoint.is_none() {
            Ok(())
        } else {
            Err(bad())
        };
    }
    let Some(c) = &h.anchor_checkpoint else {
        return Err(bad());
    };
    if c.seq.checked_add(1) != Some(h.anchor.next_seq) || c.hash != h.anchor.prev_hash {
        return Err(bad());
    }
    h.verifying_key.verify(c).map_err(|_| bad())
}

/// The header against what the auditor knows.
fn check_expectations(h: &Header, expect: &Expect) -> Result<()> {
    if h.format != FORMAT {
        return Err(Error::Malformed(
            "audit export: unknown format (expected coffre-audit-export/1)",
        ));
    }
    if let Some(k) = &expect.key
        && *k != h.verifying_key
    {
        return Err(Error::Malformed(
            "audit export: signed with another key than the one expected",
        ));
    }
    // The beneficiary decides which entries may be elided: it must be
    // exactly the one the auditor was told, in its one spelling.
    let named = match &h.beneficiary {
        None => None,
        Some(text) => {
            let id: PrincipalId = text
                .parse()
                .map_err(|_| Error::Malformed("audit export: beneficiary is not an id"))?;
            if id.to_string() != *text {
                return Err(Error::Malformed(
                    "audit export: beneficiary id not in its canonical form",
                ));
            }
            Some(id)
        }
    };
    if named != expect.beneficiary {
        return Err(Error::Malformed(match named {
            Some(_) => {
                "audit export: made for one person (others' entries left out), not the export expected"
            }
            None => "audit export: a full export, not the one-person export expected",
        }));
    }
    check_anchor(h)?;
    if let Some(from) = expect.from_seq
        && from != h.from_seq
    {
        return Err(Error::AuditChain {
            seq: from,
            reason: ChainBreak::Anchor,
        });
    }
    Ok(())
}

impl Verifier {
    /// A verifier that will check what `expect` pins.
    pub fn new(expect: Expect) -> Self {
        Self {
            expect,
            ..Self::default()
        }
    }

    /// Feeds the next line.
    pub fn push(&mut self, line: Line) -> Result<()> {
        let State::Body { chain, .. } = &mut self.state else {
            return match (&self.state, line) {
                (State::Start, Line::Header(h)) => {
                    check_expectations(&h, &self.expect)?;
                    let chain =
                        ChainVerifier::new(&h.verifying_key, h.anchor, h.beneficiary.as_deref());
                    self.state = State::Body {
                        header: Box::new(h),
                        chain,
                    };
                    Ok(())
                }
                (State::Start, _) => Err(Error::Malformed(
                    "audit export: the first line is not a header",
                )),
                _ => Err(Error::Malformed("audit export: lines after the end line")),
            };
        };
        match line {
            Line::Entry(r) => {
                chain.push(Link::Entry(&r))?;
                self.first_time_ms.get_or_insert(r.entry.time_ms);
                self.last_time_ms = Some(r.entry.time_ms);
            }
            Line::Elided {
                seq,
                vault,
                content,
            } => chain.push(Link::Elided {
                seq,
                vault,
                content,
            })?,
            Line::Checkpoint(c) => {
                chain.checkpoint(&c)?;
                self.last_checkpoint_ms = Some(c.time_ms);
                return Ok(());
            }
            Line::Header(_) => return Err(Error::Malformed("audit export: a second header")),
            Line::End(counts) => {
                let State::Body { header, chain } = std::mem::take(&mut self.state) else {
                    return Err(Error::Malformed("audit export: internal state"));
                };
                return self.end(*header, chain, counts);
            }
        }
        // A head published earlier for the entry just read.
        let seq = chain.expected_seq().saturating_sub(1);
        match self.expect.heads.iter().find(|p| p.seq == seq) {
            Some(p) if p.hash != chain.head() => Err(Error::AuditChain {
                seq,
                reason: ChainBreak::PinnedHead,
            }),
            _ => Ok(()),
        }
    }

    fn end(&mut self, header: Header, chain: ChainVerifier, counts: Counts) -> Result<()> {
        let verified = chain.finish()?;
        let got = Counts {
            entries: verified.entries,
            elided: verified.elided,
            checkpoints: verified.checkpoints,
        };
        if got != counts {
            return Err(Error::Malformed(
                "audit export: the end line's counts do not match the lines read",
            ));
        }
        if verified.last_seq != header.to_seq {
            return Err(Error::AuditChain {
                seq: verified.last_seq.saturating_add(1),
                reason: ChainBreak::Sequence,
            });
        }
        // Every published head given must lie inside the export.
        if let Some(p) = self
            .expect
            .heads
            .iter()
            .find(|p| p.seq < header.from_seq || p.seq > verified.last_seq)
        {
            return Err(Error::AuditChain {
                seq: p.seq,
                reason: ChainBreak::PinnedHead,
            });
        }
        let complete_from_ms = header.anchor_checkpoint.as_ref().map(|c| c.time_ms);
        self.state = State::Ended(Box::new(Report {
            header,
            verified,
            first_time_ms: self.first_time_ms,
            last_time_ms: self.last_time_ms,
            complete_from_ms,
            signed_until_ms: self.last_checkpoint_ms,
        }));
        Ok(())
    }

    /// The sequence number the next entry line must carry (to name the
    /// entry a line that does not parse stood for).
    pub fn expected_seq(&self) -> Option<u64> {
        match &self.state {
            State::Body { chain, .. } => Some(chain.expected_seq()),
            _ => None,
        }
    }

    /// The report, once the end line was read.
    pub fn finish(self) -> Result<Report> {
        match self.state {
            State::Ended(r) => Ok(*r),
            _ => Err(Error::Malformed("audit export: truncated (no end line)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditSigningKey, Entry};

    const PERSON: &str = "00112233445566778899aabbccddeeff";

    fn person() -> PrincipalId {
        PERSON.parse().unwrap()
    }

    fn export(n: u64, elide_odd: bool) -> (Vec<String>, AuditVerifyingKey) {
        let key = AuditSigningKey::generate().unwrap();
        let mut h = ChainHash::GENESIS;
        let mut body = Vec::new();
        let mut counts = Counts::default();
        for seq in 1..=n {
            let entry = Entry {
                seq,
                time_ms: 1_700_000_000_000 + seq as i64,
                actor: "operator".into(),
                action: "maintenance.gc".into(),
                outcome: "ok".into(),
                beneficiary: None,
                document: None,
                detail: None,
            };
            h = h.next(&entry);
            if elide_odd && seq % 2 == 1 {
                body.push(Line::Elided {
                    seq,
                    vault: entry.vault_tag(),
                    content: entry.content_hash(),
                });
                counts.elided += 1;
            } else {
                body.push(Line::Entry(Record { entry, hash: h }));
                counts.entries += 1;
            }
            if seq % 3 == 0 || seq == n {
                body.push(Line::Checkpoint(key.checkpoint(seq, h, 0)));
                counts.checkpoints += 1;
            }
        }
        let header = Line::Header(Header {
            format: FORMAT.into(),
            exported_at_ms: 0,
            server_version: "test".into(),
            verifying_key: key.verifying_key(),
            anchor: Anchor::GENESIS,
            anchor_checkpoint: None,
            from_seq: 1,
            to_seq: n,
            journal_head: Position { seq: n, hash: h },
            since_ms: None,
            until_ms: None,
            beneficiary: elide_odd.then(|| PERSON.to_string()),
        });
        let lines = std::iter::once(header)
            .chain(body)
            .chain(std::iter::once(Line::End(counts)))
            .map(|l| serde_json::to_string(&l).unwrap())
            .collect();
        (lines, key.verifying_key())
    }

    fn check(lines: &[String], key: Option<&AuditVerifyingKey>) -> Result<Report> {
        check_with(
            lines,
            Expect {
                key: key.copied(),
                ..Expect::default()
            },
        )
    }

    fn check_with(lines: &[String], expect: Expect) -> Result<Report> {
        let mut v = Verifier::new(expect);
        for l in lines {
            v.push(serde_json::from_str(l).unwrap())?;
        }
        v.finish()
    }

    #[test]
    fn intact_exports_verify_and_round_trip() {
        for elide in [false, true] {
            let (lines, key) = export(7, elide);
            assert!(lines[1].starts_with(if elide {
                r#"{"type":"elided","seq":1,"#
            } else {
                r#"{"type":"entry","seq":1,"#
            }));
            let expect = Expect {
                key: Some(key),
                beneficiary: elide.then(person),
                from_seq: Some(1),
                heads: Vec::new(),
            };
            let r = check_with(&lines, expect.clone()).unwrap();
            assert_eq!(r.verified.last_seq, 7);
            assert_eq!(r.verified.entries + r.verified.elided, 7);
            assert_eq!(r.verified.head, r.header.journal_head.hash);
            // What the auditor was not told about the person is refused:
            // a one-person export taken for a full one, or the reverse.
            let wrong = Expect {
                beneficiary: if elide { None } else { Some(person()) },
                ..expect
            };
            assert!(check_with(&lines, wrong).is_err());
        }
    }

    #[test]
    fn the_person_named_is_bound_to_what_the_auditor_expects() {
        // A full export relabelled as one person's, to elide any entry.
        let (lines, key) = export(4, false);
        let Line::Header(mut h) = serde_json::from_str(&lines[0]).unwrap() else {
            panic!()
        };
        h.beneficiary = Some(PERSON.to_uppercase());
        let mut t = lines.clone();
        t[0] = serde_json::to_string(&Line::Header(h.clone())).unwrap();
        let expect = Expect {
            key: Some(key),
            beneficiary: Some(person()),
            ..Expect::default()
        };
        // Another spelling of the right id: refused.
        assert!(check_with(&t, expect.clone()).is_err());
        // The right spelling, but the auditor asked for a full export.
        h.beneficiary = Some(PERSON.into());
        t[0] = serde_json::to_string(&Line::Header(h)).unwrap();
        assert!(check_with(&t, Expect::default()).is_err());
    }

    #[test]
    fn published_heads_and_start_are_checked() {
        let (lines, key) = export(7, false);
        let Line::Entry(e4) = serde_json::from_str(&lines[5]).unwrap() else {
            panic!("{}", lines[5])
        };
        let pinned = |seq, hash| Expect {
            key: Some(key),
            heads: vec![Position { seq, hash }],
            ..Expect::default()
        };
        assert!(check_with(&lines, pinned(4, e4.hash)).is_ok());
        assert!(matches!(
            check_with(&lines, pinned(4, ChainHash::GENESIS)),
            Err(Error::AuditChain {
                seq: 4,
                reason: ChainBreak::PinnedHead
            })
        ));
        // A head past the end: the export does not reach it.
        assert!(check_with(&lines, pinned(9, e4.hash)).is_err());
        // The start the auditor was told.
        let from = |f| Expect {
            from_seq: Some(f),
            ..Expect::default()
        };
        assert!(check_with(&lines, from(1)).is_ok());
        assert!(check_with(&lines, from(4)).is_err());
    }

    #[test]
    fn structural_tampering_is_refused() {
        let (lines, key) = export(7, false);
        let other = AuditSigningKey::generate().unwrap().verifying_key();
        assert!(check(&lines, Some(&key)).is_ok());
        assert!(check(&lines, Some(&other)).is_err());
        // Tail cut with its checkpoint and a recounted end line: the header's
        // range still names the missing entries.
        let mut t: Vec<String> = lines[..lines.len() - 3].to_vec();
        t.push(r#"{"type":"end","entries":6,"elided":0,"checkpoints":2}"#.into());
        assert!(matches!(
            check(&t, None),
            Err(Error::AuditChain { seq: 7, .. })
        ));
        // No end line.
        assert!(check(&lines[..lines.len() - 1], None).is_err());
        // No header.
        assert!(check(&lines[1..], None).is_err());
    }

    #[test]
    fn no_entry_is_elided_in_a_full_export() {
        let (lines, _) = export(4, false);
        let mut t = lines.clone();
        let Line::Entry(r) = serde_json::from_str(&t[2]).unwrap() else {
            panic!()
        };
        t[2] = serde_json::to_string(&Line::Elided {
            seq: r.entry.seq,
            vault: r.entry.vault_tag(),
            content: r.entry.content_hash(),
        })
        .unwrap();
        assert!(matches!(
            check(&t, None),
            Err(Error::AuditChain {
                seq: 2,
                reason: ChainBreak::Hidden
            })
        ));
    }

    /// The export cut at the start: entries 1..=3 dropped, re-anchored on
    /// entry 3's hash (taken from its line).
    fn cut_start(lines: &[String], checkpoint: Option<Checkpoint>) -> Vec<String> {
        let Line::Entry(third) = serde_json::from_str(&lines[3]).unwrap() else {
            panic!()
        };
        let Line::Header(mut h) = serde_json::from_str(&lines[0]).unwrap() else {
            panic!()
        };
        h.anchor = Anchor {
            prev_hash: third.hash,
            next_seq: 4,
        };
        h.from_seq = 4;
        h.anchor_checkpoint = checkpoint;
        let mut t = vec![serde_json::to_string(&Line::Header(h)).unwrap()];
        // Lines 4.. are: the checkpoint at 3, then entry 4 onwards.
        t.extend(lines[5..lines.len() - 1].iter().cloned());
        t.push(r#"{"type":"end","entries":4,"elided":0,"checkpoints":2}"#.into());
        t
    }

    #[test]
    fn an_export_starts_at_a_signed_checkpoint() {
        let (lines, key) = export(7, false);
        let Line::Checkpoint(c3) = serde_json::from_str(&lines[4]).unwrap() else {
            panic!("{}", lines[4])
        };
        assert_eq!(c3.seq, 3);
        // Anchored on the signed checkpoint: a valid export of 4..=7.
        let r = check(&cut_start(&lines, Some(c3.clone())), Some(&key)).unwrap();
        assert_eq!(r.complete_from_ms, Some(c3.time_ms));
        // ...which an auditor told the export starts at entry 1 refuses.
        let told = Expect {
            key: Some(key),
            from_seq: Some(1),
            ..Expect::default()
        };
        assert!(check_with(&cut_start(&lines, Some(c3.clone())), told).is_err());
        // Without it, or with one that does not sign that position: refused.
        assert!(matches!(
            check(&cut_start(&lines, None), Some(&key)),
            Err(Error::AuditChain {
                reason: ChainBreak::Anchor,
                ..
            })
        ));
        let mut forged = c3;
        forged.time_ms += 1;
        assert!(check(&cut_start(&lines, Some(forged)), Some(&key)).is_err());
    }
}
