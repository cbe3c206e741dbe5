//! Waiting out a backoff delay unless cancelled first; the delays are the domain's
//! [`upcheck_domain::backoff::Backoff`].

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The runner's retries of Redis and handler failures: 100 ms doubling to 5 s, with jitter.
pub(crate) fn backoff() -> upcheck_domain::backoff::Backoff {
    upcheck_domain::backoff::Backoff::new(100, 5_000)
}

/// Sleeps `d` unless cancelled first; returns whether it was cancelled.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}
