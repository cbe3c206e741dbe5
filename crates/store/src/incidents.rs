//! Incidents from status events, and the notifications they fan out to, in one transaction.
//!
//! A monitor's status events are applied in the order its status machine produced them
//! (`status_events.seq`), whatever order their stream entries arrive in: applying an event
//! first applies every earlier unapplied event of the same monitor, read from the outbox, under
//! a lock on the monitor's row. An event whose publication was delayed (a Redis outage, the
//! relay's period, a worker restart) is thus applied before its successors, and is a no-op
//! when its own entry finally arrives.

use crate::flapping::FlappingPolicy;
use crate::{Pool, StoreError};
use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, StatusEvent, WebhookIncident, WebhookMonitor, WebhookPayload};
use uuid::Uuid;

/// One status event as applied: what it left to do outside Postgres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedEvent {
    /// The event, as stored in the outbox (with its `seq`).
    pub event: StatusEvent,
    /// The incident the event opened, joined or resolved.
    pub incident_id: Option<Uuid>,
    /// Whether this application opened or resolved that incident (`None` when it joined one,
    /// named one, or was applied already).
    pub incident_change: Option<IncidentChange>,
    /// The monitor's owner (the live feed is filtered by it).
    pub owner_id: Uuid,
    /// Notifications of this event not yet delivered: enqueue each on the notification stream.
    pub pending_notifications: Vec<Uuid>,
    /// Alert timers to put in the due-time sorted set (those this event scheduled; for an event
    /// applied already, every pending timer of its incident).
    pub timers: Vec<crate::timers::ScheduledTimer>,
}

/// What applying a status event did to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentChange {
    /// A `down` opened it.
    Opened,
    /// An `up` resolved it.
    Resolved,
}

impl IncidentChange {
    /// The live feed's and webhooks' name: `incident.opened` or `incident.resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "incident.opened",
            Self::Resolved => "incident.resolved",
        }
    }
}

/// Applies the status event `event_id` of `monitor_id`: first every earlier unapplied event of
/// that monitor, then it, in `seq` order, all in one transaction. For each: a `down` opens an
/// incident (or joins the open one), an `up` from `down` resolves the open incident opened by an
/// earlier event, one notification is created per channel linked to the monitor (when the event
/// notifies), and the event is marked applied. Maintenance windows and flapping hold some of
/// that back (see [`crate::flapping`] and [`crate::maintenance_hold`]), with the default [`FlappingPolicy`]; the worker passes the
/// operator's through [`apply_status_event_with`]. Returns the events applied, in order; an event
/// already applied returns itself alone, with its incident and its notifications still pending.
///
/// Idempotent on the event id: a redelivered event creates nothing new (incident keys are the
/// event ids, notification ids UUIDv5(event, channel)) and returns the notifications still
/// pending, so a crash between commit and enqueue loses none. An event not in the outbox (its
/// monitor was deleted) does nothing and returns nothing.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode; nothing is then committed.
pub async fn apply_status_event(pool: &Pool, event: &StatusEvent) -> Result<Vec<AppliedEvent>, StoreError> {
    apply_status_event_with(pool, event, &FlappingPolicy::default()).await
}

