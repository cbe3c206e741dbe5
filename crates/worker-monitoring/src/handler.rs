//! The monitoring stream's handler: wait for the job's due time, probe, then hand the result to
//! the batcher.

use crate::batcher::Batcher;
use crate::probe::Probe;
use std::time::Duration;
use tokio::sync::Semaphore;
use upcheck_domain::{CheckJob, CheckOutcome, Thresholds};
use upcheck_runtime::metrics as metrics_names;
use upcheck_store::checks::CheckRecord;
use upcheck_streams::{HandleError, Handler, StreamMessage};

/// Longest a job that arrives early waits for its due time. The scheduler claims one tick
/// ahead, so a longer wait means the replicas' clocks disagree: probe rather than stall.
const MAX_EARLY: Duration = Duration::from_secs(1);

/// The metric handles of one outcome, resolved once rather than per check.
struct OutcomeMetrics {
    checks: metrics::Counter,
    probe_seconds: metrics::Histogram,
}

impl OutcomeMetrics {
    fn new(outcome: CheckOutcome, region: &str) -> Self {
        let o = outcome.as_str();
        Self {
            checks: metrics::counter!(metrics_names::CHECKS, "outcome" => o, "region" => region.to_string()),
            probe_seconds: metrics::histogram!(metrics_names::PROBE_DURATION, "outcome" => o),
        }
    }
}

/// Probes each check job and records it; the runner acknowledges once it is committed.
///
/// A job is probed at its due time (the scheduler adds jobs up to one tick early), so checks
/// start on time and spread evenly instead of in one burst per tick. At most `max_probes`
/// probes run at once; jobs waiting for their due time or for their batch's commit hold no
/// probe slot.
pub struct CheckHandler<P> {
    probe: P,
    batcher: Batcher,
    region: String,
    probes: Semaphore,
    up: OutcomeMetrics,
    down: OutcomeMetrics,
    lag_seconds: metrics::Histogram,
}

impl<P: Probe> CheckHandler<P> {
    /// A handler probing with `probe` from `region`, at most `max_probes` at once.
    pub fn new(probe: P, batcher: Batcher, region: String, max_probes: usize) -> Self {
        Self {
            probe,
            batcher,
            probes: Semaphore::new(max_probes.max(1)),
            up: OutcomeMetrics::new(CheckOutcome::Up, &region),
            down: OutcomeMetrics::new(CheckOutcome::Down, &region),
            lag_seconds: metrics::histogram!(metrics_names::SCHEDULE_LAG),
            region,
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl<P: Probe> Handler for CheckHandler<P> {
    async fn handle(&self, message: &StreamMessage) -> Result<(), HandleError> {
        let job: CheckJob = message.decode()?;
        let early_ms = job.due_at_ms - now_ms();
        if early_ms > 0 {
            tokio::time::sleep(Duration::from_millis(early_ms as u64).min(MAX_EARLY)).await;
        }
        let result = {
            let _slot = self
                .probes
                .acquire()
                .await
                .map_err(|_| HandleError::Retryable("probe slots closed".into()))?;
            self.probe.probe(&job.spec).await
        };
        let record = CheckRecord {
            monitor_id: job.spec.monitor_id,
            job_id: message.id.clone(),
            region: self.region.clone(),
            due_at_ms: job.due_at_ms,
            checked_at: result.checked_at,
            outcome: result.outcome,
            latency_ms: result.latency_ms,
            http_status: result.http_status.and_then(|c| i16::try_from(c).ok()),
            error: result.error,
            thresholds: Thresholds {
                failure: job.spec.failure_threshold,
                recovery: job.spec.recovery_threshold,
            },
        };
        let m = match record.outcome {
            CheckOutcome::Up => &self.up,
            CheckOutcome::Down => &self.down,
        };
        let lag_ms = (record.checked_at.unix_timestamp_nanos() / 1_000_000) as i64 - record.due_at_ms;
        m.probe_seconds.record(f64::from(record.latency_ms.unwrap_or(0).max(0)) / 1_000.0);
        self.lag_seconds.record(lag_ms.max(0) as f64 / 1_000.0);
        tracing::debug!(monitor_id = %record.monitor_id, stream_id = %message.id, outcome = record.outcome.as_str(), lag_ms, "checked");
        self.batcher.submit(record).await.map_err(HandleError::Retryable)?;
        m.checks.increment(1);
        Ok(())
    }
}
