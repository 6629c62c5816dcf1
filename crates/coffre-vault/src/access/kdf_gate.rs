//! Key derivations (argon2id: 19 MiB and tens of milliseconds of a core
//! each), bounded. Without a bound, a burst of logins from many addresses
//! behind a proxy made the server take gigabytes.
//!
//! They run on a few threads of their own, as many as may run at once
//! (about the number of cores): the memory each one takes is kept by its
//! thread's allocator for the next, instead of by whichever of the
//! hundreds of blocking threads ran it. A few more callers may wait their
//! turn briefly; the rest are answered "busy, retry in a second" at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::{Result, VaultError};

/// How long a derivation may wait for its turn.
const LONGEST_WAIT: Duration = Duration::from_secs(3);
/// What a caller told "busy" is asked to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send>;

/// A key derivation's turn (see [`KdfGate::turn`]).
#[derive(Debug)]
pub(crate) struct Turn(OwnedSemaphorePermit);

#[derive(Debug)]
pub(crate) struct KdfGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    jobs: Mutex<mpsc::Sender<Job>>,
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
    /// `running` threads, and at most `max_waiting` callers waiting.
    pub fn new(running: usize, max_waiting: usize) -> Self {
        let running = running.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..running {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("coffre-kdf-{n}"))
                .spawn(move || {
                    loop {
                        let job = {
                            let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            rx.recv()
                        };
                        match job {
                            Ok(job) => job(),
                            // The vault is gone.
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a key-derivation thread");
            }
        }
        Self {
            running: Arc::new(Semaphore::new(running)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            jobs: Mutex::new(tx),
        }
    }

    fn busy() -> VaultError {
        VaultError::Busy {
            retry_after: RETRY_AFTER,
        }
    }

    /// A turn, or "busy": taken *before* a login attempt is counted, so
    /// that a busy server never counts a failure against anyone (a burst
    /// of correct logins once locked their owners out). Held until the
    /// derivation given to [`KdfGate::run_in`] is done.
    pub async fn turn(&self) -> Result<Turn> {
        Ok(Turn(self.enter().await?))
    }

    /// A turn: held until the permit is dropped.
    async fn enter(&self) -> Result<OwnedSemaphorePermit> {
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

    /// Runs `f` on a key-derivation thread when a turn comes. The turn is
    /// held until `f` is done, even when the caller stops waiting (a
    /// cancelled request still finishes its computation before another
    /// starts).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let turn = self.turn().await?;
        self.run_in(turn, f).await
    }

    /// Runs `f` in a turn taken earlier with [`KdfGate::turn`].
    pub async fn run_in<T: Send + 'static>(
        &self,
        Turn(turn): Turn,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _turn = turn;
            let _ = tx.send(f());
        });
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| VaultError::Internal("key-derivation threads stopped"))?;
        rx.await
            .map_err(|_| VaultError::Internal("key-derivation task failed"))?
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

    #[tokio::test]
    async fn work_runs_on_the_gate_threads() {
        let gate = KdfGate::new(2, 3);
        let name = gate
            .run(|| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("coffre-kdf-")));
        assert!(matches!(
            gate.run(|| -> Result<()> { Err(VaultError::Gone) }).await,
            Err(VaultError::Gone)
        ));
    }
}
