//! Login attempts: counted on disk before the secret is even checked
//! (Signal's order: killing the process mid-check buys no free guess), with
//! two counters per attempt:
//!
//! - one per account **and client** (an IPv4 address, an IPv6 /64, or "in
//!   a session" for a secret re-typed by someone logged in): it locks after
//!   `Limits::lockout_after` failures, for a duration that doubles with each
//!   further failure. A stranger who knows an identifier locks only
//!   themselves out: the owner, from their own phone or the desk, still
//!   logs in;
//! - one per account, all clients together, with a much higher threshold
//!   (`Limits::lockout_after_all`): many addresses together still get only
//!   so many guesses a day.
//!
//! An identifier that names no account goes through the same counters
//! (kept under its blind index, swept after a day), answers and costs: a
//! caller cannot tell it from a real one. The owner is told at their next
//! login how many attempts failed, from any client.
//!
//! Each counter is one of two explicit states, and every rule is a
//! transition below; `AttemptRecord` is only how a state is stored.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use coffre_crypto::{Identity, PrincipalId, UserSecret};

use crate::journal::{Event, NewEntry, Who};
use crate::records::AttemptRecord;
use crate::{Limits, Result, Vault, VaultError};

/// An account's login state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lockout {
    /// Logins are checked. `failures` counts every failure since the last
    /// success (the attempt being checked counts as one until it succeeds);
    /// `unreported` those the owner has not been told of.
    Open { failures: u32, unreported: u32 },
    /// No login is checked before `until`; after it, one attempt is.
    Locked {
        failures: u32,
        unreported: u32,
        until: i64,
    },
}

/// What to do with an attempt, decided before the secret is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Check the secret (the attempt is already counted as a failure).
    Check,
    /// Refuse without checking, until this time.
    Refuse { until: i64 },
}

impl Lockout {
    pub fn from_record(r: &AttemptRecord) -> Self {
        if r.locked_until_ms == 0 {
            Lockout::Open {
                failures: r.failures,
                unreported: r.unreported,
            }
        } else {
            Lockout::Locked {
                failures: r.failures,
                unreported: r.unreported,
                until: r.locked_until_ms,
            }
        }
    }

    /// The state as stored, with the time of the last attempt.
    pub fn record(self, last_ms: i64) -> AttemptRecord {
        match self {
            Lockout::Open {
                failures,
                unreported,
            } => AttemptRecord {
                failures,
                locked_until_ms: 0,
                unreported,
                last_ms,
            },
            Lockout::Locked {
                failures,
                unreported,
                until,
            } => AttemptRecord {
                failures,
                locked_until_ms: until,
                unreported,
                last_ms,
            },
        }
    }

    fn counts(self) -> (u32, u32) {
        match self {
            Lockout::Open {
                failures,
                unreported,
            }
            | Lockout::Locked {
                failures,
                unreported,
                ..
            } => (failures, unreported),
        }
    }

    /// Before a secret is checked, against a threshold of `after` failures.
    pub fn attempt(self, now: i64, l: &Limits, after: u32) -> (Lockout, Verdict) {
        match self {
            Lockout::Locked { until, .. } if until > now => (self, Verdict::Refuse { until }),
            // At the limit with attempts still being checked (parallel
            // guesses): lock now, before they finish.
            Lockout::Open {
                failures,
                unreported,
            } if failures >= after => {
                let until = now + millis(lock_duration(l, after, failures));
                (
                    Lockout::Locked {
                        failures,
                        unreported,
                        until,
                    },
                    Verdict::Refuse { until },
                )
            }
            // Below the limit, or the one attempt a lock that ran out allows.
            other => {
                let (failures, unreported) = other.counts();
                (
                    Lockout::Open {
                        failures: failures.saturating_add(1),
                        unreported: unreported.saturating_add(1),
                    },
                    Verdict::Check,
                )
            }
        }
    }

    /// After a wrong secret (already counted): locks at the limit.
    pub fn failed(self, now: i64, l: &Limits, after: u32) -> Lockout {
        let (failures, unreported) = self.counts();
        if failures >= after {
            Lockout::Locked {
                failures,
                unreported,
                until: now + millis(lock_duration(l, after, failures)),
            }
        } else {
            self
        }
    }

    /// After the right secret: a clean state, and the failures to tell the
    /// owner of (this attempt was counted as one beforehand).
    pub fn succeeded(self) -> (Lockout, u32) {
        let (_, unreported) = self.counts();
        (
            Lockout::Open {
                failures: 0,
                unreported: 0,
            },
            unreported.saturating_sub(1),
        )
    }