/// [`apply_status_event`] with the operator's flapping policy (`FLAPPING_THRESHOLD`,
/// `FLAPPING_WINDOW_SECONDS`); maintenance windows and flapping gate incidents and alerts as
/// [`crate::flapping`] and [`crate::maintenance_hold`] tell.
///
/// # Errors
/// As [`apply_status_event`].
#[tracing::instrument(skip_all, fields(event_id = %event.event_id, monitor_id = %event.monitor_id, applied))]
pub async fn apply_status_event_with(
    pool: &Pool,
    event: &StatusEvent,
    policy: &FlappingPolicy,
) -> Result<Vec<AppliedEvent>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // One applier per monitor at a time. NO KEY UPDATE does not block the checks' foreign-key
    // checks (KEY SHARE), so the monitoring worker is never held up by this.
    let monitor =
        tx.prepare_cached("SELECT name, url, owner_id FROM monitors WHERE id = $1 FOR NO KEY UPDATE").await?;
    let Some(row) = tx.query_opt(&monitor, &[&event.monitor_id]).await? else {
        tx.commit().await?;
        return Ok(Vec::new());
    };
    let monitor = WebhookMonitor { id: event.monitor_id, name: row.get(0), url: row.get(1) };
    let owner_id: Uuid = row.get(2);
    // The event's own state and, unless it is applied already, every unapplied event of its
    // monitor up to it, in one round trip: rows with the outbox's columns (NULL when applied)
    // followed by the event's seq, whether it is applied and its incident.
    let lookup = tx.prepare_cached(earlier_unapplied_query()).await?;
    let rows = tx.query(&lookup, &[&event.monitor_id, &event.event_id]).await?;
    let Some(first) = rows.first() else {
        tx.commit().await?;
        return Ok(Vec::new());
    };
    let own = crate::events::COLUMN_COUNT;
    let (applied, incident_id): (bool, Option<Uuid>) = (first.get(own + 1), first.get(own + 2));
    if applied {
        let stored = crate::events::load(&tx, event.event_id).await?.unwrap_or_else(|| event.clone());
        let pending = pending_notifications(&tx, event.event_id).await?;
        let timers = match incident_id {
            Some(id) => crate::timers::pending_of(&tx, id).await?,
            None => Vec::new(),
        };
        let incident_change = match incident_id {
            Some(id) => change_of(&tx, id, event.event_id).await?,
            None => None,
        };
        tx.commit().await?;
        return Ok(vec![AppliedEvent {
            event: stored,
            incident_id,
            incident_change,
            owner_id,
            pending_notifications: pending,
            timers,
        }]);
    }
    let mut applied = Vec::new();
    // A row of NULLs stands for no unapplied event (only when the message names another
    // monitor than the outbox does).
    for row in rows.iter().filter(|r| r.get::<_, Option<Uuid>>(0).is_some()) {
        let e = crate::events::from_row(row)?;
        let mut one = apply_one(&tx, &monitor, e, policy).await?;
        one.owner_id = owner_id;
        applied.push(one);
    }
    tx.commit().await?;
    tracing::Span::current().record("applied", applied.len());
    Ok(applied)
}

/// The applier's lookup, after its monitor's lock: `$1` the monitor's id, `$2` the event's id
/// (both uuid). No row when the event is not in the outbox. Otherwise one row per unapplied
/// event of the monitor up to the event's `seq`, in `seq` order, or one row of NULLs when the
/// event is applied already; each row holds the outbox's columns (the outbox decoder's,
/// [`crate::events::COLUMN_COUNT`] of them), then the event's
/// own `seq` (int8), whether it is applied (bool) and its incident (uuid or NULL). Public so
/// that a test can check how Postgres plans it: the unapplied events must be found through the
/// monitor's own index entries (`status_events_unapplied_by_monitor`), never by a scan of every
/// waiting event (migration V29 says why).
pub fn earlier_unapplied_query() -> &'static str {
    // Built once: the applier asks for it with every event.
    static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT e.*, me.seq, me.applied, me.incident_id \
             FROM (SELECT seq, applied_at IS NOT NULL AS applied, incident_id FROM status_events WHERE id = $2) me \
             LEFT JOIN LATERAL (SELECT {} FROM status_events \
                                WHERE monitor_id = $1 AND applied_at IS NULL AND seq <= me.seq ORDER BY seq) e \
               ON NOT me.applied \
             ORDER BY e.seq",
            crate::events::COLUMNS
        )
    });
    &QUERY
}

/// What event `event_id` did to incident `incident_id`: opened it, resolved it, or neither.
async fn change_of(
    tx: &Transaction<'_>,
    incident_id: Uuid,
    event_id: Uuid,
) -> Result<Option<IncidentChange>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT opened_event_id = $2, coalesce(resolved_event_id = $2, false) FROM incidents WHERE id = $1",
        )
        .await?;
    Ok(match tx.query_opt(&stmt, &[&incident_id, &event_id]).await?.map(|r| (r.get(0), r.get(1))) {
        Some((true, _)) => Some(IncidentChange::Opened),
        Some((_, true)) => Some(IncidentChange::Resolved),
        _ => None,
    })
}

