//! Retention of the tables that grow with use: status events, settled notifications and ended
//! login sessions. Never a `DELETE` storm: each table is walked in index order, a window of at
//! most `batch` rows per statement, deleting only what in that window may go, with a pause
//! between statements. Raw checks are not here: they go with their day partitions.
//! One replica prunes at a time ([`prune_all`] holds a session advisory lock).

use crate::{Pool, StoreError};
use std::time::Duration;
use time::OffsetDateTime;
use upcheck_config::HousekeepingSettings;

/// Session advisory lock key held by the replica pruning (`pg_try_advisory_lock`).
const PRUNE_LOCK: i64 = 0x7570_6368_6563_6b02;

/// How hard one prune pushes: rows per statement and the pause between two.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Most rows one statement looks at (and so deletes).
    pub batch: i64,
    /// Pause between two statements.
    pub pause: Duration,
}

/// What one prune of one table did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Rows deleted.
    pub deleted: u64,
    /// `DELETE` statements run.
    pub batches: u32,
}

/// What [`prune_all`] did, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    /// Status events deleted.
    pub status_events: Pruned,
    /// Notifications deleted (their attempts go with them).
    pub notifications: Pruned,
    /// Refresh tokens of ended sessions deleted.
    pub refresh_tokens: Pruned,
    /// Ended sessions (refresh-token families) deleted.
    pub sessions: Pruned,
}

/// Prunes every table whose retention is on (`*_days` > 0) as of `now`, if no other process
/// is pruning: `None` when another holds the lock. The lock is a session advisory lock on the
/// one connection every statement runs on, so it ends with that session if this process dies.
///
/// # Errors
/// [`StoreError`] when Postgres fails; what was deleted stays deleted, and the next run goes on.
pub async fn prune_all(
    pool: &Pool,
    now: OffsetDateTime,
    settings: &HousekeepingSettings,
) -> Result<Option<RetentionReport>, StoreError> {
    let client = pool.get().await?;
    let locked: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&PRUNE_LOCK]).await?.get(0);
    if !locked {
        return Ok(None);
    }
    let pace =
        Pace { batch: i64::from(settings.batch_size), pause: Duration::from_millis(settings.batch_pause_ms) };
    let days = |n: u32| now - time::Duration::days(i64::from(n));
    let result = async {
        let mut report = RetentionReport::default();
        if settings.status_events_days > 0 {
            report.status_events = status_events(&client, days(settings.status_events_days), pace).await?;
        }
        if settings.notifications_days > 0 {
            report.notifications = notifications(&client, days(settings.notifications_days), pace).await?;
        }
        if settings.sessions_days > 0 {
            (report.refresh_tokens, report.sessions) =
                sessions(&client, days(settings.sessions_days), pace).await?;
        }
        Ok::<_, StoreError>(report)
    }
    .await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&PRUNE_LOCK]).await?;
    result.map(Some)
}