    pub fn locked_until(self, now: i64) -> Option<i64> {
        match self {
            Lockout::Locked { until, .. } if until > now => Some(until),
            _ => None,
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How long a counter stays locked after `failures` failures: the base
/// duration at the limit `after`, doubling with each further failure,
/// capped.
fn lock_duration(l: &Limits, after: u32, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(after).min(20);
    l.lockout_base
        .saturating_mul(1 << doublings)
        .min(l.lockout_max)
}

fn locked_out(until: i64, now: i64) -> VaultError {
    VaultError::LockedOut {
        retry_after: Duration::from_millis(u64::try_from(until - now).unwrap_or(1).max(1)),
    }
}

/// The block of addresses one client is counted as: an IPv4 address, or
/// the /64 an IPv6 address belongs to (one host usually holds a whole /64).
pub fn address_block(ip: IpAddr) -> IpAddr {
    address_prefix(ip, 4)
}

/// The wider block: an IPv4 address still, or an IPv6 /48 (one site).
pub fn site_block(ip: IpAddr) -> IpAddr {
    address_prefix(ip, 3)
}

/// IPv4 (or IPv4-mapped) addresses as they are; IPv6 cut to its first
/// `segments` 16-bit groups.
fn address_prefix(ip: IpAddr, segments: usize) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                for x in s.iter_mut().skip(segments) {
                    *x = 0;
                }
                IpAddr::V6(Ipv6Addr::from(s))
            }
        },
    }
}

/// Where an attempt comes from: it has its own counter on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A login from this address (counted by its block).
    Address(IpAddr),
    /// A secret re-typed by someone logged in (erasure, trustees, a secret
    /// change): one counter for all sessions.
    Session,
}

/// The account a secret is checked for.
pub(crate) struct Account<'a> {
    /// The account's key (its counters are kept under keys derived from it).
    pub key: &'a [u8],
    pub who: Who,
    /// The vault whose journal shows the attempt (a person's own).
    pub vault: Option<PrincipalId>,
    pub source: Source,
}

impl Account<'_> {
    /// The counter of this account and this client.
    fn client_key(&self) -> Vec<u8> {
        let mut k = self.key.to_vec();
        k.push(0);
        match self.source {
            Source::Address(ip) => match address_block(ip) {
                IpAddr::V4(v4) => k.extend_from_slice(&v4.octets()),
                IpAddr::V6(v6) => k.extend_from_slice(&v6.octets()),
            },
            Source::Session => k.push(b's'),
        }
        k
    }

    /// The counter of this account, all clients together.
    fn all_key(&self) -> Vec<u8> {
        let mut k = self.key.to_vec();
        k.push(1);
        k
    }

    fn entry(&self) -> NewEntry {
        let e = NewEntry::denied(self.who, Event::SessionCreate);
        match self.vault {
            Some(v) => e.vault(v),
            None => e,
        }
    }
}

impl Vault {
    /// A secret typed by a person, checked as a login attempt: counted on
    /// disk first, the argon2id work off the async threads, a failure
    /// counted towards the lock. The caller records success with
    /// [`Vault::attempt_succeeded`].
    pub(crate) async fn check_secret(
        &self,
        account: &Account<'_>,
        sealed: &[u8],
        secret: UserSecret,
        principal: PrincipalId,
    ) -> Result<Identity> {
        let turn = self.counted_attempt(account).await?;
        match self
            .access()
            .open_identity_in(turn, sealed.to_vec(), secret, principal)
            .await?
        {
            Some(identity) => Ok(identity),
            None => Err(self.attempt_failed(account).await),
        }
    }

    /// An attempt on `account`, counted, with the key-derivation turn its
    /// check runs in (see [`Vault::turn_for`]).
    pub(crate) async fn counted_attempt(
        &self,
        account: &Account<'_>,
    ) -> Result<crate::access::kdf_gate::Turn> {
        let turn = self.turn_for(account).await?;
        self.count_attempt(account).await?;
        // No turn only when the account looked locked, which the count
        // then refuses; unless the lock ended in between.
        match turn {
            Some(t) => Ok(t),
            None => self.inner.kdf.turn().await,
        }
    }