/// Applies one unapplied event, every earlier event of its monitor being applied already.
async fn apply_one(
    tx: &Transaction<'_>,
    monitor: &WebhookMonitor,
    event: StatusEvent,
    policy: &FlappingPolicy,
) -> Result<AppliedEvent, StoreError> {
    let seq = event.seq.unwrap_or(i64::MAX);
    let gate = crate::gate::judge(tx, monitor, &event, policy).await?;
    // A notice (certificate, slowness) changes no incident; it names the open one, if any.
    let transition = event.is_transition().then_some((event.from, event.to));
    let (incident, change) = match transition {
        None => {
            let open = tx
                .prepare_cached(
                    "SELECT id, opened_at, resolved_at FROM incidents WHERE monitor_id = $1 AND state = 'open'",
                )
                .await?;
            (tx.query_opt(&open, &[&event.monitor_id]).await?, None)
        }
        Some((_, MonitorStatus::Down)) if !gate.opens_incidents() => (None, None),
        Some((_, MonitorStatus::Down)) => {
            let open = tx
                .prepare_cached(
                    "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_seq, opened_at, cause) \
                     VALUES ($1, $2, 'open', $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(
                &open,
                &[
                    &Uuid::now_v7(),
                    &event.monitor_id,
                    &event.event_id,
                    &seq,
                    &event.occurred_at,
                    &event.cause,
                ],
            )
            .await?;
            // Ours if we just opened it; otherwise the monitor already had an open incident
            // (it went down again with no `up` between, e.g. across a pause), which this joins.
            let find = tx
                .prepare_cached(
                    "SELECT id, opened_at, resolved_at, opened_event_id = $1 FROM incidents \
                     WHERE opened_event_id = $1 OR (monitor_id = $2 AND state = 'open') \
                     ORDER BY (opened_event_id = $1) DESC LIMIT 1",
                )
                .await?;
            let row = tx.query_opt(&find, &[&event.event_id, &event.monitor_id]).await?;
            let opened = row.as_ref().is_some_and(|r| r.get::<_, bool>(3));
            (row, opened.then_some(IncidentChange::Opened))
        }
        Some((MonitorStatus::Down, MonitorStatus::Up)) => {
            // Only an incident opened by an earlier event: a late event never resolves a newer one.
            let resolve = tx
                .prepare_cached(
                    "UPDATE incidents SET state = 'resolved', resolved_at = $3, resolved_event_id = $1 \
                     WHERE monitor_id = $2 AND state = 'open' AND coalesce(opened_seq < $4, opened_at <= $3) \
                     RETURNING id, opened_at, resolved_at",
                )
                .await?;
            let row = tx
                .query_opt(&resolve, &[&event.event_id, &event.monitor_id, &event.occurred_at, &seq])
                .await?;
            let resolved = row.is_some();
            (row, resolved.then_some(IncidentChange::Resolved))
        }
        _ => (None, None),
    };
    let incident = incident.map(|r| WebhookIncident {
        id: r.get(0),
        opened_at: r.get(1),
        resolved_at: r.get::<_, Option<OffsetDateTime>>(2),
    });
    let incident_id = incident.as_ref().map(|i| i.id);
    let resolved = incident.as_ref().is_some_and(|i| i.resolved_at.is_some());
    let mut pending = gate.earlier.clone();
    let gated = incident.clone();
    let mut timers = Vec::new();
    if event.notify && gate.alerts(&event, resolved) {
        let payload = WebhookPayload {
            event_id: event.event_id,
            kind: event.webhook_type().to_string(),
            monitor: monitor.clone(),
            incident,
            previous_status: event.from,
            status: event.to,
            occurred_at: event.occurred_at,
            cause: event.cause.clone(),
            certificate: event.certificate.clone(),
            reminder: None,
            escalation: false,
            flapping: None,
            degraded: event.degraded.clone(),
        };
        let payload = serde_json::to_value(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Which links hear it now, and which later (alert rules: delays, reminders, escalation).
        timers = crate::rules::fan_out(tx, &event, gated.as_ref(), &payload).await?;
    }
    pending.extend(gate.apply(tx, monitor, &event, gated, policy).await?);
    let mark = tx
        .prepare_cached(
            "UPDATE status_events SET applied_at = coalesce(applied_at, now()), incident_id = $2 WHERE id = $1",
        )
        .await?;
    tx.execute(&mark, &[&event.event_id, &incident_id]).await?;
    // The caller knows the owner; it fills `owner_id` in.
    Ok(AppliedEvent {
        event,
        incident_id,
        incident_change: change,
        owner_id: Uuid::nil(),
        pending_notifications: pending,
        timers,
    })
}

/// The notifications of `event_id` still pending (its own, and a flapping alert it started).
pub(crate) async fn pending_notifications(
    tx: &Transaction<'_>,
    event_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    let pending = tx
        .prepare_cached("SELECT id FROM notifications WHERE event_id = $1 AND state = 'pending' ORDER BY id")
        .await?;
    Ok(tx.query(&pending, &[&event_id]).await?.iter().map(|r| r.get(0)).collect())
}
