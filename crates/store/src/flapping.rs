//! Flapping: a monitor whose status changes more than `threshold` times within `window` is
//! flapping. It sends one `monitor.flapping` alert, no alert per change meanwhile (incidents still
//! open and resolve, so the record and uptime stay true), and one `monitor.stable` alert with the
//! final status once that status has held for a whole window; then the flag clears.
//!
//! The episode lives in `monitor_flapping`. Its alerts have deterministic ids: the flapping
//! alert's event id is UUIDv5(crossing event, "monitor.flapping"), the stable one's
//! UUIDv5(crossing event, "monitor.stable"), each notification UUIDv5(that id, channel), so a
//! redelivered event or a second replica's step adds nothing.

use crate::{Pool, StoreError};
use deadpool_postgres::Transaction;
use time::{Duration, OffsetDateTime};
use upcheck_domain::{
    FlappingSummary, MONITOR_FLAPPING, MONITOR_STABLE, MonitorStatus, StatusEvent, WebhookIncident,
    WebhookMonitor, WebhookPayload, notification_id,
};
use uuid::Uuid;

/// When a monitor counts as flapping (`FLAPPING_THRESHOLD`, `FLAPPING_WINDOW_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlappingPolicy {
    /// More than this many changes within the window is flapping (default 5).
    pub threshold: u32,
    /// The window, seconds (default 600).
    pub window_seconds: u64,
}

impl Default for FlappingPolicy {
    fn default() -> Self {
        Self { threshold: 5, window_seconds: 600 }
    }
}

/// What flapping does to one event's alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flap {
    /// Not flapping: the event alerts as usual.
    Calm,
    /// This change crossed the threshold: `changes` since `since`; one flapping alert instead.
    Starts { changes: u32, since: OffsetDateTime },
    /// Flapping already: no alert.
    Continues,
}

/// A status change that flapping counts: between `up` and `down`.
pub(crate) fn is_change(e: &StatusEvent) -> bool {
    use MonitorStatus::{Down, Up};
    e.is_transition() && matches!((e.from, e.to), (Up, Down) | (Down, Up))
}

/// Decides what flapping does to `event` (under the monitor's lock), ending first an episode
/// whose calm outlasted its window before this event (its stable alert ids are returned).
pub(crate) async fn judge(
    tx: &Transaction<'_>,
    monitor: &WebhookMonitor,
    event: &StatusEvent,
    policy: &FlappingPolicy,
) -> Result<(Flap, Vec<Uuid>), StoreError> {
    if event.certificate.is_some() {
        return Ok((Flap::Calm, Vec::new()));
    }
    // A slowness notice counts no change but is held back while the monitor flaps.
    let mut ended = Vec::new();
    if let Some(ep) = episode(tx, event.monitor_id).await? {
        if ep.calm_until() > event.occurred_at {
            if is_change(event) {
                tx.execute(
                    &tx.prepare_cached(
                        "UPDATE monitor_flapping SET changes = changes + 1, \
                       last_change_at = greatest(last_change_at, $2) WHERE monitor_id = $1",
                    )
                    .await?,
                    &[&event.monitor_id, &event.occurred_at],
                )
                .await?;
            }
            return Ok((Flap::Continues, Vec::new()));
        }
        ended = finish(tx, monitor, &ep, event.from).await?;
    }
    if !is_change(event) {
        return Ok((Flap::Calm, ended));
    }
    let window = Duration::seconds(i64::try_from(policy.window_seconds).unwrap_or(i64::MAX / 2));
    let count_changes = tx
        .prepare_cached(
            "SELECT count(*), min(occurred_at) FROM status_events \
             WHERE monitor_id = $1 AND seq <= $2 AND occurred_at > $3 AND occurred_at <= $4 \
               AND certificate IS NULL AND degraded IS NULL AND from_status IN ('up', 'down') AND to_status IN ('up', 'down') \
               AND from_status <> to_status",
        )
        .await?;
    let row = tx
        .query_one(
            &count_changes,
            &[
                &event.monitor_id,
                &event.seq.unwrap_or(i64::MAX),
                &(event.occurred_at - window),
                &event.occurred_at,
            ],
        )
        .await?;
    let changes = u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX);
    let flap = match row.get::<_, Option<OffsetDateTime>>(1) {
        Some(since) if changes > policy.threshold => Flap::Starts { changes, since },
        _ => Flap::Calm,
    };
    Ok((flap, ended))
}

