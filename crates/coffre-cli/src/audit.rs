//! `coffre audit export` (server side, through the socket) and `coffre audit
//! verify` (offline, on the auditor's machine). Format: `docs/AUDIT.md`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use coffre_api::admin::protocol::{AuditPageReply, AuditRangeReply, Request};
use coffre_crypto::audit::export::{self, Counts, Header, Line, Position, Report};
use coffre_crypto::audit::{AuditVerifyingKey, ChainHash};
use coffre_crypto::{Identity, PrincipalId, Recipient, archive};
use serde_json::json;

use crate::admin::{Admin, progress_bar};
use crate::print;

/// Entries asked for per request.
const PAGE: usize = 2000;
/// Longest line `verify` reads (an entry is a few hundred bytes).
const MAX_LINE: u64 = 1 << 20;

pub struct ExportArgs {
    pub data_dir: PathBuf,
    pub recipients: Vec<String>,
    pub out: PathBuf,
    pub since: Option<String>,
    pub until: Option<String>,
    pub beneficiary: Option<String>,
    pub json: bool,
}

/// `2026-11-01`, `2026-11-01T10:00:00Z` or `2026-11-01 10:00:00` (UTC) to
/// milliseconds since the epoch. A date alone is its first millisecond, or
/// its last when `end_of_day` (so `--until 2026-11-30` includes that day).
pub fn parse_time(s: &str, end_of_day: bool) -> anyhow::Result<i64> {
    let date_only = s.len() == 10;
    let full = if date_only {
        format!("{s} 00:00:00")
    } else {
        s.to_string()
    };
    let t = humantime::parse_rfc3339_weak(&full).with_context(|| {
        format!("`{s}` is not a date: write 2026-11-01 or 2026-11-01T10:00:00Z (UTC)")
    })?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .context("dates before 1970 are not accepted")?
        .as_millis();
    let ms = i64::try_from(ms)?;
    Ok(if date_only && end_of_day {
        ms + 86_400_000 - 1
    } else {
        ms
    })
}

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    if a.recipients.is_empty() {
        bail!("name the auditor with --recipient age1… (their age public key)");
    }
    let recipients = a
        .recipients
        .iter()
        .map(|r| {
            r.parse::<Recipient>()
                .map_err(|_| anyhow::anyhow!("`{r}` is not an age recipient (age1…)"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let beneficiary = a
        .beneficiary
        .as_deref()
        .map(|b| {
            b.parse::<PrincipalId>()
                .map_err(|_| anyhow::anyhow!("`{b}` is not a beneficiary id"))
        })
        .transpose()?;
    let since_ms = a
        .since
        .as_deref()
        .map(|t| parse_time(t, false))
        .transpose()?;
    let until_ms = a
        .until
        .as_deref()
        .map(|t| parse_time(t, true))
        .transpose()?;
    if let (Some(s), Some(u)) = (since_ms, until_ms) {
        anyhow::ensure!(s <= u, "--since is after --until");
    }
    if a.out.exists() {
        bail!("{} exists already; choose another --out", a.out.display());
    }
    let mut admin = Admin::connect(&a.data_dir)?;
    let AuditRangeReply { range } = admin.call(
        &Request::AuditRange {
            since_ms,
            until_ms,
            beneficiary,
        },
        &mut |_, _| {},
    )?;

    let partial = partial_path(&a.out);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let result = (|| -> anyhow::Result<Counts> {
        let mut w = archive::ArchiveWriter::new(&recipients, std::io::BufWriter::new(file))?;
        let header = Line::Header(Header {
            format: export::FORMAT.into(),
            exported_at_ms: now_ms(),
            server_version: env!("CARGO_PKG_VERSION").into(),
            verifying_key: range.verifying_key,
            anchor: range.anchor,
            anchor_checkpoint: range.anchor_checkpoint.clone(),
            from_seq: range.from_seq,
            to_seq: range.to_seq,
            journal_head: range.journal_head,
            since_ms,
            until_ms,
            beneficiary: beneficiary.map(|b| b.to_string()),
        });
        write_line(&mut w, &header)?;
        let mut counts = Counts::default();
        let bar = progress_bar("exporting");
        bar.set_length((range.to_seq + 1).saturating_sub(range.from_seq));
        let mut from = range.from_seq;
        while from <= range.to_seq {
            let AuditPageReply { lines } = admin.call(
                &Request::AuditPage {
                    from,
                    to: range.to_seq,
                    beneficiary,
                    limit: PAGE,
                },
                &mut |_, _| {},
            )?;
            let mut last = None;
            for l in &lines {
                match l {
                    Line::Entry(r) => {
                        counts.entries += 1;
                        last = Some(r.entry.seq);
                    }
                    Line::Elided { seq, .. } => {
                        counts.elided += 1;
                        last = Some(*seq);
                    }
                    Line::Checkpoint(_) => counts.checkpoints += 1,
                    _ => bail!("the server sent an unexpected line"),
                }
                write_line(&mut w, l)?;
            }
            let Some(last) = last.filter(|l| *l >= from) else {
                bail!(
                    "the journal ended before entry {from}; is the data directory the right one?"
                );
            };
            bar.set_position((last + 1).saturating_sub(range.from_seq));
            from = last + 1;
        }
        bar.finish_and_clear();
        write_line(&mut w, &Line::End(counts))?;
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(counts)
    })();
    let counts = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let v = json!({
        "out": a.out.display().to_string(),
        "from_seq": range.from_seq,
        "to_seq": range.to_seq,
        "entries": counts.entries,
        "elided": counts.elided,
        "checkpoints": counts.checkpoints,
        "verifying_key": range.verifying_key.to_string(),
        "end": range.end,
        "journal_head": range.journal_head,
    });
    print(&v, a.json, |o| {
        writeln!(
            o,
            "audit export written to {} (entries {}..{}: {} whole, {} left out as digests, {} checkpoints)",
            a.out.display(),
            range.from_seq,
            range.to_seq,
            counts.entries,
            counts.elided,
            counts.checkpoints
        )?;
        writeln!(o, "give the auditor, by another channel than the file:")?;
        writeln!(o, "  verifying key: {}", range.verifying_key)?;
        writeln!(o, "  first entry:   {}", range.from_seq)?;
        writeln!(
            o,
            "  last entry:    {} hash {}",
            range.end.seq, range.end.hash
        )?;
        let person = beneficiary
            .map(|b| format!(" --beneficiary {b}"))
            .unwrap_or_default();
        writeln!(
            o,
            "they check it with: coffre audit verify --identity KEYFILE --key {} --from {} --head {}{person} {}",
            range.verifying_key,
            range.from_seq,
            range.end.hash,
            a.out.display()
        )
    })
}

fn write_line(w: &mut impl Write, l: &Line) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *w, l)?;
    w.write_all(b"\n")?;
    Ok(())
}

fn partial_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub struct VerifyArgs {
    pub file: PathBuf,
    pub identity: Option<PathBuf>,
    pub key: Option<String>,
    pub heads: Vec<String>,
    pub from: Option<u64>,
    pub beneficiary: Option<String>,
    pub json: bool,
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    let key = a
        .key
        .as_deref()
        .map(|k| {
            k.parse::<AuditVerifyingKey>()
                .map_err(|_| anyhow::anyhow!("--key `{k}` is not a journal verifying key"))
        })
        .transpose()?;
    // `HASH`: the export's last entry; `SEQ:HASH`: a head published earlier.
    let mut head = None;
    let mut pins = Vec::new();
    for h in &a.heads {
        let bad = || anyhow::anyhow!("--head `{h}` is not HASH or ENTRY:HASH (64 hex digits)");
        match h.split_once(':') {
            Some((seq, hash)) => pins.push(Position {
                seq: seq.parse().map_err(|_| bad())?,
                hash: hash.parse().map_err(|_| bad())?,
            }),
            None => head = Some(h.parse::<ChainHash>().map_err(|_| bad())?),
        }
    }
    let beneficiary = a
        .beneficiary
        .as_deref()
        .map(|b| {
            b.parse::<PrincipalId>()
                .map_err(|_| anyhow::anyhow!("--beneficiary `{b}` is not a beneficiary id"))
        })
        .transpose()?;
    let expect = export::Expect {
        key,
        beneficiary,
        from_seq: a.from,
        heads: pins.clone(),
    };
    let mut file = BufReader::new(
        std::fs::File::open(&a.file)
            .with_context(|| format!("cannot open {}", a.file.display()))?,
    );
    let encrypted = archive::looks_encrypted(file.fill_buf()?);
    let reader: Box<dyn Read> = if encrypted {
        let Some(id_path) = &a.identity else {
            bail!("this export is encrypted: give the auditor's identity with --identity KEYFILE");
        };
        let text = std::fs::read_to_string(id_path)
            .with_context(|| format!("cannot read {}", id_path.display()))?;
        let identity = Identity::from_identity_file(&text)
            .map_err(|_| anyhow::anyhow!("{} is not an age identity file", id_path.display()))?;
        Box::new(archive::open(&identity, file).map_err(|_| {
            anyhow::anyhow!(
                "this identity does not open the export (not encrypted to it, or damaged)"
            )
        })?)
    } else {
        Box::new(file)
    };
    let report = check(BufReader::new(reader), expect)?;
    if let Some(h) = head
        && h != report.verified.head
    {
        bail!(
            "the export ends at entry {} with hash {}, not the head you were given ({h}): entries are missing at the end",
            report.verified.last_seq,
            report.verified.head
        );
    }
    let h = &report.header;
    let v = json!({
        "intact": true,
        "from_seq": h.from_seq,
        "to_seq": h.to_seq,
        "entries": report.verified.entries,
        "elided": report.verified.elided,
        "checkpoints": report.verified.checkpoints,
        "head": report.verified.head,
        "verifying_key": h.verifying_key.to_string(),
        "key_checked": key.is_some(),
        "head_checked": head.is_some(),
        "published_heads_checked": pins.len(),
        "start_checked": a.from.is_some(),
        "beneficiary": h.beneficiary,
        "first_time_ms": report.first_time_ms,
        "last_time_ms": report.last_time_ms,
        "complete_from_ms": report.complete_from_ms,
        "signed_until_ms": report.signed_until_ms,
    });
    print(&v, a.json, |o| {
        writeln!(
            o,
            "intact: entries {}..{} ({} whole, {} as digests), {} signed checkpoints",
            h.from_seq,
            h.to_seq,
            report.verified.entries,
            report.verified.elided,
            report.verified.checkpoints
        )?;
        if let (Some(f), Some(l)) = (report.first_time_ms, report.last_time_ms) {
            writeln!(o, "period: {} to {}", fmt_ms(f), fmt_ms(l))?;
        }
        let until = report
            .signed_until_ms
            .map_or_else(|| "-".to_owned(), fmt_ms);
        match report.complete_from_ms {
            Some(t) => writeln!(
                o,
                "complete: every entry journaled after {}, up to {until} (signed times)",
                fmt_ms(t)
            )?,
            None => writeln!(
                o,
                "complete: the whole journal from its first entry, up to {until} (signed time)"
            )?,
        }
        if let Some(b) = &h.beneficiary {
            writeln!(
                o,
                "vault:  {b} (other vaults' entries present as digests only)"
            )?;
        }
        writeln!(
            o,
            "head:   entry {} hash {}",
            report.verified.last_seq, report.verified.head
        )?;
        writeln!(o, "key:    {}", h.verifying_key)?;
        if key.is_none() {
            writeln!(
                o,
                "note: the key above comes from the file itself; pass --key with the one the operator gave you"
            )?;
        }
        if head.is_none() {
            writeln!(
                o,
                "note: pass --head with the last entry's hash the operator gave you, to prove nothing is missing at the end"
            )?;
        }
        if a.from.is_none() {
            writeln!(
                o,
                "note: pass --from with the first entry the operator gave you, to prove nothing is missing at the start"
            )?;
        }
        if !pins.is_empty() {
            writeln!(o, "published heads: {} checked, all agree", pins.len())?;
        }
        Ok(())
    })
}

fn fmt_ms(ms: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Reads and verifies the lines, naming the entry and line of the first problem.
fn check(mut input: impl BufRead, expect: export::Expect) -> anyhow::Result<Report> {
    let key = expect.key;
    let beneficiary = expect.beneficiary;
    let mut v = export::Verifier::new(expect);
    let mut n = 0u64;
    loop {
        let mut line = String::new();
        let read = (&mut input)
            .take(MAX_LINE)
            .read_line(&mut line)
            .context("the export does not decrypt to the end (damaged or truncated)")?;
        if read == 0 {
            break;
        }
        n += 1;
        if !line.ends_with('\n') && read as u64 == MAX_LINE {
            bail!("line {n}: longer than any export line");
        }
        let at = match v.expected_seq() {
            Some(s) => format!("line {n}, at entry {s}"),
            None => format!("line {n}"),
        };
        let parsed: Line = serde_json::from_str(line.trim_end()).map_err(|_| {
            anyhow::anyhow!("NOT INTACT: {at}: not an audit export line (altered?)")
        })?;
        if let Line::Header(h) = &parsed {
            if let Some(k) = key
                && h.verifying_key != k
            {
                bail!(
                    "NOT INTACT: the export is signed with the key {}, not the one you were given ({k}): it does not come from that journal",
                    h.verifying_key
                );
            }
            let named = h.beneficiary.as_deref();
            match (named, beneficiary) {
                (Some(b), None) => bail!(
                    "this export is for one person ({b}): other people's entries are left out of it. If that is the export you asked for, verify it with --beneficiary {b}"
                ),
                (None, Some(b)) => {
                    bail!("this is a full export, not the export for {b} you were told about")
                }
                (Some(b), Some(want)) if b != want.to_string() => bail!(
                    "NOT INTACT: the export names {b} as its person, not {want}: entries may have been hidden"
                ),
                _ => {}
            }
        }
        if let Err(e) = v.push(parsed) {
            match e {
                coffre_crypto::Error::AuditChain { seq, reason } => {
                    bail!("NOT INTACT: entry {seq} (line {n}): {reason}")
                }
                other => bail!("NOT INTACT: {at}: {other}"),
            }
        }
    }
    v.finish().map_err(|e| anyhow::anyhow!("NOT INTACT: {e}"))
}
