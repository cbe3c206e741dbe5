//! Repairs the Redis schedule from Postgres, the system of record: every
//! `RECONCILE_INTERVAL_SECONDS`, and at once when the marker key is gone (Redis was flushed,
//! restarted empty or evicted keys). One replica at a time, under a Redis lock.

use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use upcheck_store::Pool;
use upcheck_streams::Schedule;

/// Specs read from Postgres per page.
const PAGE: i64 = 1_000;

/// Runs until cancelled: checks the marker every `probe_every`, reconciles when it is missing
/// or `every` has passed.
pub async fn run(
    pool: Pool,
    schedule: Schedule,
    redis: redis::aio::ConnectionManager,
    every: Duration,
    cancel: CancellationToken,
) {
    let probe_every = every.min(Duration::from_secs(5));
    let mut last = Instant::now();
    let mut first = true;
    loop {
        let marker_missing = match redis::cmd("EXISTS")
            .arg(schedule.keys().schedule_marker())
            .query_async::<bool>(&mut redis.clone())
            .await
        {
            Ok(exists) => !exists,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the reconcile marker");
                false
            }
        };
        if first || marker_missing || last.elapsed() >= every {
            match reconcile_once(&pool, &schedule, &redis).await {
                Ok(Some((upserted, removed))) => {
                    tracing::info!(upserted, removed, repaired = marker_missing, "schedule reconciled");
                    last = Instant::now();
                    first = false;
                }
                Ok(None) => {
                    last = Instant::now();
                    first = false;
                }
                Err(e) => tracing::warn!(error = %e, "schedule reconcile failed; will retry"),
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(probe_every) => {},
        }
    }
}

/// One reconcile under the lock; `None` when another replica holds it.
///
/// Every active monitor's spec is rewritten and, if unscheduled, scheduled now (`ZADD NX`:
/// scheduled ones keep their due time). Scheduled monitors that Postgres says are deleted or
/// paused are removed.
///
/// # Errors
/// The first Postgres or Redis failure, as text.
pub async fn reconcile_once(
    pool: &Pool,
    schedule: &Schedule,
    redis: &redis::aio::ConnectionManager,
) -> Result<Option<(usize, usize)>, String> {
    let keys = schedule.keys();
    let mut conn = redis.clone();
    let token = uuid::Uuid::new_v4().to_string();
    let locked: Option<String> = redis::cmd("SET")
        .arg(keys.reconcile_lock())
        .arg(&token)
        .arg("NX")
        .arg("PX")
        .arg(120_000)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if locked.is_none() {
        return Ok(None);
    }
    let result = async {
        let now_ms = upcheck_domain::clock::now_ms();
        let mut after = None;
        let mut upserted = 0;
        loop {
            let page =
                upcheck_store::reconcile::active_specs(pool, after, PAGE).await.map_err(|e| e.to_string())?;
            let Some(last) = page.last() else { break };
            after = Some(last.monitor_id);
            schedule.upsert_many(&page, now_ms, true).await.map_err(|e| e.to_string())?;
            upserted += page.len();
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        let scheduled: Vec<_> =
            schedule.scheduled_ids().await.map_err(|e| e.to_string())?.into_iter().collect();
        let mut removed = 0;
        for chunk in scheduled.chunks(PAGE as usize) {
            let stale =
                upcheck_store::reconcile::inactive_among(pool, chunk).await.map_err(|e| e.to_string())?;
            schedule.remove_many(&stale).await.map_err(|e| e.to_string())?;
            removed += stale.len();
        }
        redis::cmd("SET")
            .arg(keys.schedule_marker())
            .arg(now_ms)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok((upserted, removed))
    }
    .await;
    // Release only our own lock.
    let _: Result<i64, _> = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
    )
    .key(keys.reconcile_lock())
    .arg(&token)
    .invoke_async(&mut conn)
    .await;
    result.map(Some)
}
