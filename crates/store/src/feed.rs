//! The live feed's memory in Postgres: what a client reconnecting with `Last-Event-ID` missed
//! (applied status events and first acknowledgements, both numbered from `status_events_seq`),
//! and the acknowledgement that draws its number.

use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::live::{LiveAcknowledgement, LiveMessage, LiveStatus};
use uuid::Uuid;

/// Whose events to replay.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// Every monitor of this user: status events and acknowledgements.
    Owner(Uuid),
    /// These monitors (a public status page's): status events only.
    Monitors(&'a [Uuid]),
}

/// The events of `audience` numbered above `after_seq`, oldest first, at most `limit`: status
/// events once applied (so their incident is known), as [`LiveMessage::Status`], and, for an
/// owner, first acknowledgements as [`LiveMessage::Acknowledged`]. An event not yet applied is
/// left out: it comes live when it is.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a query fails,
/// [`StoreError::Corrupt`] when a stored event does not decode.
pub async fn replay(
    pool: &Pool,
    audience: Audience<'_>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<LiveMessage>, StoreError> {
    let client = pool.get().await?;
    let columns = format!(
        "{}, applied_at, incident_id, \
         EXISTS (SELECT 1 FROM incidents i WHERE i.opened_event_id = e.id), \
         EXISTS (SELECT 1 FROM incidents i WHERE i.resolved_event_id = e.id), \
         (SELECT owner_id FROM monitors m WHERE m.id = e.monitor_id)",
        crate::events::COLUMNS
    );
    let rows = match audience {
        Audience::Owner(owner) => {
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {columns} FROM status_events e \
                     WHERE e.monitor_id IN (SELECT id FROM monitors WHERE owner_id = $1) \
                       AND e.seq > $2 AND e.applied_at IS NOT NULL ORDER BY e.seq LIMIT $3"
                ))
                .await?;
            client.query(&stmt, &[&owner, &after_seq, &limit]).await?
        }
        Audience::Monitors(ids) => {
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {columns} FROM status_events e \
                     WHERE e.monitor_id = ANY($1) AND e.seq > $2 AND e.applied_at IS NOT NULL \
                     ORDER BY e.seq LIMIT $3"
                ))
                .await?;
            client.query(&stmt, &[&ids, &after_seq, &limit]).await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let e = crate::events::from_row(row)?;
        let (opened, resolved): (bool, bool) = (row.get(13), row.get(14));
        let incident = match (opened, resolved) {
            (true, _) => Some(crate::incidents::IncidentChange::Opened),
            (_, true) => Some(crate::incidents::IncidentChange::Resolved),
            _ => None,
        };
        out.push(LiveMessage::Status(LiveStatus {
            seq: e.seq.unwrap_or_default(),
            event_id: e.event_id,
            owner_id: row.get(15),
            monitor_id: e.monitor_id,
            event: e.webhook_type().to_string(),
            status: e.to,
            previous_status: e.from,
            occurred_at: e.occurred_at,
            incident_id: row.get(12),
            incident: incident.map(|c| c.as_str().to_string()),
        }));
    }
    if let Audience::Owner(owner) = audience {
        let stmt = client
            .prepare_cached(
                "SELECT i.acknowledged_seq, i.monitor_id, i.id, i.acknowledged_at, i.acknowledged_by \
                 FROM incidents i JOIN monitors m ON m.id = i.monitor_id \
                 WHERE m.owner_id = $1 AND i.acknowledged_seq > $2 ORDER BY i.acknowledged_seq LIMIT $3",
            )
            .await?;
        for row in client.query(&stmt, &[&owner, &after_seq, &limit]).await? {
            out.push(LiveMessage::Acknowledged(LiveAcknowledgement {
                seq: row.get(0),
                owner_id: owner,
                monitor_id: row.get(1),
                incident_id: row.get(2),
                acknowledged_at: row.get(3),
                acknowledged_by: row.get(4),
            }));
        }
        out.sort_by_key(seq_of);
        out.truncate(usize::try_from(limit).unwrap_or(0));
    }
    Ok(out)
}

/// The feed id of a status event or an acknowledgement (0 for a check batch, which has none).
pub fn seq_of(message: &LiveMessage) -> i64 {
    match message {
        LiveMessage::Status(s) => s.seq,
        LiveMessage::Acknowledged(a) => a.seq,
        LiveMessage::Checks { .. } => 0,
    }
}

/// Acknowledges incident `id` of `owner`'s monitors as `user` if no one has yet: the time, the
/// user and a number from `status_events_seq` (the feed's id) are recorded. Returns the
/// acknowledgement to publish when this call made it, `None` when the incident was
/// acknowledged already or is not the owner's.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when the update fails.
pub async fn acknowledge_first(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    user: Uuid,
) -> Result<Option<LiveAcknowledgement>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE incidents i SET acknowledged_at = now(), acknowledged_by = $3, \
               acknowledged_seq = nextval('status_events_seq') \
             FROM monitors m WHERE m.id = i.monitor_id AND i.id = $1 AND m.owner_id = $2 \
               AND i.acknowledged_at IS NULL \
             RETURNING i.acknowledged_seq, i.monitor_id, i.acknowledged_at",
        )
        .await?;
    Ok(client.query_opt(&stmt, &[&id, &owner, &user]).await?.map(|row| LiveAcknowledgement {
        seq: row.get(0),
        owner_id: owner,
        monitor_id: row.get(1),
        incident_id: id,
        acknowledged_at: row.get::<_, OffsetDateTime>(2),
        acknowledged_by: Some(user),
    }))
}

/// The owner of each of `monitors` that still exists (for check batches, which carry none).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when the query fails.
pub async fn owners_of(pool: &Pool, monitors: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT id, owner_id FROM monitors WHERE id = ANY($1)").await?;
    Ok(client.query(&stmt, &[&monitors]).await?.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The latest number `status_events_seq` handed out (0 before any): where a stream opened
/// without `Last-Event-ID` starts, so a resubscription replays what it missed since.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when the query fails.
pub async fn latest_seq(pool: &Pool) -> Result<i64, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM status_events_seq",
        )
        .await?;
    Ok(client.query_one(&stmt, &[]).await?.get(0))
}