/// Records the episode `event` started and creates its one `monitor.flapping` alert per channel
/// (keyed to `event`, so a redelivery finds them pending).
pub(crate) async fn start(
    tx: &Transaction<'_>,
    monitor: &WebhookMonitor,
    event: &StatusEvent,
    incident: Option<WebhookIncident>,
    (changes, since): (u32, OffsetDateTime),
    policy: &FlappingPolicy,
) -> Result<(), StoreError> {
    let window = i32::try_from(policy.window_seconds).unwrap_or(i32::MAX);
    let threshold = i32::try_from(policy.threshold).unwrap_or(i32::MAX);
    let insert = tx
        .prepare_cached(
            "INSERT INTO monitor_flapping (monitor_id, episode_id, since, last_change_at, changes, window_seconds, threshold) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (monitor_id) DO NOTHING",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &event.monitor_id,
            &event.event_id,
            &since,
            &event.occurred_at,
            &i32::try_from(changes).unwrap_or(i32::MAX),
            &window,
            &threshold,
        ],
    )
    .await?;
    let summary = FlappingSummary {
        changes,
        window_seconds: policy.window_seconds,
        threshold: policy.threshold,
        since,
        last_change_at: event.occurred_at,
    };
    let id = Uuid::new_v5(&event.event_id, MONITOR_FLAPPING.as_bytes());
    let payload = WebhookPayload {
        event_id: id,
        kind: MONITOR_FLAPPING.into(),
        monitor: monitor.clone(),
        incident,
        previous_status: event.from,
        status: event.to,
        occurred_at: event.occurred_at,
        cause: Some(format!(
            "status changed {changes} times in {} s (more than {}); now {}; no alert per change until it holds for {} s",
            policy.window_seconds,
            policy.threshold,
            event.to.as_str(),
            policy.window_seconds
        )),
        certificate: None,
        reminder: None,
        escalation: false,
        flapping: Some(summary),
        degraded: None,
    };
    notify_channels(tx, event.event_id, &payload).await
}

/// A flapping episode as stored.
struct Episode {
    monitor_id: Uuid,
    episode_id: Uuid,
    since: OffsetDateTime,
    last_change_at: OffsetDateTime,
    changes: i32,
    window_seconds: i32,
    threshold: i32,
}

impl Episode {
    /// When it counts as stable if nothing changes.
    fn calm_until(&self) -> OffsetDateTime {
        self.last_change_at + Duration::seconds(i64::from(self.window_seconds))
    }
}

async fn episode(tx: &Transaction<'_>, monitor_id: Uuid) -> Result<Option<Episode>, StoreError> {
    let row = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT monitor_id, episode_id, since, last_change_at, changes, window_seconds, threshold \
             FROM monitor_flapping WHERE monitor_id = $1 FOR UPDATE",
            )
            .await?,
            &[&monitor_id],
        )
        .await?;
    Ok(row.map(|r| Episode {
        monitor_id: r.get(0),
        episode_id: r.get(1),
        since: r.get(2),
        last_change_at: r.get(3),
        changes: r.get(4),
        window_seconds: r.get(5),
        threshold: r.get(6),
    }))
}

