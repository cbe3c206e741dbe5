//! The monitoring stream's handler: wait for the job's due time, probe, then hand the result to
//! the batcher.

use crate::batcher::Batcher;
use crate::fair::FairSlots;
use crate::probe::Probe;
use crate::probe::{CertificateInfo, ProbeResult};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;
use upcheck_domain::ExpiringCertificate;
use upcheck_domain::PingKind;
use upcheck_domain::probe_config::KindConfig;
use upcheck_domain::quorum::Quorum;
use upcheck_domain::{CheckJob, CheckOutcome, Thresholds};
use upcheck_runtime::metrics as metrics_names;
use upcheck_store::checks::CheckRecord;
use upcheck_streams::{HandleError, Handler, StreamMessage};

/// Longest a job that arrives early waits for its due time. The scheduler claims one tick
/// ahead, so a longer wait means the replicas' clocks disagree: probe rather than stall.
const MAX_EARLY: Duration = Duration::from_secs(1);

/// Most probe results kept for jobs whose store is being retried; past it, results older than
/// [`KEEP_PROBED`] are forgotten (their jobs were reclaimed by another replica, which probes
/// again).
const MAX_PROBED: usize = 100_000;

/// How long a probe result is kept for its job's retries.
const KEEP_PROBED: Duration = Duration::from_secs(600);

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
///
/// A job is probed once: when storing its result fails and the runner retries the message,
/// the retry stores the same result rather than probing again (a `POST` monitor is sent once
/// per check).
pub struct CheckHandler<P> {
    probe: P,
    probed: Mutex<HashMap<String, CheckRecord>>,
    batcher: Batcher,
    region: String,
    probes: Semaphore,
    up: OutcomeMetrics,
    down: OutcomeMetrics,
    degraded: OutcomeMetrics,
    lag_seconds: metrics::Histogram,
    fair: Option<FairSlots>,
    skipped: metrics::Counter,
}

impl<P: Probe> CheckHandler<P> {
    /// A handler probing with `probe` from `region`, at most `max_probes` at once.
    pub fn new(probe: P, batcher: Batcher, region: String, max_probes: usize) -> Self {
        Self {
            probe,
            probed: Mutex::new(HashMap::new()),
            batcher,
            probes: Semaphore::new(max_probes.max(1)),
            up: OutcomeMetrics::new(CheckOutcome::Up, &region),
            down: OutcomeMetrics::new(CheckOutcome::Down, &region),
            degraded: OutcomeMetrics::new(CheckOutcome::Degraded, &region),
            lag_seconds: metrics::histogram!(metrics_names::SCHEDULE_LAG),
            fair: None,
            skipped: metrics::counter!(metrics_names::CHECKS_SKIPPED, "reason" => "fair_share"),
            region,
        }
    }

    /// Limits probes per target host and per monitor owner (see [`FairSlots`]).
    pub fn with_fairness(mut self, fair: FairSlots) -> Self {
        self.fair = Some(fair);
        self
    }
}

