//! The bound on argon2 runs at once. Each hash or verification holds about 19 MiB and a core
//! for tens of milliseconds, so an unbounded burst of sign-ups or log-ins exhausts memory
//! (300 concurrent sign-ups once took one process past 2.6 GiB). At most
//! `PASSWORD_HASH_CONCURRENCY` run at once; the rest wait up to `PASSWORD_HASH_WAIT_MS` for a
//! slot and are then answered 503 with `Retry-After`.

use crate::error::ApiError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Seconds a client turned away is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Slots for password hashing, shared by every request of one API process.
#[derive(Clone, Debug)]
pub struct PasswordGate {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordGate {
    /// `concurrency` runs at once (at least 1); a caller waits up to `wait_ms` for a slot.
    pub fn new(concurrency: usize, wait_ms: u64) -> Self {
        Self { slots: Arc::new(Semaphore::new(concurrency.max(1))), wait: Duration::from_millis(wait_ms) }
    }

    /// Runs `work` (a hash or a verification) on the blocking pool once a slot is free. The
    /// slot is held until `work` returns, even when the request is dropped meanwhile, so the
    /// bound holds whatever clients do.
    ///
    /// # Errors
    /// [`ApiError::Busy`] when no slot frees within the wait; [`ApiError::Internal`] if `work`
    /// panics.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let busy = || ApiError::Busy { what: "password hashing", retry_after_seconds: RETRY_AFTER_SECONDS };
        let slot = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) | Err(_) => return Err(busy()),
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))
    }
}
