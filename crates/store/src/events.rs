//! The outbox of status events: written with their checks, published afterwards, and swept
//! for any whose publication a crash interrupted or whose stream entry Redis lost.
//!
//! Each event gets a `seq` from one Postgres sequence, drawn in the transaction that produced
//! it while the monitor's state row is locked: a monitor's events are numbered in the order its
//! status machine produced them, and committed in that order (DESIGN.md, "In order per
//! monitor"). The status-change worker applies them in that order (see
//! [`crate::incidents::apply_status_event`]).

use crate::{Pool, StoreError};
use deadpool_postgres::{GenericClient, Transaction};
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, StatusEvent, TraceParent};
use uuid::Uuid;

/// The columns [`from_row`] decodes, in its order.
pub(crate) const COLUMNS: &str = "id, monitor_id, from_status, to_status, notify, cause, occurred_at, seq, trace_context, certificate, degraded";

/// How many columns the outbox's row decoder reads (the first ones of its rows): a query
/// selecting more after them reads those from this index on. Counted from `COLUMNS`.
pub const COLUMN_COUNT: usize = {
    let bytes = COLUMNS.as_bytes();
    let (mut i, mut commas) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b',' {
            commas += 1;
        }
        i += 1;
    }
    commas + 1
};

/// Decodes a row selected with [`COLUMNS`].
pub(crate) fn from_row(r: &tokio_postgres::Row) -> Result<StatusEvent, StoreError> {
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
        seq: Some(r.get(7)),
        trace_parent: r.get::<_, Option<&str>>(8).and_then(TraceParent::parse),
        certificate: r
            .get::<_, Option<serde_json::Value>>(9)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("event certificate: {e}")))?,
        degraded: r
            .get::<_, Option<serde_json::Value>>(10)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("event degraded: {e}")))?,
    })
}

/// Writes `events` inside `tx` (the check batch's transaction) and sets each one's `seq`.
/// A monitor's events must come in the order they were produced, and the caller must hold the
/// lock on the monitor's `monitor_state` row: that is what makes `seq` increase per monitor in
/// production order.
///
/// # Errors
/// [`StoreError::Db`] when the insert fails.
pub async fn insert(tx: &Transaction<'_>, events: &mut [StatusEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    // The rows reach the insert in ordinality order, so `seq` (the column default) is drawn in
    // the order of `events`.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO status_events \
               (id, monitor_id, from_status, to_status, notify, cause, occurred_at, trace_context, certificate, \
                degraded) \
             SELECT u.id, u.monitor_id, u.from_status, u.to_status, u.notify, u.cause, u.occurred_at, u.tp, u.cert, \
                    u.degraded \
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], \
                         $7::timestamptz[], $8::text[], $9::jsonb[], $10::jsonb[]) \
                  WITH ORDINALITY AS u(id, monitor_id, from_status, to_status, notify, cause, occurred_at, tp, cert, \
                                       degraded, n) \
             ORDER BY u.n \
             RETURNING id, seq",
        )
        .await?;
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let monitors: Vec<Uuid> = events.iter().map(|e| e.monitor_id).collect();
    let from: Vec<&str> = events.iter().map(|e| e.from.as_str()).collect();
    let to: Vec<&str> = events.iter().map(|e| e.to.as_str()).collect();
    let notify: Vec<bool> = events.iter().map(|e| e.notify).collect();
    let cause: Vec<Option<&str>> = events.iter().map(|e| e.cause.as_deref()).collect();
    let at: Vec<OffsetDateTime> = events.iter().map(|e| e.occurred_at).collect();
    let tp: Vec<Option<String>> = events.iter().map(|e| e.trace_parent.map(|t| t.to_string())).collect();
    let certs: Vec<Option<serde_json::Value>> =
        events.iter().map(|e| e.certificate.as_ref().and_then(|c| serde_json::to_value(c).ok())).collect();
    let degraded: Vec<Option<serde_json::Value>> =
        events.iter().map(|e| e.degraded.as_ref().and_then(|d| serde_json::to_value(d).ok())).collect();
    let rows =
        tx.query(&stmt, &[&ids, &monitors, &from, &to, &notify, &cause, &at, &tp, &certs, &degraded]).await?;
    let seqs: std::collections::HashMap<Uuid, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for e in events.iter_mut() {
        e.seq = seqs.get(&e.event_id).copied();
    }
    Ok(())
}

/// Writes `events` to the outbox in a transaction of their own, each monitor's row in
/// `monitor_state` locked meanwhile, and sets each one's `seq`. For events that no check
/// produced (and for tests); check batches use [`insert`].
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); nothing is then written.
pub async fn append(pool: &Pool, events: &mut [StatusEvent]) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut monitors: Vec<Uuid> = events.iter().map(|e| e.monitor_id).collect();
    monitors.sort();
    monitors.dedup();
    let lock = tx
        .prepare_cached(
            "SELECT 1 FROM monitor_state WHERE monitor_id = ANY($1) ORDER BY monitor_id FOR UPDATE",
        )
        .await?;
    tx.query(&lock, &[&monitors]).await?;
    insert(&tx, events).await?;
    tx.commit().await?;
    Ok(())
}

/// Loads one event from the outbox; `None` when it is not there (its monitor was deleted).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn load(client: &impl GenericClient, id: Uuid) -> Result<Option<StatusEvent>, StoreError> {
    let stmt = client.prepare_cached(&format!("SELECT {COLUMNS} FROM status_events WHERE id = $1")).await?;
    client.query_opt(&stmt, &[&id]).await?.as_ref().map(from_row).transpose()
}

/// Marks events as published on the status-change stream: `(event id, stream entry id)`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn mark_published(pool: &Pool, published: &[(Uuid, String)]) -> Result<(), StoreError> {
    if published.is_empty() {
        return Ok(());
    }
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE status_events s SET published_at = now(), stream_id = u.stream_id \
             FROM unnest($1::uuid[], $2::text[]) AS u(id, stream_id) WHERE s.id = u.id",
        )
        .await?;
    let ids: Vec<Uuid> = published.iter().map(|(id, _)| *id).collect();
    let entries: Vec<&str> = published.iter().map(|(_, e)| e.as_str()).collect();
    client.execute(&stmt, &[&ids, &entries]).await?;
    Ok(())
}

/// Up to `limit` events committed more than `older_than_ms` ago and never published (a crash
/// or a Redis outage between commit and publication), in `seq` order.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn unpublished(
    pool: &Pool,
    older_than_ms: i64,
    limit: i64,
) -> Result<Vec<StatusEvent>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM status_events \
             WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000) \
             ORDER BY seq LIMIT $2"
        ))
        .await?;
    let rows = client.query(&stmt, &[&(older_than_ms as f64), &limit]).await?;
    rows.iter().map(from_row).collect()
}

/// Up to `limit` events published more than `older_than_ms` ago and not applied yet, in `seq`
/// order, each with the stream entry it was published as (`None` for events published before
/// entry ids were kept): the relay publishes again those whose entry is gone from the stream.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn unapplied(
    pool: &Pool,
    older_than_ms: i64,
    limit: i64,
) -> Result<Vec<(StatusEvent, Option<String>)>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, stream_id FROM status_events \
             WHERE applied_at IS NULL AND published_at < now() - make_interval(secs => $1::float8 / 1000) \
             ORDER BY seq LIMIT $2"
        ))
        .await?;
    let rows = client.query(&stmt, &[&(older_than_ms as f64), &limit]).await?;
    rows.iter().map(|r| Ok((from_row(r)?, r.get::<_, Option<String>>("stream_id")))).collect()
}
