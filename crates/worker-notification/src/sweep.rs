//! Re-enqueues notifications whose job Redis lost (a flush, an eviction, a restart without
//! persistence): still `pending`, with no creation or attempt for longer than any retry delay
//! and any reclaim could explain. One replica sweeps at a time, under a Redis lock.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_domain::NotificationJob;
use upcheck_store::Pool;
use upcheck_streams::Producer;

/// Where the sweep reads and writes.
pub struct Sweep {
    /// Postgres.
    pub pool: Pool,
    /// Adds the recovered jobs.
    pub producer: Producer,
    /// Redis, for the lock.
    pub redis: redis::aio::ConnectionManager,
    /// The notification stream.
    pub stream: String,
    /// The lock key.
    pub lock: String,
    /// A pending notification idle this long is orphaned.
    pub idle: Duration,
}

impl Sweep {
    /// Sweeps every `every` until cancelled.
    pub async fn run(self, every: Duration, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {},
            }
            match self.once(every).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "re-enqueued notifications whose jobs were lost"),
                Err(e) => tracing::warn!(error = %e, "notification sweep failed"),
            }
        }
    }

    /// One sweep (when this replica gets the lock); returns how many jobs were re-enqueued.
    ///
    /// # Errors
    /// The Postgres or Redis failure, as text.
    pub async fn once(&self, every: Duration) -> Result<usize, String> {
        let locked: Option<String> = redis::cmd("SET")
            .arg(&self.lock)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(every.as_millis().max(1) as u64)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|e| e.to_string())?;
        if locked.is_none() {
            return Ok(0);
        }
        let ids = upcheck_store::notifications::orphaned(&self.pool, self.idle.as_millis() as i64, 500)
            .await
            .map_err(|e| e.to_string())?;
        let jobs: Vec<NotificationJob> =
            ids.into_iter().map(|notification_id| NotificationJob { notification_id }).collect();
        self.producer.add_many(&self.stream, &jobs).await.map_err(|e| e.to_string())?;
        Ok(jobs.len())
    }
}
