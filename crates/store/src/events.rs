//! The outbox of status events: written with their checks, published afterwards, and swept
//! for any whose publication a crash interrupted or whose stream entry Redis lost.

use crate::{Pool, StoreError};
use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, StatusEvent};
use uuid::Uuid;

/// Writes `events` inside `tx` (the check batch's transaction).
///
/// # Errors
/// [`StoreError::Db`] when the insert fails.
pub async fn insert(tx: &Transaction<'_>, events: &[StatusEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, cause, occurred_at) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::timestamptz[])",
        )
        .await?;
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let monitors: Vec<Uuid> = events.iter().map(|e| e.monitor_id).collect();
    let from: Vec<&str> = events.iter().map(|e| e.from.as_str()).collect();
    let to: Vec<&str> = events.iter().map(|e| e.to.as_str()).collect();
    let notify: Vec<bool> = events.iter().map(|e| e.notify).collect();
    let cause: Vec<Option<&str>> = events.iter().map(|e| e.cause.as_deref()).collect();
    let at: Vec<OffsetDateTime> = events.iter().map(|e| e.occurred_at).collect();
    tx.execute(&stmt, &[&ids, &monitors, &from, &to, &notify, &cause, &at]).await?;
    Ok(())
}

/// Marks events as published on the status-change stream.
///
/// # Errors
/// [`StoreError`] when Postgres fails.
pub async fn mark_published(pool: &Pool, ids: &[Uuid]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE status_events SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL",
        )
        .await?;
    client.execute(&stmt, &[&ids]).await?;
    Ok(())
}

/// Up to `limit` events the relay must publish (again), oldest first: those committed more than
/// `unpublished_ms` ago and never published (a crash between commit and publication), and those
/// published more than `unapplied_ms` ago but never applied by the status-change worker (their
/// stream entry was lost with Redis's data). Applying an event twice is harmless.
///
/// # Errors
/// [`StoreError`] when Postgres fails or a row is corrupt.
pub async fn to_relay(
    pool: &Pool,
    unpublished_ms: i64,
    unapplied_ms: i64,
    limit: i64,
) -> Result<Vec<StatusEvent>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "(SELECT id, monitor_id, from_status, to_status, notify, cause, occurred_at, created_at FROM status_events \
              WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000) \
              ORDER BY created_at LIMIT $3) \
             UNION ALL \
             (SELECT id, monitor_id, from_status, to_status, notify, cause, occurred_at, created_at FROM status_events \
              WHERE applied_at IS NULL AND published_at < now() - make_interval(secs => $2::float8 / 1000) \
              ORDER BY published_at LIMIT $3) \
             ORDER BY created_at LIMIT $3",
        )
        .await?;
    let rows = client.query(&stmt, &[&(unpublished_ms as f64), &(unapplied_ms as f64), &limit]).await?;
    rows.iter()
        .map(|r| {
            let status = |i: usize| {
                let s: &str = r.get(i);
                MonitorStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("status {s:?}")))
            };
            Ok(StatusEvent {
                event_id: r.get(0),
                monitor_id: r.get(1),
                from: status(2)?,
                to: status(3)?,
                notify: r.get(4),
                cause: r.get(5),
                occurred_at: r.get(6),
            })
        })
        .collect()
}
