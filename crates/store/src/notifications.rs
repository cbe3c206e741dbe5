//! Notification deliveries: what to send, and the log of every attempt.

use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_secrets::Keyring;
use uuid::Uuid;

/// A notification's delivery state, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not delivered yet; more attempts may follow.
    Pending,
    /// Delivered (the receiver answered 2xx).
    Delivered,
    /// Cannot be delivered (its channel is gone or misconfigured).
    Failed,
    /// Every attempt failed; the job went to the dead-letter stream.
    Dead,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            other => return Err(StoreError::Corrupt(format!("notification state {other:?}"))),
        })
    }
}

/// Everything needed to deliver one notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Notification id (the `webhook-id`).
    pub id: Uuid,
    /// Current state.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i32,
    /// Attempts made before its last replay from the dead-letter stream (0 if never replayed):
    /// `attempts - attempt_base` counts against `NOTIFICATION_MAX_ATTEMPTS`.
    pub attempt_base: i32,
    /// The channel, unless it was deleted: (id, kind, config JSON).
    pub channel: Option<(Uuid, String, serde_json::Value)>,
    /// The channel's owner, unless the channel was deleted.
    pub owner_id: Option<Uuid>,
    /// The body to send.
    pub payload: serde_json::Value,
}

/// Loads a notification and its channel.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode;
/// [`StoreError::Secret`] when the channel's sealed config does not open under `keys`.
pub async fn load_delivery(pool: &Pool, keys: &Keyring, id: Uuid) -> Result<Option<Delivery>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT n.id, n.state, n.attempts, c.id, c.kind, c.config, n.payload, n.attempt_base, c.owner_id, \
               c.config_sealed \
             FROM notifications n LEFT JOIN channels c ON c.id = n.channel_id WHERE n.id = $1",
        )
        .await?;
    client.query_opt(&stmt, &[&id]).await?.map(|r| delivery(&r, keys)).transpose()
}

/// Decodes `n.id, n.state, n.attempts, c.id, c.kind, c.config, n.payload, n.attempt_base,
/// c.owner_id, c.config_sealed` (a notification left joined to its channel), opening the
/// channel's config with `keys`.
fn delivery(r: &tokio_postgres::Row, keys: &Keyring) -> Result<Delivery, StoreError> {
    let channel = match r.get::<_, Option<Uuid>>(3) {
        Some(cid) => {
            Some((cid, r.get::<_, String>(4), crate::channels::open_config(keys, cid, r.get(5), r.get(9))?))
        }
        None => None,
    };
    Ok(Delivery {
        id: r.get(0),
        state: DeliveryState::parse(r.get(1))?,
        attempts: r.get(2),
        channel,
        payload: r.get(6),
        attempt_base: r.get(7),
        owner_id: r.get(8),
    })
}

/// What [`claim_delivery`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Leased to the caller until the lease ends: deliver it, then [`record_attempt`].
    Claimed(Delivery),
    /// Another job holds its lease, or its retry is not due yet: this job is a duplicate.
    Busy,
    /// Delivered, failed or dead already.
    Finished,
    /// No such notification (its monitor was deleted).
    Missing,
}

/// Leases a pending notification to the job `owner` (its stream entry id) for `lease_ms`,
/// unless another job holds the lease or its next retry is more than 5 s away (a duplicate
/// job: the one waiting for the retry delivers it). A job enqueued twice (a redelivered status
/// event, a sweep racing a slow queue) thus delivers once, while the owner's own retries (a
/// failed store after the attempt) take the lease again.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode;
/// [`StoreError::Secret`] when the channel's sealed config does not open under `keys`.
#[tracing::instrument(skip_all, fields(notification_id = %id, stream_id = %owner))]
pub async fn claim_delivery(
    pool: &Pool,
    keys: &Keyring,
    id: Uuid,
    owner: &str,
    lease_ms: i64,
) -> Result<Claim, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH claimed AS ( \
               UPDATE notifications SET lease_until = now() + make_interval(secs => $2::float8 / 1000), \
                 lease_owner = $3 \
               WHERE id = $1 AND state = 'pending' \
                 AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $3) \
                 AND (next_attempt_at IS NULL OR next_attempt_at <= now() + interval '5 seconds') \
               RETURNING id, state, attempts, channel_id, payload, attempt_base) \
             SELECT n.id, n.state, n.attempts, c.id, c.kind, c.config, n.payload, n.attempt_base, c.owner_id, \
               c.config_sealed \
             FROM claimed n LEFT JOIN channels c ON c.id = n.channel_id",
        )
        .await?;
    if let Some(r) = client.query_opt(&stmt, &[&id, &(lease_ms as f64), &owner]).await? {
        return Ok(Claim::Claimed(delivery(&r, keys)?));
    }
    let state = client.prepare_cached("SELECT state FROM notifications WHERE id = $1").await?;
    Ok(match client.query_opt(&state, &[&id]).await? {
        None => Claim::Missing,
        Some(r) if DeliveryState::parse(r.get(0))? == DeliveryState::Pending => Claim::Busy,
        Some(_) => Claim::Finished,
    })
}

