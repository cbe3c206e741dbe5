//! An incident's timeline: when it opened, every delivery attempt of its notifications (sent,
//! retrying, failed, dead; reminders and escalations marked as such), dead-letter replays and other recorded activity
//! (`incident_activity`), its acknowledgement and by whom, and its resolution, in time order.

use crate::reads::Incident;
use crate::{Pool, StoreError};
use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// Most delivery attempts one timeline lists (the oldest first); past it the timeline says it
/// was cut.
pub const MAX_ATTEMPTS_LISTED: i64 = 2_000;

/// What happened, as named in the API (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The incident opened.
    Opened,
    /// A delivery attempt the receiver accepted.
    Sent,
    /// A failed attempt that will be tried again.
    Retrying,
    /// A failed attempt that is final (the receiver refused for good, or the channel is unusable).
    Failed,
    /// The last of `NOTIFICATION_MAX_ATTEMPTS` failed attempts: the notification went to the
    /// dead-letter stream.
    Dead,
    /// Someone acknowledged the incident.
    Acknowledged,
    /// The incident was resolved.
    Resolved,
    /// A recorded activity (`incident_activity.kind`, e.g. `notification.replayed`).
    Activity,
}

impl EntryKind {
    /// The API's name for it (an activity is named by its own kind).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "incident.opened",
            Self::Sent => "notification.sent",
            Self::Retrying => "notification.retrying",
            Self::Failed => "notification.failed",
            Self::Dead => "notification.dead",
            Self::Acknowledged => "incident.acknowledged",
            Self::Resolved => "incident.resolved",
            Self::Activity => "activity",
        }
    }
}

/// The channel a notification entry went over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryChannel {
    /// Its id, unless the channel was deleted since.
    pub id: Option<Uuid>,
    /// Its name, unless deleted.
    pub name: Option<String>,
    /// Its kind (`webhook`, `slack`, …), kept with the notification.
    pub kind: String,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When it happened.
    pub at: OffsetDateTime,
    /// What happened.
    pub kind: EntryKind,
    /// For [`EntryKind::Activity`]: the recorded kind (`notification.replayed`, …).
    pub activity: Option<String>,
    /// For notification entries: the notification (its `webhook-id`) and its event type.
    pub notification: Option<(Uuid, String)>,
    /// For notification entries: the channel.
    pub channel: Option<EntryChannel>,
    /// For notification entries: the attempt number (1 for the first).
    pub attempt: Option<i32>,
    /// For a reminder's attempts: its number (alert rules' `reminder_minutes`).
    pub reminder: Option<i64>,
    /// For an escalation's attempts (alert rules' `escalate_after_minutes`).
    pub escalation: bool,
    /// The provider's status code, if it answered.
    pub http_status: Option<i16>,
    /// Why the attempt failed, or the incident's cause when it opened.
    pub error: Option<String>,
    /// Who did it (acknowledged, replayed): (user id, e-mail), unless deleted since.
    pub actor: Option<(Uuid, String)>,
    /// Details of a recorded activity.
    pub detail: serde_json::Value,
}

impl Entry {
    fn new(at: OffsetDateTime, kind: EntryKind) -> Self {
        Self {
            at,
            kind,
            activity: None,
            notification: None,
            channel: None,
            attempt: None,
            reminder: None,
            escalation: false,
            http_status: None,
            error: None,
            actor: None,
            detail: serde_json::Value::Null,
        }
    }
}

/// An incident and its timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// The incident.
    pub incident: Incident,
    /// What happened, oldest first.
    pub entries: Vec<Entry>,
    /// Whether delivery attempts past [`MAX_ATTEMPTS_LISTED`] were left out.
    pub truncated: bool,
}

