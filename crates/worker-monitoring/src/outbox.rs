//! Publishing status events from the outbox to the status-change stream, and the relay that
//! publishes again any that a crash left unpublished or whose stream entry Redis lost.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_domain::StatusEvent;
use upcheck_store::Pool;
use upcheck_streams::Producer;

/// Most events one relay pass handles.
const RELAY_LIMIT: i64 = 500;

/// How long a failed publication is retried in the background before it is left to the relay.
pub const REPUBLISH_FOR: Duration = Duration::from_secs(10);

/// Publishes committed events.
#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    producer: Producer,
    stream: String,
    live: Option<crate::live::LiveChecks>,
}

impl Outbox {
    /// An outbox publishing to `stream`.
    pub fn new(pool: Pool, producer: Producer, stream: String) -> Self {
        Self { pool, producer, stream, live: None }
    }

    /// The same outbox, also publishing each stored batch's checks for the live feed while
    /// someone listens.
    pub fn with_live_checks(mut self, live: crate::live::LiveChecks) -> Self {
        self.live = Some(live);
        self
    }

    /// Publishes a stored batch's checks for the live feed, if it is wired and listened to.
    pub async fn publish_checks(&self, records: &[upcheck_store::checks::CheckRecord]) {
        if let Some(live) = &self.live {
            live.publish(records).await;
        }
    }

    /// Adds `events` to the status-change stream, each with the trace context of the check that
    /// produced it, and records each one's entry id. When Redis fails (a restart, a failover,
    /// `LOADING`), the events are published again in the background for up to
    /// [`REPUBLISH_FOR`], 100 ms to 1 s apart, so a Redis blip delays an alert by about the
    /// blip, not a relay period; what still fails stays unpublished in Postgres for the relay.
    pub async fn publish(&self, events: &[StatusEvent]) {
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.try_publish(events).await {
            tracing::warn!(error = %e, count = events.len(), "publishing status events failed; retrying");
            let (outbox, events) = (self.clone(), events.to_vec());
            tokio::spawn(async move {
                let mut backoff = upcheck_domain::backoff::Backoff::new(100, 1_000);
                let until = tokio::time::Instant::now() + REPUBLISH_FOR;
                while tokio::time::Instant::now() < until {
                    tokio::time::sleep(backoff.next_delay()).await;
                    match outbox.try_publish(&events).await {
                        Ok(()) => {
                            tracing::info!(count = events.len(), "status events published after a retry");
                            return;
                        }
                        Err(e) => tracing::debug!(error = %e, "publishing status events failed again"),
                    }
                }
                tracing::warn!(count = events.len(), "status events still unpublished; the relay will retry");
            });
        }
    }

    /// Publishes `events` once and marks them published.
    async fn try_publish(&self, events: &[StatusEvent]) -> Result<(), upcheck_streams::StreamError> {
        let entries =
            self.producer.add_each(&self.stream, events.iter().map(|e| (e, e.trace_parent))).await?;
        let published: Vec<_> = events.iter().map(|e| e.event_id).zip(entries).collect();
        if let Err(e) = upcheck_store::events::mark_published(&self.pool, &published).await {
            tracing::warn!(error = %e, "marking events published failed; they may be published twice");
        }
        Ok(())
    }

    /// One relay pass: publishes the events committed more than `unpublished` ago and never
    /// published, and the events published more than `unapplied` ago, not applied yet, whose
    /// stream entry is gone (Redis lost it). An unapplied event whose entry is still there is
    /// waiting in the stream or pending with a consumer (the runner's reclaim covers that), so
    /// it is not published twice. Returns how many events were published.
    ///
    /// # Errors
    /// The Postgres or Redis failure.
    pub async fn relay_once(&self, unpublished: Duration, unapplied: Duration) -> anyhow::Result<usize> {
        let mut due =
            upcheck_store::events::unpublished(&self.pool, unpublished.as_millis() as i64, RELAY_LIMIT)
                .await?;
        let waiting =
            upcheck_store::events::unapplied(&self.pool, unapplied.as_millis() as i64, RELAY_LIMIT).await?;
        let entries: Vec<&str> = waiting.iter().filter_map(|(_, entry)| entry.as_deref()).collect();
        let lost = self.producer.missing(&self.stream, &entries).await?;
        due.extend(
            waiting
                .iter()
                .filter(|(_, entry)| entry.as_deref().is_none_or(|id| lost.contains(&id)))
                .map(|(e, _)| e.clone()),
        );
        // In production order, so the status-change worker meets them as they happened.
        due.sort_by_key(|e| e.seq);
        due.dedup_by_key(|e| e.event_id);
        if !due.is_empty() {
            tracing::info!(
                count = due.len(),
                "relaying status events not yet published or lost with Redis's data"
            );
            self.publish(&due).await;
        }
        Ok(due.len())
    }

    /// Runs [`Outbox::relay_once`] every `every` until cancelled.
    pub async fn relay(
        self,
        every: Duration,
        unpublished: Duration,
        unapplied: Duration,
        cancel: CancellationToken,
    ) {
        upcheck_runtime::every(every, every, &cancel, || async {
            if let Err(e) = self.relay_once(unpublished, unapplied).await {
                tracing::warn!(error = %e, "outbox relay failed");
            }
        })
        .await;
    }
}
