//! Login attempts: counted per account, on disk, before the secret is even
//! checked (Signal's order: killing the process mid-check buys no free
//! guess); an account locks after `Limits::lockout_after` failures, for a
//! duration that doubles with each further failure; the owner is told at
//! their next login how many attempts failed.
//!
//! The account's state is one of two explicit states, and every rule is a
//! transition below; `AttemptRecord` is only how a state is stored.

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

    pub fn record(self) -> AttemptRecord {
        match self {
            Lockout::Open {
                failures,
                unreported,
            } => AttemptRecord {
                failures,
                locked_until_ms: 0,
                unreported,
            },
            Lockout::Locked {
                failures,
                unreported,
                until,
            } => AttemptRecord {
                failures,
                locked_until_ms: until,
                unreported,
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

    /// Before a secret is checked.
    pub fn attempt(self, now: i64, l: &Limits) -> (Lockout, Verdict) {
        match self {
            Lockout::Locked { until, .. } if until > now => (self, Verdict::Refuse { until }),
            // At the limit with attempts still being checked (parallel
            // guesses): lock now, before they finish.
            Lockout::Open {
                failures,
                unreported,
            } if failures >= l.lockout_after => {
                let until = now + millis(lock_duration(l, failures));
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
    pub fn failed(self, now: i64, l: &Limits) -> Lockout {
        let (failures, unreported) = self.counts();
        if failures >= l.lockout_after {
            Lockout::Locked {
                failures,
                unreported,
                until: now + millis(lock_duration(l, failures)),
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

/// How long an account stays locked after `failures` failures: the base
/// duration at the limit, doubling with each further failure, capped.
fn lock_duration(l: &Limits, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(l.lockout_after).min(20);
    l.lockout_base
        .saturating_mul(1 << doublings)
        .min(l.lockout_max)
}

fn locked_out(until: i64, now: i64) -> VaultError {
    VaultError::LockedOut {
        retry_after: Duration::from_millis(u64::try_from(until - now).unwrap_or(1).max(1)),
    }
}

/// The account a secret is checked for.
pub(crate) struct Account<'a> {
    /// The key of its attempt counter.
    pub key: &'a [u8],
    pub who: Who,
    /// The vault whose journal shows the attempt (a person's own).
    pub vault: Option<PrincipalId>,
}

impl Account<'_> {
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
        self.count_attempt(account).await?;
        match self
            .access()
            .open_identity(sealed.to_vec(), secret, principal)
            .await?
        {
            Some(identity) => Ok(identity),
            None => Err(self.attempt_failed(account).await),
        }
    }

    /// What a wrong secret costs (argon2id on a sealed identity), spent on a
    /// login whose identifier matches no account.
    pub(crate) async fn decoy_check(&self, secret: UserSecret) -> Result<()> {
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
            .open_identity(sealed, secret, self.inner.decoy_id)
            .await?;
        Ok(())
    }

    /// Counts the attempt as a failure (durably) before the secret is
    /// checked, or refuses it while the account is locked.
    async fn count_attempt(&self, account: &Account<'_>) -> Result<()> {
        let l = self.limits().clone();
        let now = self.now_ms();
        let verdict = self.records().write(|tx| {
            let state = Lockout::from_record(&tx.attempts().get(account.key)?);
            let (next, verdict) = state.attempt(now, &l);
            tx.attempts().put(account.key, &next.record())?;
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

    /// After a wrong secret: locks at the limit, journals, and returns the
    /// error to answer with.
    async fn attempt_failed(&self, account: &Account<'_>) -> VaultError {
        let res: Result<VaultError> = async {
            let l = self.limits().clone();
            let now = self.now_ms();
            let state = self.records().write(|tx| {
                let next = Lockout::from_record(&tx.attempts().get(account.key)?).failed(now, &l);
                tx.attempts().put(account.key, &next.record())?;
                Ok(next)
            })?;
            let detail = match state.locked_until(now) {
                Some(until) => format!(
                    "wrong secret; locked for {} s",
                    (until - now).div_euclid(1000)
                ),
                None => "wrong secret".to_owned(),
            };
            self.journal(account.entry().detail(detail)).await?;
            Ok(match state.locked_until(now) {
                Some(until) => locked_out(until, now),
                None => VaultError::Unauthenticated,
            })
        }
        .await;
        res.unwrap_or_else(|e| e)
    }

    /// Resets the counter; returns the notice of failures since last time.
    pub(crate) fn attempt_succeeded(&self, account_key: &[u8]) -> Result<Vec<String>> {
        let failed = self.records().write(|tx| {
            let (next, failed) = Lockout::from_record(&tx.attempts().get(account_key)?).succeeded();
            tx.attempts().put(account_key, &next.record())?;
            Ok(failed)
        })?;
        Ok(if failed > 0 {
            vec![format!(
                "{failed} tentative(s) de connexion échouée(s) depuis votre dernière connexion"
            )]
        } else {
            Vec::new()
        })
    }
}

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
            let (next, v) = s.attempt(1000, &l);
            assert_eq!(v, Verdict::Check, "attempt {i}");
            s = next.failed(1000, &l);
        }
        assert_eq!(s.locked_until(1000), Some(61_000));
        // Locked: refused, not counted.
        let (same, v) = s.attempt(2000, &l);
        assert_eq!((same, v), (s, Verdict::Refuse { until: 61_000 }));
        // Lock ran out: one attempt; wrong again doubles the lock.
        let (next, v) = s.attempt(61_000, &l);
        assert_eq!(v, Verdict::Check);
        let s2 = next.failed(61_000, &l);
        assert_eq!(s2.locked_until(61_000), Some(61_000 + 120_000));
        // Parallel guesses at the limit lock before being checked.
        let at_limit = Lockout::Open {
            failures: 3,
            unreported: 3,
        };
        assert!(matches!(
            at_limit.attempt(5, &l).1,
            Verdict::Refuse { until: 60_005 }
        ));
        // Success resets and reports the failures before it.
        let (next, _) = Lockout::Open {
            failures: 2,
            unreported: 2,
        }
        .attempt(9, &l);
        let (clean, told) = next.succeeded();
        assert_eq!(told, 2);
        assert_eq!(clean.record(), AttemptRecord::default());
        // Stored and read back alike.
        assert_eq!(Lockout::from_record(&s2.record()), s2);
    }
}
