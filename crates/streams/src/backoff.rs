//! Backoff for retries of Redis and handler failures.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Sleeps `d` unless cancelled first; returns whether it was cancelled.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// Exponential backoff from 100 ms to 5 s with "equal jitter": each delay is random in
/// `[cap/2, cap]`, where `cap` doubles per attempt.
pub(crate) struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self { attempt: 0 }
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    pub(crate) fn next(&mut self) -> Duration {
        let cap = (100u64 << self.attempt.min(6)).min(5_000);
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_millis(rand::random_range(cap / 2..=cap))
    }
}
