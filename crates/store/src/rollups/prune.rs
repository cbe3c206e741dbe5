//! Housekeeping of rollups: closing the days of monitors that stopped being checked, and
//! removing minute rollups past their retention in small batches.

use super::{Closing, floor_day, floor_minute};
use crate::{Pool, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Monitors and regions handled per statement.
const KEYS_PER_BATCH: i64 = 50;

/// What one [`prune`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Monitor-region pairs whose rollups were closed up to today's midnight (UTC) because no
    /// check had closed them (paused, deleted regions, idle monitors).
    pub sealed: u64,
    /// Minute rollup rows removed.
    pub minute_rows_deleted: u64,
}

/// Closes the rollups of monitor-region pairs no check has closed since before today (UTC,
/// from 01:00 on, so that yesterday's late checks are in), then removes minute rollups older
/// than `minute_days` days (`RETENTION_ROLLUP_MINUTE_DAYS`) whose hour is closed, 50 monitor-region
/// pairs per statement (each statement a short transaction; no long-running `DELETE`). Hour
/// and day rollups are kept. Meant to run every few minutes to once a day; safe to run from
/// several replicas at once.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a statement fails
/// (what was done before stays done; the next run carries on).
pub async fn prune(pool: &Pool, minute_days: u32, now: OffsetDateTime) -> Result<Pruned, StoreError> {
    let mut out = Pruned::default();
    let today = floor_day(now);
    if now >= today + Duration::hours(1) {
        out.sealed = seal(pool, today).await?;
    }
    let cutoff = floor_minute(now) - Duration::days(i64::from(minute_days));
    let mut client = pool.get().await?;
    let delete = client
        .prepare_cached(
            "WITH k AS (SELECT monitor_id, region, closed_until FROM check_rollup_marks \
                        WHERE (monitor_id, region) > ($1, $2) ORDER BY monitor_id, region LIMIT $3), \
                  d AS (DELETE FROM check_rollups_minute r USING k \
                        WHERE r.monitor_id = k.monitor_id AND r.region = k.region \
                          AND r.bucket < least($4, date_trunc('hour', k.closed_until, 'UTC')) RETURNING 1) \
             SELECT (SELECT count(*) FROM d), (SELECT monitor_id FROM k ORDER BY monitor_id DESC, region DESC LIMIT 1), \
                    (SELECT region FROM k ORDER BY monitor_id DESC, region DESC LIMIT 1)",
        )
        .await?;
    let (mut after_id, mut after_region) = (Uuid::nil(), String::new());
    loop {
        let tx = client.transaction().await?;
        let r = tx.query_one(&delete, &[&after_id, &after_region, &KEYS_PER_BATCH, &cutoff]).await?;
        tx.commit().await?;
        out.minute_rows_deleted += r.get::<_, i64>(0) as u64;
        match (r.get::<_, Option<Uuid>>(1), r.get::<_, Option<String>>(2)) {
            (Some(id), Some(region)) => (after_id, after_region) = (id, region),
            _ => break,
        }
    }
    Ok(out)
}

/// Closes every pair whose mark is before `today` up to `today`, in batches, each under its
/// monitors' `monitor_state` row locks (as a check batch would). How many were closed.
async fn seal(pool: &Pool, today: OffsetDateTime) -> Result<u64, StoreError> {
    let mut sealed = 0;
    loop {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let idle = tx
            .query(
                "SELECT monitor_id, region FROM check_rollup_marks WHERE closed_until < $1 \
                 ORDER BY monitor_id, region LIMIT $2",
                &[&today, &KEYS_PER_BATCH],
            )
            .await?;
        if idle.is_empty() {
            return Ok(sealed);
        }
        let ids: Vec<Uuid> = idle.iter().map(|r| r.get(0)).collect();
        tx.execute(
            "SELECT 1 FROM monitor_state WHERE monitor_id = ANY($1) ORDER BY monitor_id FOR UPDATE",
            &[&ids],
        )
        .await?;
        // Read again under the locks: a check batch may have moved them meanwhile.
        let rows = tx
            .query(
                "SELECT m.monitor_id, m.region, m.closed_until FROM check_rollup_marks m \
                 WHERE m.monitor_id = ANY($1) AND m.closed_until < $2 ORDER BY 1, 2",
                &[&ids, &today],
            )
            .await?;
        let mut closing = Closing::default();
        for r in &rows {
            closing.push(r.get(0), r.get(1), Some(r.get(2)), today);
        }
        closing.write(&tx).await?;
        tx.commit().await?;
        sealed += rows.len() as u64;
    }
}
