//! Alert rules at fan-out: which linked channels an applied status event notifies now, and the
//! timers it leaves for later (delays, reminders, escalations). See `upcheck_domain::rules`.
//!
//! - A `down` that opens (or joins) an incident engages every first-tier link without a delay
//!   at once (its down if it listens to `monitor.down`, and its first reminder timer), and
//!   leaves a `delayed` timer for each first-tier link with a delay and an `escalation` timer
//!   for each escalation target, due that many minutes after the incident opened.
//! - An `up` that resolves an incident cancels its pending timers and sends the `monitor.up`
//!   to the engaged links that listen to it, and to no other.
//! - Any other event (a certificate or slowness notice, an up that resolved nothing) reaches the
//!   first-tier links that listen to its type, at once (no incident: no delay applies).
//!
//! Engagements are recorded in `incident_channels` and timers in `alert_timers`: with the
//! notifications, they are what an incident timeline reads.

use crate::StoreError;
use crate::timers::{self, ScheduledTimer};
use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use upcheck_domain::rules::AlertRule;
use upcheck_domain::{
    MonitorStatus, StatusEvent, TimerDue, TimerKind, WebhookIncident, WebhookMonitor, WebhookPayload,
    notification_id,
};
use uuid::Uuid;

const LINK_COLUMNS: &str = "mc.channel_id, mc.events, mc.delay_minutes, mc.reminder_minutes, \
     mc.escalate_after_minutes, c.kind";

fn link_from_row(r: &tokio_postgres::Row) -> (AlertRule, String) {
    let minutes = |i: usize| r.get::<_, Option<i32>>(i).and_then(|m| u32::try_from(m).ok());
    let rule = AlertRule {
        channel_id: r.get(0),
        events: r.get(1),
        delay_minutes: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
        reminder_minutes: minutes(3),
        escalate_after_minutes: minutes(4),
    };
    (rule, r.get(5))
}

/// A monitor's links with their rules and channel kinds, by channel id.
pub(crate) async fn links(
    tx: &Transaction<'_>,
    monitor_id: Uuid,
) -> Result<Vec<(AlertRule, String)>, StoreError> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {LINK_COLUMNS} FROM monitor_channels mc JOIN channels c ON c.id = mc.channel_id \
             WHERE mc.monitor_id = $1 ORDER BY c.id"
        ))
        .await?;
    Ok(tx.query(&stmt, &[&monitor_id]).await?.iter().map(link_from_row).collect())
}

/// One link's rule and channel kind, if the channel is still linked.
pub(crate) async fn link(
    tx: &Transaction<'_>,
    monitor_id: Uuid,
    channel_id: Uuid,
) -> Result<Option<(AlertRule, String)>, StoreError> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {LINK_COLUMNS} FROM monitor_channels mc JOIN channels c ON c.id = mc.channel_id \
             WHERE mc.monitor_id = $1 AND mc.channel_id = $2"
        ))
        .await?;
    Ok(tx.query_opt(&stmt, &[&monitor_id, &channel_id]).await?.as_ref().map(link_from_row))
}

/// Whether `channel_id` has been alerted about `incident_id`.
pub(crate) async fn is_engaged(
    tx: &Transaction<'_>,
    incident_id: Uuid,
    channel_id: Uuid,
) -> Result<bool, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM incident_channels WHERE incident_id = $1 AND channel_id = $2")
        .await?;
    Ok(tx.query_opt(&stmt, &[&incident_id, &channel_id]).await?.is_some())
}

/// How a channel came to be alerted about an incident (`incident_channels.via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engage {
    /// With the incident's down.
    Immediate,
    /// After the link's delay.
    Delayed,
    /// By escalation.
    Escalation,
}

impl Engage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Immediate => "immediate",
            Self::Delayed => "delayed",
            Self::Escalation => "escalation",
        }
    }

    /// Records that `rule`'s channel is alerted about `incident_id` at `at`; when that is new
    /// and the incident is not acknowledged, schedules its first reminder (returned when new).
    pub(crate) async fn record(
        tx: &Transaction<'_>,
        via: Self,
        incident_id: Uuid,
        rule: &AlertRule,
        at: OffsetDateTime,
        acknowledged: bool,
    ) -> Result<Option<ScheduledTimer>, StoreError> {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO incident_channels (incident_id, channel_id, engaged_at, via) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        let new = tx.execute(&stmt, &[&incident_id, &rule.channel_id, &at, &via.as_str()]).await? == 1;
        match timers::first_reminder(incident_id, rule, at).filter(|_| new && !acknowledged) {
            Some((timer, due_at)) => timers::schedule(tx, timer, due_at).await,
            None => Ok(None),
        }
    }
}

/// `[id]` when notification `id` is still pending, else empty.
pub(crate) async fn still_pending(tx: &Transaction<'_>, id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let stmt = tx.prepare_cached("SELECT id FROM notifications WHERE id = $1 AND state = 'pending'").await?;
    Ok(tx.query_opt(&stmt, &[&id]).await?.map(|r| r.get(0)).into_iter().collect())
}

