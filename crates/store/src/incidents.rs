//! Incidents from status events, and the notifications they fan out to, in one transaction.

use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::{
    MonitorStatus, StatusEvent, WebhookIncident, WebhookMonitor, WebhookPayload, notification_id,
    webhook_type,
};
use uuid::Uuid;

/// What applying one status event left to do outside Postgres.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventEffects {
    /// The incident the event opened or resolved.
    pub incident_id: Option<Uuid>,
    /// Notifications of this event not yet delivered: enqueue each on the notification stream.
    pub pending_notifications: Vec<Uuid>,
}

/// Opens an incident on `down`, resolves the open one on `up`, creates one notification per
/// channel linked to the monitor (when the event notifies), and marks the event applied, all in
/// one transaction.
///
/// Idempotent on the event id: a redelivered event finds its incident (`opened_event_id` /
/// `resolved_event_id`) and its notifications (id = UUIDv5(event, channel)) and creates nothing
/// new; it returns the notifications still pending so a crash between commit and enqueue loses
/// none. An event for a deleted monitor does nothing.
///
/// # Errors
/// [`StoreError`] when Postgres fails; nothing is then committed.
pub async fn apply_status_event(pool: &Pool, event: &StatusEvent) -> Result<EventEffects, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let monitor = tx.prepare_cached("SELECT name, url FROM monitors WHERE id = $1 FOR SHARE").await?;
    let Some(row) = tx.query_opt(&monitor, &[&event.monitor_id]).await? else {
        tx.commit().await?;
        return Ok(EventEffects::default());
    };
    let monitor = WebhookMonitor { id: event.monitor_id, name: row.get(0), url: row.get(1) };

    let incident = match (event.from, event.to) {
        (_, MonitorStatus::Down) => {
            let open = tx
                .prepare_cached(
                    "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_at, cause) \
                     VALUES ($1, $2, 'open', $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(
                &open,
                &[&Uuid::now_v7(), &event.monitor_id, &event.event_id, &event.occurred_at, &event.cause],
            )
            .await?;
            // Ours if we just opened it (or did on an earlier delivery); otherwise the monitor
            // already had an open incident, which this event joins.
            let find = tx
                .prepare_cached(
                    "SELECT id, opened_at, resolved_at FROM incidents \
                     WHERE opened_event_id = $1 OR (monitor_id = $2 AND state = 'open') \
                     ORDER BY (opened_event_id = $1) DESC LIMIT 1",
                )
                .await?;
            tx.query_opt(&find, &[&event.event_id, &event.monitor_id]).await?
        }
        (MonitorStatus::Down, MonitorStatus::Up) => {
            let resolve = tx
                .prepare_cached(
                    "UPDATE incidents SET state = 'resolved', resolved_at = $3, resolved_event_id = $1 \
                     WHERE monitor_id = $2 AND state = 'open' AND opened_at <= $3 \
                     RETURNING id, opened_at, resolved_at",
                )
                .await?;
            match tx.query_opt(&resolve, &[&event.event_id, &event.monitor_id, &event.occurred_at]).await? {
                Some(row) => Some(row),
                None => {
                    let find = tx
                        .prepare_cached(
                            "SELECT id, opened_at, resolved_at FROM incidents WHERE resolved_event_id = $1",
                        )
                        .await?;
                    tx.query_opt(&find, &[&event.event_id]).await?
                }
            }
        }
        _ => None,
    };
    let incident = incident.map(|r| WebhookIncident {
        id: r.get(0),
        opened_at: r.get(1),
        resolved_at: r.get::<_, Option<OffsetDateTime>>(2),
    });

    let mut effects =
        EventEffects { incident_id: incident.as_ref().map(|i| i.id), pending_notifications: Vec::new() };
    if event.notify {
        let payload = WebhookPayload {
            event_id: event.event_id,
            kind: webhook_type(event.to).to_string(),
            monitor,
            incident,
            previous_status: event.from,
            status: event.to,
            occurred_at: event.occurred_at,
            cause: event.cause.clone(),
        };
        let payload = serde_json::to_value(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let channels = tx
            .prepare_cached(
                "SELECT c.id, c.kind FROM monitor_channels mc JOIN channels c ON c.id = mc.channel_id \
                 WHERE mc.monitor_id = $1 ORDER BY c.id",
            )
            .await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO notifications (id, event_id, monitor_id, channel_id, channel_kind, event_type, payload, state) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        for ch in tx.query(&channels, &[&event.monitor_id]).await? {
            let channel_id: Uuid = ch.get(0);
            let kind: &str = ch.get(1);
            let id = notification_id(event.event_id, channel_id);
            tx.execute(
                &insert,
                &[
                    &id,
                    &event.event_id,
                    &event.monitor_id,
                    &channel_id,
                    &kind,
                    &webhook_type(event.to),
                    &payload,
                ],
            )
            .await?;
        }
        let pending = tx
            .prepare_cached(
                "SELECT id FROM notifications WHERE event_id = $1 AND state = 'pending' ORDER BY id",
            )
            .await?;
        effects.pending_notifications =
            tx.query(&pending, &[&event.event_id]).await?.iter().map(|r| r.get(0)).collect();
    }
    let applied = tx
        .prepare_cached("UPDATE status_events SET applied_at = coalesce(applied_at, now()) WHERE id = $1")
        .await?;
    tx.execute(&applied, &[&event.event_id]).await?;
    tx.commit().await?;
    Ok(effects)
}