    /// A key-derivation turn for an attempt on `account`, taken *before* the
    /// attempt is counted so that "busy" counts nothing against anyone. An
    /// attempt that a lock will refuse anyway takes no turn (`None` inside):
    /// a guesser hammering their own lock must not fill the gate's queue.
    async fn turn_for(
        &self,
        account: &Account<'_>,
    ) -> Result<Option<crate::access::kdf_gate::Turn>> {
        let now = self.now_ms();
        let read = self.records().read();
        let locked = [account.client_key(), account.all_key()]
            .iter()
            .map(|k| read.attempts().get(k).map(|r| Lockout::from_record(&r)))
            .collect::<std::result::Result<Vec<_>, _>>()?
            .into_iter()
            .any(|l| l.locked_until(now).is_some());
        if locked {
            return Ok(None);
        }
        Ok(Some(self.inner.kdf.turn().await?))
    }

    /// What a wrong secret costs (argon2id on a sealed identity), spent on a
    /// login whose identifier matches no account.
    pub(crate) async fn decoy_check(
        &self,
        turn: crate::access::kdf_gate::Turn,
        secret: UserSecret,
    ) -> Result<()> {
        #[cfg(test)]
        self.inner
            .decoy_runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sealed = self
            .inner
            .decoy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        self.access()
            .open_identity_in(turn, sealed, secret, self.inner.decoy_id)
            .await?;
        Ok(())
    }

    /// Counts the attempt as a failure (durably) before the secret is
    /// checked, on both its counters, or refuses it while either is locked.
    pub(crate) async fn count_attempt(&self, account: &Account<'_>) -> Result<()> {
        let l = self.limits().clone();
        let now = self.now_ms();
        let (one, all) = (account.client_key(), account.all_key());
        let verdict = self.records().write(|tx| {
            let client = Lockout::from_record(&tx.attempts().get(&one)?);
            let total = Lockout::from_record(&tx.attempts().get(&all)?);
            let (client_next, client_verdict) = client.attempt(now, &l, l.lockout_after);
            let (total_next, total_verdict) = total.attempt(now, &l, l.lockout_after_all);
            let verdict = match (client_verdict, total_verdict) {
                (Verdict::Check, Verdict::Check) => Verdict::Check,
                (Verdict::Refuse { until: a }, Verdict::Refuse { until: b }) => {
                    Verdict::Refuse { until: a.max(b) }
                }
                (Verdict::Refuse { until }, _) | (_, Verdict::Refuse { until }) => {
                    Verdict::Refuse { until }
                }
            };
            // A checked attempt is counted on both counters; a refused one
            // changes only the counter that refused it (which locks).
            if verdict == Verdict::Check {
                tx.attempts().put(&one, &client_next.record(now))?;
                tx.attempts().put(&all, &total_next.record(now))?;
            } else {
                if client_verdict != Verdict::Check {
                    tx.attempts().put(&one, &client_next.record(now))?;
                }
                if total_verdict != Verdict::Check {
                    tx.attempts().put(&all, &total_next.record(now))?;
                }
            }
            Ok(verdict)
        })?;
        self.inner.journal.sync().await?;
        match verdict {
            Verdict::Check => Ok(()),
            Verdict::Refuse { until } => {
                self.journal(account.entry().detail("locked")).await?;
                Err(locked_out(until, now))
            }
        }
    }

    /// Wrong secrets this client may still type before the account locks
    /// for it: what the login page tells the person. Only this client's
    /// own counter: the account-wide one moves with other people's tries
    /// and the owner's logins, and would tell a live account from an
    /// identifier that names nobody.
    pub(crate) fn tries_left(&self, account: &Account<'_>) -> Result<u32> {
        let l = self.limits();
        let now = self.now_ms();
        let read = self.records().read();
        let left = |key: &[u8], after: u32| -> Result<u32> {
            let state = Lockout::from_record(&read.attempts().get(key)?);
            Ok(if state.locked_until(now).is_some() {
                0
            } else {
                after.saturating_sub(state.counts().0)
            })
        };
        left(&account.client_key(), l.lockout_after)
    }

    /// After a wrong secret: locks each counter at its limit, journals, and
    /// returns the error to answer with.
    pub(crate) async fn attempt_failed(&self, account: &Account<'_>) -> VaultError {
        self.attempt_failed_with(account, "wrong secret").await
    }

