//! Housekeeping of rollups: closing the days of monitors that stopped being checked, rebuilding
//! month rows a worker older than the month rollups left out, and removing minute rollups past
//! their retention in small batches.

use super::{
    Closing, LEVELS_ABOVE_MINUTES, bump_revisions, close_level, floor_day, floor_minute, floor_month,
};
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

/// For how long after a month's end [`mend_months`] is worth running.
pub const MEND_MONTHS_FOR: Duration = Duration::days(7);

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
        lock_monitors(&tx, &ids).await?;
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

/// Rebuilds, from its day rows, the row of the UTC month before `now`'s of every monitor-region
/// pair whose mark has passed that month's end but whose month row is missing or disagrees with
/// its days (its checks are not the days' sum). A month is closed by the batch that moves the
/// mark across its end; a worker older than migration V30 (month rollups) moves the mark and
/// closes the days but writes no month row, so a rolling upgrade that spans a month's end can
/// leave the month without one (and a late check then makes a row of that check alone). Each
/// batch of 50 pairs runs under its monitors' `monitor_state` row locks, as a check batch
/// would, so no batch adds to the month meanwhile, and moves the pairs' mark revisions (V32).
/// How many month rows were rebuilt.
///
/// It reads every pair's day rows of the month (about 0.3 ms a pair: 31 ms for 100 monitors
/// with 400 days of rollups), so it is meant to run once a day in the first
/// [`MEND_MONTHS_FOR`] of a month, when a rollout may have spanned the month's end.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a statement fails
/// (the batches committed before stay).
pub async fn mend_months(pool: &Pool, now: OffsetDateTime) -> Result<u64, StoreError> {
    let end = floor_month(now);
    let month = floor_month(end - Duration::days(1));
    // At most $6 pairs whose mark is past the month and whose month row is missing or is not
    // the sum of its days: after ($3, $4) in key order when $5 is null, else among $5's monitors.
    const DISAGREEING: &str = "SELECT k.monitor_id, k.region FROM check_rollup_marks k \
         WHERE ((k.monitor_id, k.region) > ($3, $4) OR $5::uuid[] IS NOT NULL) \
           AND ($5::uuid[] IS NULL OR k.monitor_id = ANY($5)) AND k.closed_until >= $2 \
           AND (SELECT sum(d.checks) FROM check_rollups_day d \
                WHERE d.monitor_id = k.monitor_id AND d.region = k.region AND d.bucket >= $1 AND d.bucket < $2) \
               IS DISTINCT FROM \
               (SELECT m.checks FROM check_rollups_month m \
                WHERE m.monitor_id = k.monitor_id AND m.region = k.region AND m.bucket = $1) \
         ORDER BY 1, 2 LIMIT $6";
    let mut mended = 0;
    let (mut after_id, mut after_region) = (Uuid::nil(), String::new());
    loop {
        let mut client = pool.get().await?;
        let found = client
            .query(
                DISAGREEING,
                &[&month, &end, &after_id, &after_region, &None::<Vec<Uuid>>, &KEYS_PER_BATCH],
            )
            .await?;
        let Some(last) = found.last() else { return Ok(mended) };
        (after_id, after_region) = (last.get(0), last.get(1));
        let ids: Vec<Uuid> = found.iter().map(|r| r.get(0)).collect();
        let tx = client.transaction().await?;
        lock_monitors(&tx, &ids).await?;
        // Found again under the locks: a check batch may have closed the month meanwhile.
        let rows =
            tx.query(DISAGREEING, &[&month, &end, &Uuid::nil(), &"", &Some(&ids), &KEYS_PER_BATCH]).await?;
        let keys: (Vec<Uuid>, Vec<String>) =
            rows.iter().map(|r| (r.get::<_, Uuid>(0), r.get::<_, String>(1))).unzip();
        tx.execute(
            "DELETE FROM check_rollups_month r USING unnest($1::uuid[], $2::text[]) AS k(id, region) \
             WHERE r.monitor_id = k.id AND r.region = k.region AND r.bucket = $3",
            &[&keys.0, &keys.1, &month],
        )
        .await?;
        let n = keys.0.len();
        let (unit, _, source, target) = LEVELS_ABOVE_MINUTES[2];
        tx.execute(
            &close_level(unit, source, target),
            &[&keys.0, &keys.1, &vec![Some(month); n], &vec![end; n]],
        )
        .await?;
        bump_revisions(&tx, &keys.0, &keys.1).await?;
        tx.commit().await?;
        mended += n as u64;
    }
}

/// Takes the `monitor_state` row locks of `ids` in key order, as a check batch takes them
/// before it writes their rollups.
async fn lock_monitors(tx: &deadpool_postgres::Transaction<'_>, ids: &[Uuid]) -> Result<(), StoreError> {
    tx.execute(
        "SELECT 1 FROM monitor_state WHERE monitor_id = ANY($1) ORDER BY monitor_id FOR UPDATE",
        &[&ids],
    )
    .await?;
    Ok(())
}
