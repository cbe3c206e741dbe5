//! The API's read models: checks, incidents and the delivery log (stats: [`crate::rollups`]).

use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::{CheckOutcome, IncidentState};
use uuid::Uuid;

/// One stored check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// When the probe finished.
    pub checked_at: OffsetDateTime,
    /// The probing region.
    pub region: String,
    /// `up` or `down`.
    pub status: CheckOutcome,
    /// Time to the response, ms.
    pub latency_ms: Option<i32>,
    /// The response's status code.
    pub http_status: Option<i16>,
    /// Why it failed.
    pub error: Option<String>,
    /// The job's stream id (part of the page cursor).
    pub job_id: String,
}

/// Checks of a monitor, newest first, within `[since, until)`, strictly before the `before`
/// position `(checked_at, job_id)` when given.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn checks(
    pool: &Pool,
    monitor_id: Uuid,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    before: Option<(OffsetDateTime, String)>,
    limit: i64,
) -> Result<Vec<Check>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT checked_at, region, status, latency_ms, http_status, error, job_id FROM check_results \
             WHERE monitor_id = $1 AND ($2::timestamptz IS NULL OR checked_at >= $2) \
               AND ($3::timestamptz IS NULL OR checked_at < $3) \
               AND ($4::timestamptz IS NULL OR (checked_at, job_id) < ($4, $5)) \
             ORDER BY checked_at DESC, job_id DESC LIMIT $6",
        )
        .await?;
    let (at, job) = before.map_or((None, String::new()), |(a, j)| (Some(a), j));
    let rows = client.query(&stmt, &[&monitor_id, &since, &until, &at, &job, &limit]).await?;
    rows.iter()
        .map(|r| {
            Ok(Check {
                checked_at: r.get(0),
                region: r.get(1),
                status: crate::error::stored(r.get(2), CheckOutcome::parse, "check status")?,
                latency_ms: r.get(3),
                http_status: r.get(4),
                error: r.get(5),
                job_id: r.get(6),
            })
        })
        .collect()
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Id.
    pub id: Uuid,
    /// Its monitor.
    pub monitor_id: Uuid,
    /// `open` or `resolved`.
    pub state: IncidentState,
    /// When it opened.
    pub opened_at: OffsetDateTime,
    /// When someone acknowledged it.
    pub acknowledged_at: Option<OffsetDateTime>,
    /// When it was resolved.
    pub resolved_at: Option<OffsetDateTime>,
    /// The failing check's error.
    pub cause: Option<String>,
    /// Who acknowledged it first (unless that user was deleted since).
    pub acknowledged_by: Option<Uuid>,
}

impl Incident {
    /// Seconds from opening to the first acknowledgement, once acknowledged.
    pub fn time_to_acknowledge_seconds(&self) -> Option<i64> {
        self.acknowledged_at.map(|a| (a - self.opened_at).whole_seconds().max(0))
    }

    /// Seconds from opening to resolution, once resolved.
    pub fn duration_seconds(&self) -> Option<i64> {
        self.resolved_at.map(|r| (r - self.opened_at).whole_seconds().max(0))
    }
}

const INCIDENT: &str =
    "i.id, i.monitor_id, i.state, i.opened_at, i.acknowledged_at, i.resolved_at, i.cause, i.acknowledged_by";

pub(crate) fn incident(r: &tokio_postgres::Row) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: r.get(0),
        monitor_id: r.get(1),
        state: crate::error::stored(r.get(2), IncidentState::parse, "incident state")?,
        opened_at: r.get(3),
        acknowledged_at: r.get(4),
        resolved_at: r.get(5),
        cause: r.get(6),
        acknowledged_by: r.get(7),
    })
}

/// Incidents of `owner`'s monitors, newest first (ids are time-ordered), optionally of one
/// monitor and one state, with ids before `before`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn incidents(
    pool: &Pool,
    owner: Uuid,
    monitor_id: Option<Uuid>,
    state: Option<IncidentState>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Incident>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {INCIDENT} FROM incidents i JOIN monitors m ON m.id = i.monitor_id \
             WHERE m.owner_id = $1 AND ($2::uuid IS NULL OR i.monitor_id = $2) \
               AND ($3::text IS NULL OR i.state = $3) AND ($4::uuid IS NULL OR i.id < $4) \
             ORDER BY i.id DESC LIMIT $5"
        ))
        .await?;
    let state = state.map(IncidentState::as_str);
    client.query(&stmt, &[&owner, &monitor_id, &state, &before, &limit]).await?.iter().map(incident).collect()
}

/// One incident of `owner`'s monitors.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn incident_of(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<Incident>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {INCIDENT} FROM incidents i JOIN monitors m ON m.id = i.monitor_id \
             WHERE i.id = $1 AND m.owner_id = $2"
        ))
        .await?;
    client.query_opt(&stmt, &[&id, &owner]).await?.as_ref().map(incident).transpose()
}

/// Acknowledges an incident (the first acknowledgement's time and user are kept).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn acknowledge(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    user: Uuid,
) -> Result<Option<Incident>, StoreError> {
    Ok(acknowledge_for_feed(pool, owner, id, user).await?.map(|(incident, _)| incident))
}

/// [`acknowledge`], also returning the acknowledgement for the live feed when this call made
/// the first one ([`crate::feed::acknowledge_first`]).
///
/// # Errors
/// As [`acknowledge`].
pub async fn acknowledge_for_feed(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    user: Uuid,
) -> Result<Option<(Incident, Option<upcheck_domain::live::LiveAcknowledgement>)>, StoreError> {
    let first = crate::feed::acknowledge_first(pool, owner, id, user).await?;
    Ok(incident_of(pool, owner, id).await?.map(|incident| (incident, first)))
}

/// One entry of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Id (the `webhook-id`).
    pub id: Uuid,
    /// The channel, unless deleted since.
    pub channel_id: Option<Uuid>,
    /// `monitor.down` or `monitor.up`.
    pub event: String,
    /// `pending`, `delivered`, `failed` or `dead`.
    pub state: crate::notifications::DeliveryState,
    /// Attempts made.
    pub attempts: i32,
    /// The latest attempt's error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<OffsetDateTime>,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A monitor's delivery log, newest first, strictly before `(created_at, id)` when given.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn notifications(
    pool: &Pool,
    monitor_id: Uuid,
    before: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, channel_id, event_type, state, attempts, last_error, delivered_at, created_at \
             FROM notifications WHERE monitor_id = $1 \
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .await?;
    let (at, id) = before.map_or((None, Uuid::nil()), |(a, i)| (Some(a), i));
    client
        .query(&stmt, &[&monitor_id, &at, &id, &limit])
        .await?
        .iter()
        .map(|r| {
            Ok(Notification {
                id: r.get(0),
                channel_id: r.get(1),
                event: r.get(2),
                state: crate::notifications::DeliveryState::parse(r.get(3))?,
                attempts: r.get(4),
                last_error: r.get(5),
                delivered_at: r.get(6),
                created_at: r.get(7),
            })
        })
        .collect()
}
