//! Re-enqueues notifications whose job Redis lost (a flush, an eviction, a restart without
//! persistence, a failover that lost writes): still `pending`, not leased, with no creation,
//! attempt, re-enqueue or due retry for `idle`. One replica sweeps at a time, under a Redis lock.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_domain::NotificationJob;
use upcheck_store::Pool;
use upcheck_streams::{Lock, Producer};

/// Why one sweep did not finish (the next one tries again).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Postgres failed.
    #[error(transparent)]
    Store(#[from] upcheck_store::StoreError),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] upcheck_streams::StreamError),
}

/// Where the sweep reads and writes.
pub struct Sweep {
    /// Postgres.
    pub pool: Pool,
    /// Adds the recovered jobs.
    pub producer: Producer,
    /// One sweeper at a time.
    pub lock: Lock,
    /// The notification stream.
    pub stream: String,
    /// A pending notification with no sign of life this long has lost its job.
    pub idle: Duration,
}

impl Sweep {
    /// Sweeps every `every` until cancelled.
    pub async fn run(self, every: Duration, cancel: CancellationToken) {
        upcheck_runtime::every(every, every, &cancel, || async {
            match self.once(every).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "re-enqueued notifications whose jobs were lost"),
                Err(e) => tracing::warn!(error = %e, "notification sweep failed"),
            }
        })
        .await;
    }

    /// One sweep (when this replica gets the lock, held for `every`); returns how many jobs
    /// were re-enqueued.
    ///
    /// # Errors
    /// [`SweepError`] when Postgres or Redis fails.
    pub async fn once(&self, every: Duration) -> Result<usize, SweepError> {
        // Not released: held for one period, it keeps the other replicas from sweeping the
        // same notifications again in that period.
        if self.lock.try_acquire(every.as_millis() as u64).await?.is_none() {
            return Ok(0);
        }
        let ids =
            upcheck_store::notifications::orphaned(&self.pool, self.idle.as_millis() as i64, 500).await?;
        let jobs: Vec<NotificationJob> =
            ids.into_iter().map(|notification_id| NotificationJob { notification_id }).collect();
        self.producer.add_many(&self.stream, &jobs).await?;
        Ok(jobs.len())
    }
}
