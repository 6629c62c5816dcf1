//! A bound on key derivations running at once. Each argon2id takes 19 MiB
//! and tens of milliseconds of a core: without a bound, a burst of logins
//! (from many addresses, behind a proxy) made the server take gigabytes.
//! About as many run as there are cores; a few more may wait briefly; the
//! rest are answered "busy, retry in a second" at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{Result, VaultError};

/// How long a derivation may wait for its turn.
const LONGEST_WAIT: Duration = Duration::from_secs(3);
/// What a caller told "busy" is asked to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct KdfGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a caller among those waiting, until dropped (also when its
/// future is dropped mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl KdfGate {
    pub fn new(running: usize, max_waiting: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(running.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    fn busy() -> VaultError {
        VaultError::Busy {
            retry_after: RETRY_AFTER,
        }
    }

    /// A turn to derive a key: held until the permit is dropped (move it
    /// into the blocking task, so a cancelled request still waits for its
    /// computation to end before another starts).
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit> {
        if let Ok(p) = self.running.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Self::busy());
        }
        let _counted = Waiting(&self.waiting);
        match tokio::time::timeout(LONGEST_WAIT, self.running.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Self::busy()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_gets_turns_then_busy() {
        let gate = Arc::new(KdfGate::new(2, 3));
        let a = gate.enter().await.unwrap();
        let _b = gate.enter().await.unwrap();
        // Three may wait; the sixth is told at once.
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let g = gate.clone();
            waiting.push(tokio::spawn(async move { g.enter().await.map(drop) }));
        }
        tokio::task::yield_now().await;
        while gate.waiting.load(Ordering::Acquire) < 3 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(gate.enter().await, Err(VaultError::Busy { .. })));
        // A turn freed: the waiting ones go through, one after the other.
        drop(a);
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
    }
}
