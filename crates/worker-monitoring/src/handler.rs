//! The monitoring stream's handler: probe, then hand the result to the batcher.

use crate::batcher::Batcher;
use crate::probe::Probe;
use upcheck_domain::{CheckJob, Thresholds};
use upcheck_runtime::metrics as metrics_names;
use upcheck_store::checks::CheckRecord;
use upcheck_streams::{HandleError, Handler, StreamMessage};

/// Probes each check job and records it; the runner acknowledges once it is committed.
pub struct CheckHandler<P> {
    probe: P,
    batcher: Batcher,
    region: String,
}

impl<P: Probe> CheckHandler<P> {
    /// A handler probing with `probe` from `region`.
    pub fn new(probe: P, batcher: Batcher, region: String) -> Self {
        Self { probe, batcher, region }
    }
}

impl<P: Probe> Handler for CheckHandler<P> {
    async fn handle(&self, message: &StreamMessage) -> Result<(), HandleError> {
        let job: CheckJob = message.decode()?;
        let result = self.probe.probe(&job.spec).await;
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
        let outcome = record.outcome.as_str();
        let lag_ms = (record.checked_at.unix_timestamp_nanos() / 1_000_000) as i64 - record.due_at_ms;
        metrics::histogram!(metrics_names::PROBE_DURATION, "outcome" => outcome)
            .record(f64::from(record.latency_ms.unwrap_or(0).max(0)) / 1_000.0);
        metrics::histogram!(metrics_names::SCHEDULE_LAG).record(lag_ms.max(0) as f64 / 1_000.0);
        tracing::debug!(monitor_id = %record.monitor_id, stream_id = %message.id, outcome, lag_ms, "checked");
        self.batcher.submit(record).await.map_err(HandleError::Retryable)?;
        metrics::counter!(metrics_names::CHECKS, "outcome" => outcome, "region" => self.region.clone())
            .increment(1);
        Ok(())
    }
}