impl<P: Probe> CheckHandler<P> {
    /// Waits for the job's due time, probes and builds the record to store; `None` when the
    /// check is skipped because its owner or host had no free probe slot in time.
    async fn check(
        &self,
        message: &StreamMessage,
        job: CheckJob,
    ) -> Result<Option<CheckRecord>, HandleError> {
        let early_ms = job.due_at_ms - upcheck_domain::clock::now_ms();
        if early_ms > 0 {
            tokio::time::sleep(Duration::from_millis(early_ms as u64).min(MAX_EARLY)).await;
        }
        let result = if let KindConfig::Heartbeat(beat) = &job.spec.config {
            // Heartbeats are pushed, never probed: the job is a ping, or its deadline passing.
            match job.ping {
                Some(PingKind::Success) => ProbeResult { latency_ms: None, ..ProbeResult::up(0) },
                Some(PingKind::Fail) => ProbeResult::failed("the job reported a failure (/fail ping)"),
                None => ProbeResult::failed(beat.missed()),
            }
        } else {
            // Wait for the owner's and the host's share at most until the monitor's next check
            // would have to start; past that, skip this one.
            let _fair = match &self.fair {
                Some(fair) => {
                    let next_ms = job.due_at_ms + i64::from(job.spec.interval_seconds) * 1_000
                        - i64::from(job.spec.timeout_ms);
                    let wait =
                        Duration::from_millis((next_ms - upcheck_domain::clock::now_ms()).max(1) as u64);
                    match fair.acquire(&job.spec, wait).await {
                        Some(permit) => Some(permit),
                        None => return Ok(None),
                    }
                }
                None => None,
            };
            let _slot =
                self.probes.acquire().await.map_err(|_| HandleError::retryable("probe slots closed"))?;
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
            degraded_latency_ms: match &job.spec.config {
                KindConfig::Http(c) => c.degraded_latency_ms,
                _ => None,
            },
            trace_parent: upcheck_streams::trace::current(),
            expiring_certificate: expiring(&job.spec.config, result.certificate.as_ref()),
            quorum: Quorum {
                listed_regions: u16::try_from(job.spec.regions.len()).unwrap_or(u16::MAX),
                min_failed_regions: job.spec.min_failed_regions,
                interval_ms: i64::from(job.spec.interval_seconds) * 1_000,
            },
        };
        let lag_ms = upcheck_domain::clock::unix_ms(record.checked_at) - record.due_at_ms;
        self.metrics(record.outcome)
            .probe_seconds
            .record(f64::from(record.latency_ms.unwrap_or(0).max(0)) / 1_000.0);
        self.lag_seconds.record(lag_ms.max(0) as f64 / 1_000.0);
        tracing::debug!(monitor_id = %record.monitor_id, stream_id = %message.id, outcome = record.outcome.as_str(), lag_ms, "checked");
        Ok(Some(record))
    }

    fn metrics(&self, outcome: CheckOutcome) -> &OutcomeMetrics {
        match outcome {
            CheckOutcome::Up => &self.up,
            CheckOutcome::Down => &self.down,
            CheckOutcome::Degraded => &self.degraded,
        }
    }

    /// The result kept for a retried job, if any.
    fn take_probed(&self, id: &str) -> Option<CheckRecord> {
        self.probed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id)
    }

    /// Keeps a job's result for the runner's retry.
    fn keep_probed(&self, record: CheckRecord) {
        let mut probed = self.probed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if probed.len() >= MAX_PROBED {
            let oldest = time::OffsetDateTime::now_utc() - KEEP_PROBED;
            probed.retain(|_, r| r.checked_at > oldest);
        }
        probed.insert(record.job_id.clone(), record);
    }
}

/// The certificate a check saw, when it is within the monitor's `expiry_warning_days`.
fn expiring(config: &KindConfig, cert: Option<&CertificateInfo>) -> Option<ExpiringCertificate> {
    let days = match config {
        KindConfig::Tls(c) => c.expiry_warning_days,
        KindConfig::Http(c) => c.certificate?.expiry_warning_days,
        _ => return None,
    };
    let cert = cert?;
    let days_left = cert.days_left(time::OffsetDateTime::now_utc());
    (days_left <= i64::from(days)).then(|| ExpiringCertificate {
        fingerprint: cert.fingerprint.clone(),
        not_after: cert.not_after,
        days_left,
    })
}

impl<P: Probe> Handler for CheckHandler<P> {
    /// Per check, so at `debug`: disabled, and free, unless asked for.
    #[tracing::instrument(name = "check", level = "debug", skip_all, fields(monitor_id, outcome))]
    async fn handle(&self, message: &StreamMessage) -> Result<(), HandleError> {
        let record = match self.take_probed(&message.id) {
            Some(record) => record,
            None => {
                let job: CheckJob = message.decode()?;
                if !job.spec.regions.is_empty() && !job.spec.regions.contains(&self.region) {
                    return Ok(()); // a monitor only other regions probe
                }
                match self.check(message, job).await? {
                    Some(record) => record,
                    None => {
                        self.skipped.increment(1);
                        tracing::debug!(stream_id = %message.id, "check skipped: no free probe slot for its owner or host");
                        return Ok(());
                    }
                }
            }
        };
        let outcome = record.outcome;
        let span = tracing::Span::current();
        span.record("monitor_id", tracing::field::display(record.monitor_id));
        span.record("outcome", outcome.as_str());
        match self.batcher.submit(record.clone()).await {
            Ok(()) => {
                self.metrics(outcome).checks.increment(1);
                Ok(())
            }
            Err(e) if e.permanent => Err(HandleError::permanent(e)),
            Err(e) => {
                self.keep_probed(record);
                Err(HandleError::retryable(e))
            }
        }
    }
}
