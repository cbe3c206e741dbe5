//! The status-change worker's periodic step for what no incoming event triggers: outages held
//! by a maintenance window that has ended (their incident opens now, through a synthetic status
//! event on the status-change stream), and flapping monitors whose status has held for a whole
//! window (their `monitor.stable` alert). One replica at a time, under a Redis lock; each part
//! is idempotent in Postgres, so a second replica or a restart mid-way adds nothing.

use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_domain::NotificationJob;
use upcheck_store::Pool;
use upcheck_streams::{Lock, Producer};

/// Most held outages and flapping episodes one step handles (the rest wait for the next).
const BATCH: i64 = 500;

/// Why one step did not finish (the next one tries again).
#[derive(Debug, thiserror::Error)]
pub enum UpkeepError {
    /// Postgres failed.
    #[error(transparent)]
    Store(#[from] upcheck_store::StoreError),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] upcheck_streams::StreamError),
}

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpkeepReport {
    /// Synthetic `down` events written and published for outages a window held.
    pub released: usize,
    /// `monitor.stable` notifications enqueued.
    pub stable_notifications: usize,
}

/// Where the step reads and writes.
pub struct Upkeep {
    /// Postgres.
    pub pool: Pool,
    /// Adds status events and notification jobs.
    pub producer: Producer,
    /// One replica at a time.
    pub lock: Lock,
    /// The status-change stream (`STATUS_CHANGE_STREAM`).
    pub status_stream: String,
    /// The notification stream (`NOTIFICATION_STREAM`).
    pub notification_stream: String,
}

impl Upkeep {
    /// Runs the step every `every` until cancelled.
    pub async fn run(self, every: Duration, cancel: CancellationToken) {
        upcheck_runtime::every(every, every, &cancel, || async {
            match self.once(OffsetDateTime::now_utc(), every).await {
                Ok(r) if r == UpkeepReport::default() => {}
                Ok(r) => tracing::info!(
                    released = r.released,
                    stable_notifications = r.stable_notifications,
                    "maintenance outages released and flapping monitors settled"
                ),
                Err(e) => tracing::warn!(error = %e, "status upkeep failed"),
            }
        })
        .await;
    }

    /// One step as of `now`, when this replica gets the lock (held for `hold`, not released,
    /// so other replicas skip this period).
    ///
    /// # Errors
    /// [`UpkeepError`] when Postgres or Redis fails; what was committed stays, and the outbox
    /// relay and the notification sweep publish what was committed but not yet enqueued.
    pub async fn once(&self, now: OffsetDateTime, hold: Duration) -> Result<UpkeepReport, UpkeepError> {
        if self.lock.try_acquire(hold.as_millis() as u64).await?.is_none() {
            return Ok(UpkeepReport::default());
        }
        let events = upcheck_store::maintenance_hold::release_ended(&self.pool, now, BATCH).await?;
        if !events.is_empty() {
            let entries = self
                .producer
                .add_each(&self.status_stream, events.iter().map(|e| (e, e.trace_parent)))
                .await?;
            let published: Vec<_> = events.iter().map(|e| e.event_id).zip(entries).collect();
            upcheck_store::events::mark_published(&self.pool, &published).await?;
        }
        let stable = upcheck_store::flapping::settle(&self.pool, now, BATCH).await?;
        let jobs: Vec<NotificationJob> =
            stable.iter().map(|id| NotificationJob { notification_id: *id }).collect();
        self.producer.add_many(&self.notification_stream, &jobs).await?;
        Ok(UpkeepReport { released: events.len(), stable_notifications: jobs.len() })
    }
}
