//! Repairs the Redis schedule from Postgres, the system of record: every
//! `RECONCILE_INTERVAL_SECONDS`, and at once when the marker key is gone (Redis was flushed,
//! restarted empty or evicted keys). One replica at a time, under a Redis lock.

use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use upcheck_store::Pool;
use upcheck_streams::{Lock, Schedule};

/// Specs read from Postgres per page.
const PAGE: i64 = 1_000;

/// Why one reconcile did not finish (it is tried again at the next probe).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading monitors from Postgres failed.
    #[error(transparent)]
    Store(#[from] upcheck_store::StoreError),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] upcheck_streams::StreamError),
}

/// Runs until cancelled: checks the marker every `probe_every`, reconciles when it is missing
/// or `every` has passed.
pub async fn run(
    pool: Pool,
    schedule: Schedule,
    redis: upcheck_streams::RedisConn,
    every: Duration,
    cancel: CancellationToken,
) {
    let probe_every = every.min(Duration::from_secs(5));
    let lock = Lock::new(redis.clone(), schedule.keys().reconcile_lock());
    // When the last reconcile finished; `None` before the first.
    let last: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    upcheck_runtime::every(probe_every, Duration::ZERO, &cancel, || async {
        let marker_missing = match schedule.is_reconciled().await {
            Ok(exists) => !exists,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the reconcile marker");
                false
            }
        };
        let due = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none_or(|t| t.elapsed() >= every);
        if !(due || marker_missing) {
            return;
        }
        match reconcile_once(&pool, &schedule, &lock).await {
            Ok(done) => {
                if let Some((upserted, removed)) = done {
                    tracing::info!(upserted, removed, repaired = marker_missing, "schedule reconciled");
                }
                *last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
            }
            Err(e) => tracing::warn!(error = %e, "schedule reconcile failed; will retry"),
        }
    })
    .await;
}

/// One reconcile under the lock; `None` when another replica holds it.
///
/// Every active monitor's spec is rewritten and, if unscheduled, scheduled now (`ZADD NX`:
/// scheduled ones keep their due time). Scheduled monitors that Postgres says are deleted or
/// paused are removed.
///
/// # Errors
/// [`ReconcileError`]: the first Postgres or Redis failure.
pub async fn reconcile_once(
    pool: &Pool,
    schedule: &Schedule,
    lock: &Lock,
) -> Result<Option<(usize, usize)>, ReconcileError> {
    let Some(held) = lock.try_acquire(120_000).await? else { return Ok(None) };
    let result = async {
        let now_ms = upcheck_domain::clock::now_ms();
        let mut after = None;
        let mut upserted = 0;
        loop {
            let page = upcheck_store::reconcile::active_specs(pool, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.monitor_id);
            schedule.upsert_many(&page, now_ms, true).await?;
            upserted += page.len();
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        let scheduled: Vec<_> = schedule.scheduled_ids().await?.into_iter().collect();
        let mut removed = 0;
        for chunk in scheduled.chunks(PAGE as usize) {
            let stale = upcheck_store::reconcile::inactive_among(pool, chunk).await?;
            schedule.remove_many(&stale).await?;
            removed += stale.len();
        }
        schedule.mark_reconciled(now_ms).await?;
        Ok::<_, ReconcileError>((upserted, removed))
    }
    .await;
    // Release only our own lock.
    if let Err(e) = lock.release(held).await {
        tracing::debug!(error = %e, "releasing the reconcile lock failed; it expires by itself");
    }
    result.map(Some)
}