/// Gives back the lease `owner` (a job's stream entry id) holds on a notification without
/// attempting it (its channel or owner was at its in-flight limit), and marks it enqueued now,
/// so the sweep does not take the waiting job for a lost one.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn release_lease(pool: &Pool, id: Uuid, owner: &str) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE notifications SET lease_until = NULL, enqueued_at = now() \
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .await?;
    client.execute(&stmt, &[&id, &owner]).await?;
    Ok(())
}

/// One delivery attempt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub attempt: i32,
    /// When it started.
    pub attempted_at: OffsetDateTime,
    /// The receiver's status code, if it answered.
    pub http_status: Option<i16>,
    /// Time to the answer, ms.
    pub latency_ms: Option<i32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When the next attempt is due, when this one failed and will be retried.
    pub retry_at: Option<OffsetDateTime>,
}

/// Logs `attempt`, moves the notification to `state`, records when its retry is due and ends
/// its lease, in one transaction. Logging the same attempt number twice (a redelivery) keeps
/// the first row.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
#[tracing::instrument(skip_all, fields(notification_id = %id, attempt = attempt.attempt, state = state.as_str()))]
pub async fn record_attempt(
    pool: &Pool,
    id: Uuid,
    attempt: &Attempt,
    state: DeliveryState,
) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let log = tx
        .prepare_cached(
            "INSERT INTO notification_attempts (notification_id, attempt, attempted_at, http_status, latency_ms, error) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(
        &log,
        &[
            &id,
            &attempt.attempt,
            &attempt.attempted_at,
            &attempt.http_status,
            &attempt.latency_ms,
            &attempt.error,
        ],
    )
    .await?;
    let update = tx
        .prepare_cached(
            "UPDATE notifications SET state = $2, attempts = greatest(attempts, $3), last_error = $4, \
               delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END, \
               next_attempt_at = $5, lease_until = NULL \
             WHERE id = $1 AND state <> 'delivered'",
        )
        .await?;
    tx.execute(&update, &[&id, &state.as_str(), &attempt.attempt, &attempt.error, &attempt.retry_at]).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a notification that can never be delivered (channel deleted or unusable).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn mark_failed(pool: &Pool, id: Uuid, reason: &str) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE notifications SET state = 'failed', last_error = $2 WHERE id = $1 AND state = 'pending'",
        )
        .await?;
    client.execute(&stmt, &[&id, &reason]).await?;
    Ok(())
}

/// Makes a dead (or failed) notification pending again for a replay from the dead-letter
/// stream, with `NOTIFICATION_MAX_ATTEMPTS` fresh attempts, and records the replay (by
/// `actor`) on its incident's timeline, in one transaction; returns whether it was revived
/// (`false`: delivered, already pending, or gone with its monitor).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn revive(pool: &Pool, id: Uuid, actor: Option<Uuid>) -> Result<bool, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE notifications n SET state = 'pending', attempt_base = attempts, next_attempt_at = NULL, \
               lease_until = NULL WHERE id = $1 AND state IN ('dead', 'failed') \
             RETURNING n.channel_id, n.event_type, n.attempts, \
               (SELECT i.id FROM incidents i WHERE i.id = (n.payload #>> '{incident,id}')::uuid)",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&id]).await? else {
        tx.commit().await?;
        return Ok(false);
    };
    if let Some(incident) = row.get::<_, Option<Uuid>>(3) {
        let channel: Option<Uuid> = row.get(0);
        let event_type: &str = row.get(1);
        let attempts: i32 = row.get(2);
        let detail = serde_json::json!({
            "notification_id": id, "channel_id": channel, "event_type": event_type, "attempts_before": attempts,
        });
        crate::timeline::record(&tx, incident, "notification.replayed", actor, &detail).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Up to `limit` notifications whose job Redis lost, marked as enqueued again now: still
/// `pending`, not leased, and with no sign of life for `idle_ms` — not created, enqueued again,
/// attempted, or due for a retry in that time. The caller enqueues a job for each; a job that
/// was not lost after all finds the notification leased or finished and does nothing.
/// Oldest first.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn orphaned(pool: &Pool, idle_ms: i64, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH lost AS ( \
               SELECT n.id FROM notifications n \
               WHERE n.state = 'pending' AND (n.lease_until IS NULL OR n.lease_until < now()) \
                 AND greatest(n.created_at, n.enqueued_at, n.next_attempt_at) \
                     < now() - make_interval(secs => $1::float8 / 1000) \
                 AND NOT EXISTS (SELECT 1 FROM notification_attempts a WHERE a.notification_id = n.id \
                                 AND a.attempted_at >= now() - make_interval(secs => $1::float8 / 1000)) \
               ORDER BY n.created_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE notifications n SET enqueued_at = now() FROM lost WHERE n.id = lost.id RETURNING n.id",
        )
        .await?;
    Ok(client.query(&stmt, &[&(idle_ms as f64), &limit]).await?.iter().map(|r| r.get(0)).collect())
}