/// One notification row (pending), unless it exists.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_notification(
    tx: &Transaction<'_>,
    id: Uuid,
    event_id: Uuid,
    monitor_id: Uuid,
    channel: (Uuid, &str),
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<(), StoreError> {
    let insert = tx
        .prepare_cached(
            "INSERT INTO notifications (id, event_id, monitor_id, channel_id, channel_kind, event_type, payload, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    tx.execute(&insert, &[&id, &event_id, &monitor_id, &channel.0, &channel.1, &event_type, payload]).await?;
    Ok(())
}

/// The `monitor.down` notification a fired timer sends (a delayed alert, an escalation or a
/// reminder): the incident's opening event's body, marked with `reminder` / `escalation`.
/// Returns its id.
pub(crate) async fn notify_down(
    tx: &Transaction<'_>,
    timer: &TimerDue,
    channel_kind: &str,
    reminder: Option<u32>,
    escalation: bool,
) -> Result<Option<Uuid>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT m.id, m.name, m.url, i.opened_event_id, i.opened_at, i.cause, e.from_status, e.occurred_at \
             FROM incidents i JOIN monitors m ON m.id = i.monitor_id \
             LEFT JOIN status_events e ON e.id = i.opened_event_id WHERE i.id = $1",
        )
        .await?;
    let Some(r) = tx.query_opt(&stmt, &[&timer.incident_id]).await? else { return Ok(None) };
    let opened_at: OffsetDateTime = r.get(4);
    let payload = WebhookPayload {
        event_id: r.get(3),
        kind: "monitor.down".into(),
        monitor: WebhookMonitor { id: r.get(0), name: r.get(1), url: r.get(2) },
        incident: Some(WebhookIncident { id: timer.incident_id, opened_at, resolved_at: None }),
        previous_status: r
            .get::<_, Option<&str>>(6)
            .and_then(MonitorStatus::parse)
            .unwrap_or(MonitorStatus::Up),
        status: MonitorStatus::Down,
        occurred_at: r.get::<_, Option<OffsetDateTime>>(7).unwrap_or(opened_at),
        cause: r.get(5),
        certificate: None,
        reminder,
        escalation,
        flapping: None,
        degraded: None,
    };
    let body = serde_json::to_value(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id = timer.notification_id();
    let channel = (timer.channel_id, channel_kind);
    insert_notification(tx, id, payload.event_id, payload.monitor.id, channel, "monitor.down", &body).await?;
    Ok(Some(id))
}

/// The notification of `event` on `rule`'s channel, id `notification_id(event, channel)`.
async fn notify_now(
    tx: &Transaction<'_>,
    event: &StatusEvent,
    rule: &AlertRule,
    channel_kind: &str,
    payload: &serde_json::Value,
) -> Result<(), StoreError> {
    let id = notification_id(event.event_id, rule.channel_id);
    let channel = (rule.channel_id, channel_kind);
    insert_notification(tx, id, event.event_id, event.monitor_id, channel, event.webhook_type(), payload)
        .await
}

/// The fan-out of one applied event under its link's rules: creates the notifications due now
/// (with ids `notification_id(event, channel)`), records engagements, cancels or schedules
/// timers. Returns the timers it scheduled.
pub(crate) async fn fan_out(
    tx: &Transaction<'_>,
    event: &StatusEvent,
    incident: Option<&WebhookIncident>,
    payload: &serde_json::Value,
) -> Result<Vec<ScheduledTimer>, StoreError> {
    let event_type = event.webhook_type();
    let mut scheduled = Vec::new();
    let transition = event.is_transition().then_some(event.to);
    match (transition, incident) {
        (Some(MonitorStatus::Down), Some(i)) if i.resolved_at.is_none() => {
            for (rule, kind) in links(tx, event.monitor_id).await? {
                let wait = match (rule.escalate_after_minutes, rule.delay_minutes) {
                    (Some(m), _) => Some((TimerKind::Escalation, m)),
                    (None, d) if d > 0 => Some((TimerKind::Delayed, d)),
                    (None, _) => None,
                };
                if let Some((kind, minutes)) = wait {
                    let timer = TimerDue { incident_id: i.id, channel_id: rule.channel_id, kind, n: 0 };
                    let due_at = i.opened_at + time::Duration::minutes(i64::from(minutes));
                    scheduled.extend(timers::schedule(tx, timer, due_at).await?);
                    continue;
                }
                scheduled
                    .extend(Engage::record(tx, Engage::Immediate, i.id, &rule, i.opened_at, false).await?);
                if rule.listens_to(event_type) {
                    notify_now(tx, event, &rule, &kind, payload).await?;
                }
            }
        }
        (Some(MonitorStatus::Up), Some(i)) if i.resolved_at.is_some() => {
            timers::cancel_in(tx, i.id, &[]).await?;
            for (rule, kind) in links(tx, event.monitor_id).await? {
                if rule.listens_to(event_type) && is_engaged(tx, i.id, rule.channel_id).await? {
                    notify_now(tx, event, &rule, &kind, payload).await?;
                }
            }
        }
        _ => {
            for (rule, kind) in links(tx, event.monitor_id).await? {
                if !rule.is_escalation() && rule.listens_to(event_type) {
                    notify_now(tx, event, &rule, &kind, payload).await?;
                }
            }
        }
    }
    Ok(scheduled)
}
