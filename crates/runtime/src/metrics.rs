//! Prometheus metrics (text exposition format 0.0.4) for the API and the workers.
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade;
//! [`install`] puts the process-wide Prometheus recorder in place (call it before building
//! anything that records). Gauges that describe shared state — a consumer group's pending
//! entries and lag, a stream's length, the Postgres pool — are read at scrape time by
//! [`Scrape::render`], so every replica reports the live value.
//!
//! Names follow Prometheus conventions: `_total` counters, `_seconds` histograms, base units.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// `upcheck_http_requests_total{route,method,status}`: API requests answered.
pub const HTTP_REQUESTS: &str = "upcheck_http_requests_total";
/// `upcheck_http_request_duration_seconds{route,method,status}`: API request latency.
pub const HTTP_DURATION: &str = "upcheck_http_request_duration_seconds";
/// `upcheck_checks_total{outcome,region}`: checks stored, by outcome (`up`/`down`/`degraded`).
pub const CHECKS: &str = "upcheck_checks_total";
/// `upcheck_checks_skipped_total{reason}`: checks not made; `fair_share` when the monitor's
/// owner or target host had no free probe slot before its next check.
pub const CHECKS_SKIPPED: &str = "upcheck_checks_skipped_total";
/// `upcheck_probe_duration_seconds{outcome}`: how long each probe took.
pub const PROBE_DURATION: &str = "upcheck_probe_duration_seconds";
/// `upcheck_schedule_lag_seconds`: a check's start minus its due time.
pub const SCHEDULE_LAG: &str = "upcheck_schedule_lag_seconds";
/// `upcheck_status_changes_total{to}`: monitor transitions written to the outbox.
pub const STATUS_CHANGES: &str = "upcheck_status_changes_total";
/// `upcheck_check_batch_size`: checks per database transaction.
pub const CHECK_BATCH_SIZE: &str = "upcheck_check_batch_size";
/// `upcheck_notification_deliveries_total{channel,outcome}`: delivery attempts by channel kind
/// and outcome (`delivered`, `retrying`, `failed`).
pub const NOTIFICATION_DELIVERIES: &str = "upcheck_notification_deliveries_total";
/// `upcheck_notifications_deferred_total{reason}`: deliveries put back in the retry queue
/// without an attempt because their channel (`channel_full`) or its owner (`owner_full`) had
/// as many deliveries in flight as `CHANNEL_MAX_IN_FLIGHT` / `NOTIFICATION_MAX_IN_FLIGHT_PER_OWNER` allow.
pub const NOTIFICATIONS_DEFERRED: &str = "upcheck_notifications_deferred_total";

/// `upcheck_stream_pending_entries{stream,group}`: entries delivered but not acknowledged
/// (`XINFO GROUPS` `pending`).
pub const STREAM_PENDING: &str = "upcheck_stream_pending_entries";
/// `upcheck_stream_lag_entries{stream,group}`: entries not yet delivered to the group
/// (`XINFO GROUPS` `lag`, Redis ≥ 7.0; absent when Redis cannot tell).
pub const STREAM_LAG: &str = "upcheck_stream_lag_entries";
/// `upcheck_stream_length{stream}`: `XLEN`.
pub const STREAM_LENGTH: &str = "upcheck_stream_length";
/// `upcheck_stream_dead_letters{stream}`: entries in `<stream>:dlq` (capped at about
/// `DEAD_LETTER_MAXLEN`; a dead letter added at the cap is also logged as a warning).
pub const STREAM_DEAD_LETTERS: &str = "upcheck_stream_dead_letters";
/// `upcheck_db_pool_connections{state}`: Postgres connections `in_use` and `idle`.
pub const DB_POOL_CONNECTIONS: &str = "upcheck_db_pool_connections";
/// `upcheck_db_pool_max_connections`: the pool's size limit (`DATABASE_POOL_SIZE`).
pub const DB_POOL_MAX: &str = "upcheck_db_pool_max_connections";
/// `upcheck_db_pool_waiting`: tasks waiting for a Postgres connection.
pub const DB_POOL_WAITING: &str = "upcheck_db_pool_waiting";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once and returns its handle; later calls
/// return the same handle. Metrics recorded before the first call are lost.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_DURATION.into()),
                &[0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(PROBE_DURATION.into()),
                    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(SCHEDULE_LAG.into()),
                    &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(CHECK_BATCH_SIZE.into()),
                    &[1.0, 4.0, 16.0, 64.0, 128.0, 256.0, 512.0, 1024.0],
                )
            })
            .expect("bucket lists are non-empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder is installed (a test harness's): keep ours readable.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// A consumer group whose pending entries and lag `/metrics` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The stream's key.
    pub stream: String,
    /// The consumer group.
    pub group: String,
}

/// What a scrape reads besides the recorded metrics.
#[derive(Clone, Default)]
pub struct Scrape {
    /// The Postgres pool whose usage is reported.
    pub pool: Option<upcheck_store::Pool>,
    /// The Redis connection `XINFO GROUPS` / `XLEN` run on.
    pub redis: Option<upcheck_streams::RedisConn>,
    /// The consumer groups to report.
    pub groups: Vec<GroupRef>,
}

impl Scrape {
    /// Refreshes the scrape-time gauges (each Redis query bounded to 1 s; a failing one leaves
    /// its gauges at their last value and is logged) and renders every metric in Prometheus
    /// text format.
    pub async fn render(&self) -> String {
        let handle = install();
        if let Some(pool) = &self.pool {
            let status = pool.status();
            let idle = status.available as f64;
            let in_use = status.size.saturating_sub(status.available) as f64;
            metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
            metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(in_use);
            metrics::gauge!(DB_POOL_MAX).set(status.max_size as f64);
            metrics::gauge!(DB_POOL_WAITING).set(status.waiting as f64);
        }
        if let Some(redis) = &self.redis {
            for g in &self.groups {
                let mut conn = redis.clone();
                match tokio::time::timeout(
                    Duration::from_secs(1),
                    upcheck_streams::group_info(&mut conn, &g.stream, &g.group),
                )
                .await
                {
                    Ok(Ok(info)) => {
                        let labels = [("stream", g.stream.clone()), ("group", g.group.clone())];
                        metrics::gauge!(STREAM_LENGTH, "stream" => g.stream.clone()).set(info.length as f64);
                        if let Some(pending) = info.pending {
                            metrics::gauge!(STREAM_PENDING, &labels).set(pending as f64);
                        }
                        if let Some(lag) = info.lag {
                            metrics::gauge!(STREAM_LAG, &labels).set(lag as f64);
                        }
                    }
                    Ok(Err(e)) => tracing::debug!(stream = %g.stream, error = %e, "XINFO GROUPS failed"),
                    Err(_) => tracing::debug!(stream = %g.stream, "XINFO GROUPS timed out"),
                }
                let dlq = upcheck_streams::Keys::dead_letter(&g.stream);
                let mut xlen = redis::cmd("XLEN");
                xlen.arg(&dlq);
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(1), xlen.query_async::<u64>(&mut conn)).await
                {
                    metrics::gauge!(STREAM_DEAD_LETTERS, "stream" => g.stream.clone()).set(n as f64);
                }
            }
        }
        handle.run_upkeep();
        handle.render()
    }
}

/// Records one answered API request.
pub fn record_http(route: &str, method: &str, status: u16, elapsed: Duration) {
    let labels =
        [("route", route.to_string()), ("method", method.to_string()), ("status", status.to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
}