/// Deletes status events that occurred before `cutoff`, once published and applied, except
/// those still needed: an open incident's (`opened_event_id` or `incident_id`), a maintenance
/// hold's, a flapping episode's, and each monitor's latest status change before the cut
/// (exact uptime and the maintenance hold read a monitor's status at a time from it).
/// Certificate and slowness notices before the cut always go. Walks `seq` order from the
/// start, `pace.batch` events per statement, and stops at the first window reaching an event
/// at or after the cut.
///
/// # Errors
/// [`StoreError::Db`] when a statement fails.
pub async fn status_events(
    client: &deadpool_postgres::Client,
    cutoff: OffsetDateTime,
    pace: Pace,
) -> Result<Pruned, StoreError> {
    let stmt = client
        .prepare_cached(
            "WITH scanned AS (SELECT seq, occurred_at FROM status_events WHERE seq > $1 ORDER BY seq LIMIT $2), \
             doomed AS ( \
               SELECT e.id FROM status_events e JOIN scanned s ON s.seq = e.seq \
               WHERE e.occurred_at < $3 AND e.published_at IS NOT NULL AND e.applied_at IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.monitor_id = e.monitor_id AND i.state = 'open' \
                                   AND (i.opened_event_id = e.id OR i.id = e.incident_id)) \
                 AND NOT EXISTS (SELECT 1 FROM maintenance_held h WHERE h.monitor_id = e.monitor_id AND h.event_id = e.id) \
                 AND NOT EXISTS (SELECT 1 FROM monitor_flapping f WHERE f.monitor_id = e.monitor_id AND f.episode_id = e.id) \
                 AND (e.certificate IS NOT NULL OR e.degraded IS NOT NULL OR EXISTS ( \
                        SELECT 1 FROM status_events n WHERE n.monitor_id = e.monitor_id AND n.seq > e.seq \
                          AND n.occurred_at < $3 AND n.certificate IS NULL AND n.degraded IS NULL \
                          AND n.from_status <> n.to_status))), \
             gone AS (DELETE FROM status_events e USING doomed d WHERE e.id = d.id RETURNING 1) \
             SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM scanned), \
                    (SELECT max(seq) FROM scanned), \
                    EXISTS (SELECT 1 FROM scanned WHERE occurred_at >= $3)",
        )
        .await?;
    let mut after = i64::MIN;
    let mut pruned = Pruned::default();
    loop {
        let row = client.query_one(&stmt, &[&after, &pace.batch, &cutoff]).await?;
        let (deleted, scanned, last, reached_cut): (i64, i64, Option<i64>, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        pruned.batches += 1;
        pruned.deleted += deleted.unsigned_abs();
        match last {
            Some(last) if scanned >= pace.batch && !reached_cut => after = last,
            _ => return Ok(pruned),
        }
        tokio::time::sleep(pace.pause).await;
    }
}

/// Deletes notifications created before `cutoff` that are settled (`delivered` or `failed`),
/// with their attempts, unless their monitor has an incident open since before them (its
/// timeline still shows them). Pending ones and dead ones (replayable) stay. Walks
/// `(created_at, id)` order, `pace.batch` per statement, up to the cut.
///
/// # Errors
/// [`StoreError::Db`] when a statement fails.
pub async fn notifications(
    client: &deadpool_postgres::Client,
    cutoff: OffsetDateTime,
    pace: Pace,
) -> Result<Pruned, StoreError> {
    let stmt = client
        .prepare_cached(
            "WITH scanned AS (SELECT id, created_at FROM notifications \
                               WHERE (created_at, id) > ($1, $2) AND created_at < $4 \
                               ORDER BY created_at, id LIMIT $3), \
             doomed AS ( \
               SELECT n.id FROM notifications n JOIN scanned s ON s.id = n.id \
               WHERE n.state IN ('delivered', 'failed') \
                 AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.monitor_id = n.monitor_id \
                                   AND i.state = 'open' AND i.opened_at <= n.created_at)), \
             gone AS (DELETE FROM notifications n USING doomed d WHERE n.id = d.id RETURNING 1), \
             last AS (SELECT created_at, id FROM scanned ORDER BY created_at DESC, id DESC LIMIT 1) \
             SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM scanned), \
                    (SELECT created_at FROM last), (SELECT id FROM last)",
        )
        .await?;
    let mut after = (OffsetDateTime::UNIX_EPOCH - time::Duration::days(365 * 100), uuid::Uuid::nil());
    let mut pruned = Pruned::default();
    loop {
        let row = client.query_one(&stmt, &[&after.0, &after.1, &pace.batch, &cutoff]).await?;
        let (deleted, scanned): (i64, i64) = (row.get(0), row.get(1));
        pruned.batches += 1;
        pruned.deleted += deleted.unsigned_abs();
        match (row.get::<_, Option<OffsetDateTime>>(2), row.get::<_, Option<uuid::Uuid>>(3)) {
            (Some(at), Some(id)) if scanned >= pace.batch => after = (at, id),
            _ => return Ok(pruned),
        }
        tokio::time::sleep(pace.pause).await;
    }
}

/// Deletes login sessions (refresh-token families) that ended (expired, or were revoked)
/// before `cutoff`: first their refresh tokens, `pace.batch` per statement (a long session
/// holds one token per refresh), then the families left without tokens. A live session's
/// tokens, spent ones included, stay: presenting a spent one is how a stolen token is caught.
/// Returns (tokens, sessions) deleted.
///
/// # Errors
/// [`StoreError::Db`] when a statement fails.
pub async fn sessions(
    client: &deadpool_postgres::Client,
    cutoff: OffsetDateTime,
    pace: Pace,
) -> Result<(Pruned, Pruned), StoreError> {
    let tokens = client
        .prepare_cached(
            "WITH doomed AS (SELECT t.token_hash FROM refresh_families f \
                              JOIN refresh_tokens t ON t.family_id = f.id \
                              WHERE least(f.expires_at, coalesce(f.revoked_at, f.expires_at)) < $1 LIMIT $2) \
             DELETE FROM refresh_tokens t USING doomed d WHERE t.token_hash = d.token_hash",
        )
        .await?;
    let families = client
        .prepare_cached(
            "WITH doomed AS (SELECT f.id FROM refresh_families f \
                              WHERE least(f.expires_at, coalesce(f.revoked_at, f.expires_at)) < $1 \
                                AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id) LIMIT $2) \
             DELETE FROM refresh_families f USING doomed d WHERE f.id = d.id",
        )
        .await?;
    let mut out = (Pruned::default(), Pruned::default());
    for (stmt, pruned) in [(&tokens, &mut out.0), (&families, &mut out.1)] {
        loop {
            let deleted = client.execute(stmt, &[&cutoff, &pace.batch]).await?;
            pruned.batches += 1;
            pruned.deleted += deleted;
            if deleted < pace.batch.unsigned_abs() {
                break;
            }
            tokio::time::sleep(pace.pause).await;
        }
    }
    Ok(out)
}