/// Ends `ep`: one `monitor.stable` alert per channel with `status`, and the flag cleared.
/// Returns the alert's notifications still pending.
async fn finish(
    tx: &Transaction<'_>,
    monitor: &WebhookMonitor,
    ep: &Episode,
    status: MonitorStatus,
) -> Result<Vec<Uuid>, StoreError> {
    let id = Uuid::new_v5(&ep.episode_id, MONITOR_STABLE.as_bytes());
    let incident = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT id, opened_at, resolved_at FROM incidents WHERE monitor_id = $1 AND state = 'open'",
            )
            .await?,
            &[&ep.monitor_id],
        )
        .await?
        .map(|r| WebhookIncident { id: r.get(0), opened_at: r.get(1), resolved_at: r.get(2) });
    let payload = WebhookPayload {
        event_id: id,
        kind: MONITOR_STABLE.into(),
        monitor: monitor.clone(),
        incident,
        previous_status: status,
        status,
        occurred_at: ep.calm_until(),
        cause: Some(format!(
            "{} since {} after {} changes; flapping is over",
            status.as_str(),
            ep.last_change_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            ep.changes
        )),
        certificate: None,
        reminder: None,
        escalation: false,
        degraded: None,
        flapping: Some(FlappingSummary {
            changes: u32::try_from(ep.changes).unwrap_or(0),
            window_seconds: u64::try_from(ep.window_seconds).unwrap_or(0),
            threshold: u32::try_from(ep.threshold).unwrap_or(0),
            since: ep.since,
            last_change_at: ep.last_change_at,
        }),
    };
    notify_channels(tx, id, &payload).await?;
    tx.execute(
        &tx.prepare_cached("DELETE FROM monitor_flapping WHERE monitor_id = $1").await?,
        &[&ep.monitor_id],
    )
    .await?;
    let pending = tx
        .query(
            &tx.prepare_cached(
                "SELECT id FROM notifications WHERE event_id = $1 AND state = 'pending' ORDER BY id",
            )
            .await?,
            &[&id],
        )
        .await?;
    Ok(pending.iter().map(|r| r.get(0)).collect())
}

/// Ends every episode of a monitor whose status has held for its whole window by `now`: one
/// `monitor.stable` alert each with the monitor's current status. Returns the notifications to
/// enqueue. Idempotent and safe beside other replicas and the event applier: each episode is
/// ended under its monitor's lock, once.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a statement
/// fails (what was committed before stays), [`StoreError::Corrupt`] when a row does not decode.
pub async fn settle(pool: &Pool, now: OffsetDateTime, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let mut client = pool.get().await?;
    let due: Vec<Uuid> = client
        .query(
            "SELECT monitor_id FROM monitor_flapping \
             WHERE last_change_at + make_interval(secs => window_seconds) <= $1 ORDER BY last_change_at LIMIT $2",
            &[&now, &limit],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut pending = Vec::new();
    for monitor_id in due {
        let tx = client.transaction().await?;
        // The applier's lock: an event being applied now goes first or after, never between.
        let Some(m) = tx
            .query_opt(
                &tx.prepare_cached("SELECT name, url FROM monitors WHERE id = $1 FOR NO KEY UPDATE").await?,
                &[&monitor_id],
            )
            .await?
        else {
            continue;
        };
        let monitor = WebhookMonitor { id: monitor_id, name: m.get(0), url: m.get(1) };
        match episode(&tx, monitor_id).await? {
            Some(ep) if ep.calm_until() <= now => {
                let status: Option<String> = tx
                    .query_opt(
                        &tx.prepare_cached("SELECT status FROM monitor_state WHERE monitor_id = $1").await?,
                        &[&monitor_id],
                    )
                    .await?
                    .map(|r| r.get(0));
                let status =
                    status.as_deref().and_then(MonitorStatus::parse).unwrap_or(MonitorStatus::Pending);
                pending.extend(finish(&tx, &monitor, &ep, status).await?);
            }
            _ => {}
        }
        tx.commit().await?;
    }
    Ok(pending)
}

/// Creates `payload`'s notification on each channel linked to its monitor whose rules hear
/// flapping ([`upcheck_domain::AlertRule::hears_flapping`]: first-tier links listening to
/// `monitor.down` or `monitor.up`), ids UUIDv5(`payload.event_id`, channel), recorded under
/// `key_event` (what a redelivery of that status event lists as pending).
pub(crate) async fn notify_channels(
    tx: &Transaction<'_>,
    key_event: Uuid,
    payload: &WebhookPayload,
) -> Result<(), StoreError> {
    let body = serde_json::to_value(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    for (rule, kind) in crate::rules::links(tx, payload.monitor.id).await? {
        if !rule.hears_flapping() {
            continue;
        }
        let channel: (Uuid, &str) = (rule.channel_id, &kind);
        let id = notification_id(payload.event_id, channel.0);
        crate::rules::insert_notification(
            tx,
            id,
            key_event,
            payload.monitor.id,
            channel,
            &payload.kind,
            &body,
        )
        .await?;
    }
    Ok(())
}
