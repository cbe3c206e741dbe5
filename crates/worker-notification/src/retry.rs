//! Delayed retries: a notification whose attempt failed waits in a delay queue
//! ([`upcheck_streams::DelayQueue`]: a sorted set scored by due time) and is moved back onto
//! the notification stream when due. The delay is the domain's exponential backoff with full
//! jitter ([`upcheck_domain::backoff::full_jitter_ms`]), and at least the receiver's
//! `Retry-After`, capped at `NOTIFICATION_RETRY_MAX_MS`.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_streams::DelayQueue;

/// Moves due retries onto their stream every `tick` until cancelled.
pub async fn pump(queue: DelayQueue, tick: Duration, cancel: CancellationToken) {
    upcheck_runtime::every(tick, tick, &cancel, || async {
        if let Err(e) = queue.pump(upcheck_domain::clock::now_ms(), 500).await {
            tracing::warn!(error = %e, "moving due retries failed");
        }
    })
    .await;
}
