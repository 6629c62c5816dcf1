//! The vault's notion of "now": the system clock in production, a clock
//! that tests move by hand (grant expiry, share-link expiry, lockouts)
//! without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, from the system or from a test.
#[derive(Clone)]
pub struct Clock(Arc<Source>);

enum Source {
    System,
    Manual(AtomicI64),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Manual(t) => write!(f, "Clock::Manual({})", t.load(Ordering::Relaxed)),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self(Arc::new(Source::System))
    }

    /// A clock that stands still at `start_ms` until [`Clock::advance`].
    pub fn manual(start_ms: i64) -> Self {
        Self(Arc::new(Source::Manual(AtomicI64::new(start_ms))))
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &*self.0 {
            Source::System => system_ms(),
            Source::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; returns false (and does nothing) on
    /// the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &*self.0 {
            Source::System => false,
            Source::Manual(t) => {
                let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
                t.fetch_add(ms, Ordering::SeqCst);
                true
            }
        }
    }
}

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1000);
        assert_eq!(c.now_ms(), 1000);
        assert!(c.advance(Duration::from_secs(2)));
        assert_eq!(c.clone().now_ms(), 3000);
        assert!(!Clock::system().advance(Duration::from_secs(1)));
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}
