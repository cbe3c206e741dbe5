//! Publishing status events from the outbox to the status-change stream, and the relay that
//! re-publishes any a crash left unpublished.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_domain::StatusEvent;
use upcheck_store::Pool;
use upcheck_streams::Producer;

/// Publishes committed events.
#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    producer: Producer,
    stream: String,
}

impl Outbox {
    /// An outbox publishing to `stream`.
    pub fn new(pool: Pool, producer: Producer, stream: String) -> Self {
        Self { pool, producer, stream }
    }

    /// Adds `events` to the status-change stream and marks them published. Failures are logged:
    /// the events stay unpublished in Postgres and the relay retries them.
    pub async fn publish(&self, events: &[StatusEvent]) {
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.producer.add_many(&self.stream, events).await {
            tracing::warn!(error = %e, count = events.len(), "publishing status events failed; the relay will retry");
            return;
        }
        let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
        if let Err(e) = upcheck_store::events::mark_published(&self.pool, &ids).await {
            tracing::warn!(error = %e, "marking events published failed; they may be published twice");
        }
    }

    /// Every `every`, publishes events committed more than `grace` ago and still unpublished, and
    /// events published more than `unapplied` ago that the status-change worker never applied
    /// (their stream entry was lost with Redis's data). Handling is idempotent on the event id,
    /// so a second publication is harmless.
    pub async fn relay(
        self,
        every: Duration,
        grace: Duration,
        unapplied: Duration,
        cancel: CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {},
            }
            let found = upcheck_store::events::to_relay(
                &self.pool,
                grace.as_millis() as i64,
                unapplied.as_millis() as i64,
                500,
            )
            .await;
            match found {
                Ok(events) if !events.is_empty() => {
                    tracing::info!(
                        count = events.len(),
                        "relaying status events not yet published or applied"
                    );
                    self.publish(&events).await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox relay query failed"),
            }
        }
    }
}
