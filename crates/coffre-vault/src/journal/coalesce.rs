//! Repeated refusals, counted instead of written one by one: a flood of
//! refused requests must not push what matters out of a person's journal,
//! nor fill the disk. The first refusal of a kind (same actor, action,
//! vault and document) is journaled at once; the same refusal repeated
//! while its window is open is only counted; when the window closes, one
//! entry says how many more there were and until when.
//!
//! The counts live in memory: a crash loses the repeats of the windows
//! open at that moment (never a first refusal, which is durable before it
//! is answered).

use std::collections::HashMap;
use std::sync::Mutex;

use coffre_crypto::{DocumentId, PrincipalId};

use super::{Event, NewEntry, Outcome, Who};

/// A window closes this long after its last repeat…
const QUIET_MS: i64 = 60_000;
/// …and at the latest this long after it opened.
const LONGEST_MS: i64 = 10 * 60_000;
/// Most windows kept open; past it, all are closed (their summaries
/// written) before a new one opens.
const MAX_WINDOWS: usize = 10_000;

type Key = (String, Event, Option<PrincipalId>, Option<DocumentId>);

#[derive(Debug, Clone)]
struct Window {
    actor: Who,
    opened_ms: i64,
    last_ms: i64,
    repeats: u64,
}

/// What to do with a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Journal it (and any summaries returned first).
    Write,
    /// Counted in an open window; nothing to write.
    Counted,
}

#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    windows: Mutex<HashMap<Key, Window>>,
}

fn key(e: &NewEntry) -> Key {
    (e.actor.to_string(), e.event, e.beneficiary, e.document)
}

fn summary(k: &Key, w: &Window) -> NewEntry {
    let mut e = NewEntry::new(w.actor, k.1, Outcome::Denied).detail(format!(
        "repeated {} more times until {} ms (since {} ms)",
        w.repeats, w.last_ms, w.opened_ms
    ));
    e.beneficiary = k.2;
    e.document = k.3;
    e
}

impl Coalescer {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides for a refusal at `now_ms`; the summaries of windows it
    /// closes are returned, to be written before it.
    pub fn admit(&self, e: &NewEntry, now_ms: i64) -> (Admit, Vec<NewEntry>) {
        debug_assert_eq!(e.outcome, Outcome::Denied);
        let k = key(e);
        let mut windows = self.lock();
        let mut due = Vec::new();
        if let Some(w) = windows.get_mut(&k) {
            if now_ms - w.last_ms < QUIET_MS && now_ms - w.opened_ms < LONGEST_MS {
                w.repeats += 1;
                w.last_ms = now_ms;
                return (Admit::Counted, due);
            }
            if let Some(old) = windows.remove(&k)
                && old.repeats > 0
            {
                due.push(summary(&k, &old));
            }
        }
        if windows.len() >= MAX_WINDOWS {
            for (k, w) in windows.drain() {
                if w.repeats > 0 {
                    due.push(summary(&k, &w));
                }
            }
        }
        windows.insert(
            k,
            Window {
                actor: e.actor,
                opened_ms: now_ms,
                last_ms: now_ms,
                repeats: 0,
            },
        );
        (Admit::Write, due)
    }

    /// Closes the windows that are over at `now_ms` (all of them when
    /// `everything`), returning the summaries to write.
    pub fn close(&self, now_ms: i64, everything: bool) -> Vec<NewEntry> {
        let mut windows = self.lock();
        let mut due = Vec::new();
        windows.retain(|k, w| {
            let over =
                everything || now_ms - w.last_ms >= QUIET_MS || now_ms - w.opened_ms >= LONGEST_MS;
            if over && w.repeats > 0 {
                due.push(summary(k, w));
            }
            !over
        });
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(b: PrincipalId) -> NewEntry {
        NewEntry::denied(
            Who::Caseworker(PrincipalId::from_bytes([7; 16])),
            Event::DocumentList,
        )
        .vault(b)
    }

    #[test]
    fn a_flood_is_one_entry_and_a_summary() {
        let c = Coalescer::default();
        let b = PrincipalId::from_bytes([1; 16]);
        assert_eq!(c.admit(&refusal(b), 0).0, Admit::Write);
        for t in 1..10_000 {
            let (a, due) = c.admit(&refusal(b), t);
            assert_eq!(a, Admit::Counted);
            assert!(due.is_empty());
        }
        // Another vault is another window.
        let other = PrincipalId::from_bytes([2; 16]);
        assert_eq!(c.admit(&refusal(other), 10_000).0, Admit::Write);
        assert!(c.close(9_999 + QUIET_MS - 1, false).is_empty());
        let due = c.close(9_999 + QUIET_MS, false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].beneficiary, Some(b));
        assert!(
            due[0]
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("repeated 9999 more times until 9999 ms")),
            "{:?}",
            due[0].detail
        );
        // A window with no repeat closes silently.
        assert!(c.close(i64::MAX / 2, true).is_empty());
    }

    #[test]
    fn a_steady_trickle_is_summed_up_every_ten_minutes() {
        let c = Coalescer::default();
        let b = PrincipalId::from_bytes([1; 16]);
        let mut written = 0;
        let mut summaries = 0;
        // One refusal every 30 s for an hour.
        for i in 0..120 {
            let (a, due) = c.admit(&refusal(b), i * 30_000);
            summaries += due.len();
            if a == Admit::Write {
                written += 1;
            }
        }
        summaries += c.close(i64::MAX / 2, true).len();
        assert_eq!(written, 6);
        assert_eq!(summaries, 6);
    }
}
