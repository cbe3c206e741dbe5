//! The outbox of status events: written with their checks, published afterwards, and swept
//! for any whose publication a crash interrupted.

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

/// Up to `limit` events written more than `older_than_ms` ago and never published: the ones a
/// crash between commit and publication left behind. Oldest first.
///
/// # Errors
/// [`StoreError`] when Postgres fails or a row is corrupt.
pub async fn unpublished(
    pool: &Pool,
    older_than_ms: i64,
    limit: i64,
) -> Result<Vec<StatusEvent>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, monitor_id, from_status, to_status, notify, cause, occurred_at FROM status_events \
             WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000) \
             ORDER BY created_at LIMIT $2",
        )
        .await?;
    let rows = client.query(&stmt, &[&(older_than_ms as f64), &limit]).await?;
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