/// Records `kind` (e.g. `notification.replayed`) on `incident_id`'s timeline, done by `actor`.
///
/// # Errors
/// [`StoreError::Db`] when the statement fails (an unknown incident violates its foreign key).
pub async fn record(
    client: &impl GenericClient,
    incident_id: Uuid,
    kind: &str,
    actor: Option<Uuid>,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO incident_activity (id, incident_id, kind, actor_id, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    client.execute(&stmt, &[&Uuid::now_v7(), &incident_id, &kind, &actor, detail]).await?;
    Ok(())
}

/// The timeline of incident `id` of `owner`'s monitors; `None` when there is no such incident
/// of theirs.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn timeline(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<Timeline>, StoreError> {
    let Some(incident) = crate::reads::incident_of(pool, owner, id).await? else {
        return Ok(None);
    };
    let client = pool.get().await?;
    let mut entries =
        vec![Entry { error: incident.cause.clone(), ..Entry::new(incident.opened_at, EntryKind::Opened) }];
    // A notification names its incident in its payload; it is created when its event is
    // applied, after the incident opened (the margin covers the worker's and Postgres's clocks).
    let attempts = client
        .prepare_cached(
            "SELECT n.id, n.event_type, n.state, n.attempt_base, n.channel_id, c.name, n.channel_kind, \
                    a.attempt, a.attempted_at, a.http_status, a.error, \
                    a.attempt = max(a.attempt) OVER (PARTITION BY n.id), \
                    (n.payload ->> 'reminder')::bigint, coalesce((n.payload ->> 'escalation')::boolean, false) \
             FROM notifications n \
             JOIN notification_attempts a ON a.notification_id = n.id \
             LEFT JOIN channels c ON c.id = n.channel_id \
             WHERE n.monitor_id = $1 AND n.created_at >= $2::timestamptz - interval '5 minutes' \
               AND n.payload #>> '{incident,id}' = $3 \
             ORDER BY a.attempted_at, n.id, a.attempt LIMIT $4",
        )
        .await?;
    let rows = client
        .query(
            &attempts,
            &[&incident.monitor_id, &incident.opened_at, &id.to_string(), &(MAX_ATTEMPTS_LISTED + 1)],
        )
        .await?;
    let truncated = rows.len() as i64 > MAX_ATTEMPTS_LISTED;
    for r in rows.iter().take(MAX_ATTEMPTS_LISTED as usize) {
        let (state, attempt_base, attempt): (&str, i32, i32) = (r.get(2), r.get(3), r.get(7));
        let error: Option<String> = r.get(10);
        let last: bool = r.get(11);
        let kind = match (&error, last, state) {
            (None, _, _) => EntryKind::Sent,
            (Some(_), true, "failed") => EntryKind::Failed,
            (Some(_), true, "dead") => EntryKind::Dead,
            // The last attempt before a replay from the dead-letter stream ended that series.
            (Some(_), false, _) if attempt == attempt_base => EntryKind::Dead,
            _ => EntryKind::Retrying,
        };
        entries.push(Entry {
            notification: Some((r.get(0), r.get(1))),
            channel: Some(EntryChannel { id: r.get(4), name: r.get(5), kind: r.get(6) }),
            attempt: Some(attempt),
            reminder: r.get(12),
            escalation: r.get(13),
            http_status: r.get(9),
            error,
            ..Entry::new(r.get(8), kind)
        });
    }
    let activity = client
        .prepare_cached(
            "SELECT a.at, a.kind, a.actor_id, u.email, a.detail FROM incident_activity a \
             LEFT JOIN users u ON u.id = a.actor_id WHERE a.incident_id = $1 ORDER BY a.at, a.id",
        )
        .await?;
    for r in client.query(&activity, &[&id]).await? {
        let actor: Option<Uuid> = r.get(2);
        let email: Option<String> = r.get(3);
        entries.push(Entry {
            activity: Some(r.get(1)),
            actor: actor.zip(email),
            detail: r.get(4),
            ..Entry::new(r.get(0), EntryKind::Activity)
        });
    }
    if let Some(at) = incident.acknowledged_at {
        let who = match incident.acknowledged_by {
            Some(user) => {
                let email = client.prepare_cached("SELECT email FROM users WHERE id = $1").await?;
                client.query_opt(&email, &[&user]).await?.map(|r| (user, r.get::<_, String>(0)))
            }
            None => None,
        };
        entries.push(Entry { actor: who, ..Entry::new(at, EntryKind::Acknowledged) });
    }
    if let Some(at) = incident.resolved_at {
        entries.push(Entry::new(at, EntryKind::Resolved));
    }
    // Stable: equal times keep the order above (opened first, resolved last).
    entries.sort_by_key(|e| e.at);
    Ok(Some(Timeline { incident, entries, truncated }))
}
