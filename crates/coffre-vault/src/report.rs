//! What a structure reports to its funders: counts per month, read from
//! the journal — people enrolled, papers added and duplicates printed by
//! its members, links they made that were opened, consents given to it and
//! withdrawn.
//! Counts only: no name, identifier or title leaves here, and the pages
//! show a count under [`SMALL_COUNT`] as "< 5".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use coffre_crypto::PrincipalId;
use tokio::sync::Semaphore;

use crate::journal::{DownloadFailure, Event, NewEntry, Who};
use crate::model::Date;
use crate::policy::StructureAction;
use crate::session::{Principal, Session};
use crate::{Result, Vault, VaultError};

/// Counts under this are shown as "< 5" (a small count could point at a
/// person).
pub const SMALL_COUNT: u64 = 5;
/// Months a report covers at most.
pub const REPORT_MONTHS_MAX: u32 = 24;
/// Journal entries read at a time.
const PAGE: usize = 1000;
/// Duplicates remembered per member and paper, to take back the one whose
/// paper did not open.
const PRINTS_KEPT: usize = 4;
/// Who printed a duplicate of which paper: `(actor, document)` as journaled.
type Printer = (String, Option<String>);
/// `(year, month)`.
type Month = (i16, i8);

/// One month of a structure's activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthCounts {
    /// `(year, month)`.
    pub month: (i16, i8),
    pub enrolled: u64,
    pub papers_added: u64,
    pub duplicates: u64,
    pub links_opened: u64,
    pub consents_given: u64,
    pub consents_withdrawn: u64,
}

