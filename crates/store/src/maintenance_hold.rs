//! Outages that began inside a maintenance window: held without an incident while a window
//! covers their monitor, and opened through the normal path once none does.
//!
//! A `down` applied inside a window opens no incident and alerts no one; its monitor is recorded
//! in `maintenance_held`. An `up` removes the record. [`release_ended`] (the status-change
//! worker's periodic step) writes, for each held monitor no window covers any more and still
//! `down`, a synthetic `down → down` status event to the outbox, id UUIDv5(held event,
//! "maintenance-ended"): applied like any other, it opens the incident and alerts then.

use crate::{Pool, StoreError};
use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, StatusEvent};
use uuid::Uuid;

/// Records that `event` (a `down` inside a window) opened no incident.
pub(crate) async fn hold(tx: &Transaction<'_>, event: &StatusEvent) -> Result<(), StoreError> {
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO maintenance_held (monitor_id, event_id, cause, held_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (monitor_id) DO UPDATE SET event_id = excluded.event_id, cause = excluded.cause, \
           held_at = excluded.held_at",
        )
        .await?,
        &[&event.monitor_id, &event.event_id, &event.cause, &event.occurred_at],
    )
    .await?;
    Ok(())
}

/// Forgets a held outage of `monitor_id` (it came back up, or its incident opened).
pub(crate) async fn forget(tx: &Transaction<'_>, monitor_id: Uuid) -> Result<(), StoreError> {
    tx.execute(
        &tx.prepare_cached("DELETE FROM maintenance_held WHERE monitor_id = $1").await?,
        &[&monitor_id],
    )
    .await?;
    Ok(())
}

/// The id of the synthetic event that opens the incident of the outage `held_event` began.
pub fn ended_event_id(held_event: Uuid) -> Uuid {
    Uuid::new_v5(&held_event, b"maintenance-ended")
}

/// For up to `limit` held outages whose monitor no window covers at `now`: when the monitor is
/// still `down` (its latest transition being the held one) and has no open incident, writes a
/// synthetic `down` event at `now` to the outbox; either way the hold goes. Returns the events
/// written, each with its `seq`, to publish on the status-change stream (the outbox relay
/// publishes any a crash leaves behind).
///
/// Idempotent: each hold is taken under its monitor's state lock (the lock the check writer
/// holds while it writes transitions), re-read there, and removed in the transaction that
/// writes the event, whose id is deterministic; a second replica finds nothing to do.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a statement
/// fails (holds released before stay released), [`StoreError::Corrupt`] when a row does not decode.
pub async fn release_ended(
    pool: &Pool,
    now: OffsetDateTime,
    limit: i64,
) -> Result<Vec<StatusEvent>, StoreError> {
    let mut client = pool.get().await?;
    let held: Vec<Uuid> = client
        .query("SELECT monitor_id FROM maintenance_held ORDER BY held_at LIMIT $1", &[&limit])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut written = Vec::new();
    for monitor_id in held {
        if crate::maintenance::covered_at(&client, monitor_id, now).await? {
            continue;
        }
        let tx = client.transaction().await?;
        let status = tx
            .query_opt(
                &tx.prepare_cached("SELECT status FROM monitor_state WHERE monitor_id = $1 FOR UPDATE")
                    .await?,
                &[&monitor_id],
            )
            .await?
            .map(|r| r.get::<_, String>(0));
        let Some(row) = tx
            .query_opt(
                &tx.prepare_cached(
                    "SELECT event_id, cause FROM maintenance_held WHERE monitor_id = $1 FOR UPDATE",
                )
                .await?,
                &[&monitor_id],
            )
            .await?
        else {
            continue; // another replica released it
        };
        let (held_event, cause): (Uuid, Option<String>) = (row.get(0), row.get(1));
        let last = tx
            .prepare_cached(
                "SELECT id FROM status_events WHERE monitor_id = $1 AND certificate IS NULL AND degraded IS NULL \
                 ORDER BY seq DESC LIMIT 1",
            )
            .await?;
        let latest: Option<Uuid> = tx.query_opt(&last, &[&monitor_id]).await?.map(|r| r.get(0));
        let open: bool = tx
            .query_one(
                &tx.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM incidents WHERE monitor_id = $1 AND state = 'open')",
                )
                .await?,
                &[&monitor_id],
            )
            .await?
            .get(0);
        let still_down =
            status.as_deref() == Some(MonitorStatus::Down.as_str()) && latest == Some(held_event);
        if still_down && !open {
            let mut events = [StatusEvent {
                event_id: ended_event_id(held_event),
                monitor_id,
                from: MonitorStatus::Down,
                to: MonitorStatus::Down,
                notify: true,
                occurred_at: now,
                cause: Some(format!(
                    "still down when maintenance ended: {}",
                    cause.as_deref().unwrap_or("failing")
                )),
                seq: None,
                trace_parent: None,
                certificate: None,
                degraded: None,
            }];
            crate::events::insert(&tx, &mut events).await?;
            let [event] = events;
            written.push(event);
        }
        forget(&tx, monitor_id).await?;
        tx.commit().await?;
    }
    Ok(written)
}
