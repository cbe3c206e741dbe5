//! The runner's settings and its metric handles.

use std::time::Duration;

/// Where and how a runner reads.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The stream.
    pub stream: String,
    /// The consumer group.
    pub group: String,
    /// This replica's consumer name (unique per replica).
    pub consumer: String,
    /// Most messages in flight.
    pub concurrency: usize,
    /// Most entries per read.
    pub read_count: usize,
    /// `BLOCK` of each read, ms (at most 2,000: shutdown waits for it).
    pub block_ms: u64,
    /// Pending entries idle longer than this are reclaimed, ms.
    pub reclaim_idle_ms: u64,
    /// Deliveries after which an entry is dead-lettered.
    pub max_deliveries: u64,
    /// How long shutdown waits for in-flight handlers.
    pub shutdown_timeout: Duration,
    /// A consumer of the group with nothing pending and idle this long (a replica that
    /// restarted under a new name) is removed from the group (`CONSUMER_IDLE_PRUNE_SECONDS`).
    pub consumer_idle_prune: Duration,
    /// Approximate cap on `<stream>:dlq` (`DEAD_LETTER_MAXLEN`).
    pub dead_letter_maxlen: u64,
    /// How long one delivery of an entry is retried in-process after [`HandleError::Retryable`]
    /// failures (`HANDLER_RETRY_BUDGET_MS`); past it the entry is left to the reclaim and
    /// `max_deliveries` path.
    pub retry_budget: Duration,
    /// The level of the span each entry is handled in (`stream_entry`): `INFO` (the default),
    /// or `DEBUG` on a stream so busy that a span per entry must be asked for (the monitoring
    /// stream, thousands of checks a second).
    pub span_level: tracing::Level,
}

impl RunnerConfig {
    /// A config for this replica from `settings` (`CONSUMER_NAME`, `RECLAIM_IDLE_MS`,
    /// `MAX_DELIVERIES`, `HANDLER_RETRY_BUDGET_MS`, `CONSUMER_IDLE_PRUNE_SECONDS`,
    /// `DEAD_LETTER_MAXLEN`), with at most `concurrency` messages in flight.
    pub fn from_settings(
        settings: &upcheck_config::Settings,
        stream: impl Into<String>,
        group: impl Into<String>,
        concurrency: usize,
    ) -> Self {
        let mut c = Self::new(stream, group, settings.streams.consumer.clone());
        c.concurrency = concurrency;
        c.reclaim_idle_ms = settings.tunables.reclaim_idle_ms;
        c.max_deliveries = settings.tunables.max_deliveries;
        c.retry_budget = Duration::from_millis(settings.tunables.handler_retry_budget_ms);
        c.consumer_idle_prune = Duration::from_secs(settings.tunables.consumer_idle_prune_seconds);
        c.dead_letter_maxlen = settings.tunables.dead_letter_maxlen;
        c
    }

    /// A config with Upcheck's defaults for the given stream and group.
    pub fn new(stream: impl Into<String>, group: impl Into<String>, consumer: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            group: group.into(),
            consumer: consumer.into(),
            concurrency: 32,
            read_count: 256,
            block_ms: 1_000,
            reclaim_idle_ms: 30_000,
            max_deliveries: 10,
            shutdown_timeout: Duration::from_secs(20),
            retry_budget: Duration::from_secs(60),
            consumer_idle_prune: Duration::from_secs(3_600),
            dead_letter_maxlen: 10_000,
            span_level: tracing::Level::INFO,
        }
    }
}

/// The runner's counters, resolved once (labels `stream`, `group`).
#[derive(Clone)]
pub(super) struct Counters {
    pub(super) read: metrics::Counter,
    pub(super) acknowledged: metrics::Counter,
    pub(super) reclaimed: metrics::Counter,
    pub(super) dead_lettered: metrics::Counter,
    pub(super) retries: metrics::Counter,
}

impl Counters {
    pub(super) fn new(c: &RunnerConfig) -> Self {
        let labels = [("stream", c.stream.clone()), ("group", c.group.clone())];
        Self {
            read: metrics::counter!("upcheck_stream_entries_read_total", &labels),
            acknowledged: metrics::counter!("upcheck_stream_entries_acknowledged_total", &labels),
            reclaimed: metrics::counter!("upcheck_stream_entries_reclaimed_total", &labels),
            dead_lettered: metrics::counter!("upcheck_stream_entries_dead_lettered_total", &labels),
            retries: metrics::counter!("upcheck_stream_handler_retries_total", &labels),
        }
    }
}