    /// The same, journaled as `what` (a wrong second-factor code after a
    /// right password says the password is known to someone).
    pub(crate) async fn attempt_failed_with(
        &self,
        account: &Account<'_>,
        what: &'static str,
    ) -> VaultError {
        let res: Result<VaultError> = async {
            let l = self.limits().clone();
            let now = self.now_ms();
            let (one, all) = (account.client_key(), account.all_key());
            let until = self.records().write(|tx| {
                let client = Lockout::from_record(&tx.attempts().get(&one)?).failed(
                    now,
                    &l,
                    l.lockout_after,
                );
                let total = Lockout::from_record(&tx.attempts().get(&all)?).failed(
                    now,
                    &l,
                    l.lockout_after_all,
                );
                tx.attempts().put(&one, &client.record(now))?;
                tx.attempts().put(&all, &total.record(now))?;
                Ok(client.locked_until(now).max(total.locked_until(now)))
            })?;
            let detail = match until {
                Some(until) => format!("{what}; locked for {} s", (until - now).div_euclid(1000)),
                None => what.to_owned(),
            };
            self.journal(account.entry().detail(detail)).await?;
            Ok(match until {
                Some(until) => locked_out(until, now),
                None => VaultError::Unauthenticated,
            })
        }
        .await;
        res.unwrap_or_else(|e| e)
    }

    /// Resets both counters; returns the notice of the failures, from any
    /// client, since the owner last logged in.
    /// Returns how many attempts failed since the last success.
    pub(crate) fn attempt_succeeded(&self, account: &Account<'_>) -> Result<u32> {
        let now = self.now_ms();
        let (one, all) = (account.client_key(), account.all_key());
        let failed = self.records().write(|tx| {
            let (client, _) = Lockout::from_record(&tx.attempts().get(&one)?).succeeded();
            let (total, failed) = Lockout::from_record(&tx.attempts().get(&all)?).succeeded();
            tx.attempts().put(&one, &client.record(now))?;
            tx.attempts().put(&all, &total.record(now))?;
            Ok(failed)
        })?;
        Ok(failed)
    }

    /// The notice of failed attempts, in words (none when there were none).
    pub(crate) fn failed_notice(failed: u32) -> Vec<String> {
        if failed > 0 {
            vec![format!(
                "{failed} tentative(s) de connexion échouée(s) depuis votre dernière connexion"
            )]
        } else {
            Vec::new()
        }
    }

    /// Deletes the counters nobody has touched for a day and that lock
    /// nothing (those of identifiers that name no account, mostly). Returns
    /// how many.
    pub async fn sweep_attempts(&self) -> Result<usize> {
        let now = self.now_ms();
        let stale = self
            .records()
            .read()
            .attempts()
            .stale(now - STALE_ATTEMPTS_MS, now)?;
        let n = stale.len();
        for chunk in stale.chunks(1000) {
            self.records().write(|tx| {
                for k in chunk {
                    tx.attempts().remove(k)?;
                }
                Ok(())
            })?;
        }
        Ok(n)
    }
}

/// Counters untouched this long (and unlocked) are deleted.
const STALE_ATTEMPTS_MS: i64 = 24 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            lockout_after: 3,
            lockout_base: Duration::from_secs(60),
            ..Limits::default()
        }
    }

    #[test]
    fn five_rules_as_transitions() {
        let l = limits();
        let mut s = Lockout::Open {
            failures: 0,
            unreported: 0,
        };
        // Three wrong secrets: the third locks for the base duration.
        for i in 1..=3 {
            let (next, v) = s.attempt(1000, &l, 3);
            assert_eq!(v, Verdict::Check, "attempt {i}");
            s = next.failed(1000, &l, 3);
        }
        assert_eq!(s.locked_until(1000), Some(61_000));
        // Locked: refused, not counted.
        let (same, v) = s.attempt(2000, &l, 3);
        assert_eq!((same, v), (s, Verdict::Refuse { until: 61_000 }));
        // Lock ran out: one attempt; wrong again doubles the lock.
        let (next, v) = s.attempt(61_000, &l, 3);
        assert_eq!(v, Verdict::Check);
        let s2 = next.failed(61_000, &l, 3);
        assert_eq!(s2.locked_until(61_000), Some(61_000 + 120_000));
        // Parallel guesses at the limit lock before being checked.
        let at_limit = Lockout::Open {
            failures: 3,
            unreported: 3,
        };
        assert!(matches!(
            at_limit.attempt(5, &l, 3).1,
            Verdict::Refuse { until: 60_005 }
        ));
        // Success resets and reports the failures before it.
        let (next, _) = Lockout::Open {
            failures: 2,
            unreported: 2,
        }
        .attempt(9, &l, 3);
        let (clean, told) = next.succeeded();
        assert_eq!(told, 2);
        assert_eq!(clean.record(0), AttemptRecord::default());
        // Stored and read back alike.
        assert_eq!(Lockout::from_record(&s2.record(7)), s2);
    }
}