impl Vault {
    /// Structure admin: the structure's activity for the last `months`
    /// months (this one included), oldest first. Journaled for the
    /// operator. Reads the journal from the window's start: its cost grows
    /// with the server's activity over those months.
    pub async fn activity_report(
        &self,
        session: &Session,
        months: u32,
    ) -> Result<Vec<MonthCounts>> {
        let Principal::Caseworker { structure, .. } = session.principal else {
            return Err(VaultError::Forbidden("structure admins only"));
        };
        self.authorize_structure(
            session,
            StructureAction::ManageCaseworkers,
            structure,
            Event::JournalRead,
        )
        .await?;
        let months = months.clamp(1, REPORT_MONTHS_MAX);
        let now = Date::from_epoch_ms(self.now_ms());
        let mut order = Vec::new();
        let (mut y, mut m) = (now.year(), now.month());
        for _ in 0..months {
            order.push((y, m));
            (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        }
        order.reverse();
        let first = order[0];
        let start_ms = jiff::civil::date(first.0, first.1, 1)
            .since(jiff::civil::date(1970, 1, 1))
            .map_or(0, |span| i64::from(span.get_days()) * 86_400_000);
        let counts: BTreeMap<(i16, i8), MonthCounts> = order
            .iter()
            .map(|&month| {
                (
                    month,
                    MonthCounts {
                        month,
                        ..MonthCounts::default()
                    },
                )
            })
            .collect();
        // The scan reads files for a while: off the async workers, one
        // report at a time (two admins at once must not take both cores).
        let _turn = reports()
            .acquire()
            .await
            .map_err(|_| VaultError::Internal("report turns"))?;
        let vault = self.clone();
        let counts = tokio::task::spawn_blocking(move || vault.tally(structure, start_ms, counts))
            .await
            .map_err(|_| VaultError::Internal("activity report"))??;
        self.journal(
            NewEntry::ok(session.principal.who(), Event::JournalRead).detail(format!(
                "activity report, {months} months, structure:{structure}"
            )),
        )
        .await?;
        Ok(counts.into_values().collect())
    }

    /// Counts the journal's entries since `start_ms` into `counts`.
    fn tally(
        &self,
        structure: PrincipalId,
        start_ms: i64,
        mut counts: BTreeMap<(i16, i8), MonthCounts>,
    ) -> Result<BTreeMap<(i16, i8), MonthCounts>> {
        let members: HashSet<String> = self
            .records()
            .read()
            .caseworkers()
            .of_structure(structure)?
            .into_iter()
            .map(|c| Who::Caseworker(c.id).to_string())
            .collect();
        let tag = format!("structure:{structure}");
        let journal = self.records().journal();
        // The whole journal from the window's first entry, in order: the
        // people who since left the structure count too (their consent
        // withdrawn is exactly what a report must show). The first entry
        // is found by bisection on time.
        let end = journal.end();
        let (mut lo, mut hi) = (1u64, end.saturating_add(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match journal.record(mid)? {
                Some(r) if r.entry.time_ms < start_ms => lo = mid + 1,
                _ => hi = mid,
            }
        }
        // Links this structure's members made (in the window), to count
        // their opening.
        let mut ours: HashSet<String> = HashSet::new();
        // The months duplicates were counted in, by member and paper.
        let mut printed_at: HashMap<Printer, Vec<Month>> = HashMap::new();
        let mut seq = lo;
        while seq <= end {
            let last = seq.saturating_add(PAGE as u64 - 1).min(end);
            for r in journal.range(seq, last)? {
                let e = r.entry;
                let by_us = members.contains(&e.actor);
                let event = Event::from_code(&e.action);
                // A download's entry precedes its opening: a duplicate whose
                // paper then did not open is followed by a failed entry
                // ("duplicate, not opened: integrity"), and was never
                // printed. It is taken off the month its `ok` entry was
                // counted in (the newest such entry of that member and
                // paper). A failure before any `ok` entry ("duplicate:
                // store", a remote store out of reach) takes nothing back.
                if e.outcome == "failed"
                    && event == Some(Event::DocumentDownload)
                    && e.detail
                        .as_deref()
                        .and_then(DownloadFailure::parse)
                        .is_some_and(|f| f.duplicate && f.after_entry)
                {
                    let printed = printed_at
                        .get_mut(&(e.actor.clone(), e.document.clone()))
                        .and_then(Vec::pop);
                    if let Some(month) = printed
                        && let Some(c) = counts.get_mut(&month)
                    {
                        c.duplicates = c.duplicates.saturating_sub(1);
                    }
                    continue;
                }
                if e.outcome != "ok" {
                    continue;
                }
                if event == Some(Event::ShareCreate)
                    && by_us
                    && let Some(id) = share_of(e.detail.as_deref())
                {
                    ours.insert(id);
                }
                let day = Date::from_epoch_ms(e.time_ms);
                let Some(c) = counts.get_mut(&(day.year(), day.month())) else {
                    continue;
                };
                let about_us = e.detail.as_deref().is_some_and(|d| names(d, &tag));
                match event {
                    Some(Event::BeneficiaryEnroll) if by_us => c.enrolled += 1,
                    Some(Event::DocumentUpload) if by_us => c.papers_added += 1,
                    Some(Event::DocumentDownload)
                        if by_us && e.detail.as_deref() == Some("duplicate") =>
                    {
                        c.duplicates += 1;
                        let months = printed_at
                            .entry((e.actor.clone(), e.document.clone()))
                            .or_default();
                        // The failed entry follows within the request:
                        // a few kept per member and paper are enough.
                        if months.len() == PRINTS_KEPT {
                            months.remove(0);
                        }
                        months.push((day.year(), day.month()));
                    }
                    Some(Event::ShareDownload)
                        if e.actor
                            .strip_prefix("share:")
                            .is_some_and(|s| ours.contains(s)) =>
                    {
                        c.links_opened += 1;
                    }
                    Some(Event::GrantCreate) if about_us => c.consents_given += 1,
                    Some(Event::GrantRevoke) if about_us => c.consents_withdrawn += 1,
                    _ => {}
                }
            }
            seq = last + 1;
        }
        Ok(counts)
    }
}

/// The share id a `share.create` entry's detail names.
fn share_of(detail: Option<&str>) -> Option<String> {
    let rest = detail?.strip_prefix("share:")?;
    Some(rest.split_whitespace().next()?.to_owned())
}

/// Whether a detail names `tag` (`structure:<id>`) as a whole word.
fn names(detail: &str, tag: &str) -> bool {
    detail
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .any(|w| w == tag)
}

/// One report at a time.
fn reports() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| Semaphore::new(1))
}

/// How a page shows a count: as is, or "< 5".
pub fn shown_count(n: u64) -> Option<u64> {
    (n >= SMALL_COUNT || n == 0).then_some(n)
}
