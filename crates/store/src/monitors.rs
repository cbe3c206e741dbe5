//! Monitors: CRUD for their owners, with channel links and the status-machine row.

use crate::{Pool, StoreError};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use time::OffsetDateTime;
use upcheck_domain::probe_config::KindConfig;
use upcheck_domain::rules::AlertRule;
use upcheck_domain::{CheckOutcome, HttpMethod, MonitorKind, MonitorStatus, ProbeSpec};
use uuid::Uuid;

/// The probe-spec columns, in the order [`spec_from_row`] reads them (indexes 0..=15).
pub(crate) const SPEC_COLUMNS: &str = "m.id, m.kind, m.url, m.method, m.headers, m.body, m.interval_seconds, \
     m.timeout_ms, m.expected_status, m.failure_threshold, m.recovery_threshold, m.config, m.owner_id, \
     m.regions, m.min_failed_regions, m.headers_sealed";

/// A monitor as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// What the probe needs (its `monitor_id` is the monitor's id).
    pub spec: ProbeSpec,
    /// Display name.
    pub name: String,
    /// Whether scheduling is paused.
    pub paused: bool,
    /// `pending`, `up`, `down` or `paused`.
    pub status: MonitorStatus,
    /// When the latest check ran.
    pub last_checked_at: Option<OffsetDateTime>,
    /// The latest check's outcome (`degraded` shows an up monitor as slow).
    pub last_outcome: Option<CheckOutcome>,
    /// Linked notification channels.
    pub channel_ids: Vec<Uuid>,
    /// The alert rules of each link, by channel id (same channels as `channel_ids`).
    pub channels: Vec<AlertRule>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// A heartbeat monitor's ping token (`/api/v1/heartbeat/{token}`).
    pub heartbeat_token: Option<String>,
    /// Each region's own view of the monitor, by region name.
    pub regions: Vec<RegionStatus>,
    /// Whether it is flapping now (see [`crate::flapping`]).
    pub flapping: bool,
}

/// One region's status for a monitor, as its own status machine has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionStatus {
    /// The region.
    pub region: String,
    /// `pending`, `up` or `down`, as this region's checks have it.
    pub status: String,
    /// When this region last checked it.
    pub last_checked_at: Option<OffsetDateTime>,
    /// This region's latest failed check's error.
    pub error: Option<String>,
}

/// The statement reading the monitors `filter` selects (`m` is `monitors`): their
/// [`SPEC_COLUMNS`] (indexes 0..=15), then name, paused, created and updated times and heartbeat
/// token. Their status, regions and channel links are read by [`monitors`], for all at once.
fn select(filter: &str) -> String {
    format!(
        "SELECT {SPEC_COLUMNS}, m.name, m.paused, m.created_at, m.updated_at, m.heartbeat_token FROM monitors m {filter}"
    )
}

/// The monitors of `rows` (read by [`select`]), in their order, each with its status, whether
/// it flaps, its regions' state and its channel links. Those are read in three statements over
/// all the monitors, sent at once (`monitor_id = ANY($1)`: one range of each table's key per
/// monitor, or one pass over a small table). Not joins or subqueries per monitor: with small
/// tables Postgres scanned each table whole once per monitor and column, and with large ones a
/// generic plan merge-joined `monitor_state` from its first row; either made a page of 50
/// monitors cost Postgres milliseconds (BENCHMARKS.md).
///
/// # Errors
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when a stored row does not
/// decode.
async fn monitors(
    client: &impl GenericClient,
    rows: &[tokio_postgres::Row],
) -> Result<Vec<Monitor>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    // One monitor (a read, a create, an edit) is matched by `= $1`: Postgres plans `= ANY($1)`
    // for each call when one value makes it cheaper than its generic plan, which cost a
    // one-monitor read a quarter of its rate.
    let (matches, params): (&str, [&(dyn tokio_postgres::types::ToSql + Sync); 1]) = match ids.as_slice() {
        [one] => ("= $1", [one]),
        _ => ("= ANY($1)", [&ids]),
    };
    let state_stmt = client
        .prepare_cached(&format!(
            "SELECT s.monitor_id, s.status, f.monitor_id IS NOT NULL FROM monitor_state s \
             LEFT JOIN monitor_flapping f ON f.monitor_id = s.monitor_id AND f.monitor_id {matches} \
             WHERE s.monitor_id {matches}"
        ))
        .await?;
    let regions_stmt = client
        .prepare_cached(&format!(
            "SELECT monitor_id, region, status, last_checked_at, last_outcome, last_error \
             FROM monitor_region_state WHERE monitor_id {matches} ORDER BY monitor_id, region"
        ))
        .await?;
    let links_stmt = client
        .prepare_cached(&format!(
            "SELECT monitor_id, channel_id, events, delay_minutes, reminder_minutes, escalate_after_minutes \
             FROM monitor_channels WHERE monitor_id {matches} ORDER BY monitor_id, channel_id"
        ))
        .await?;
    // All three at once: the connection pipelines them.
    let (state_rows, region_rows, link_rows) = tokio::try_join!(
        client.query(&state_stmt, &params),
        client.query(&regions_stmt, &params),
        client.query(&links_stmt, &params)
    )?;
    let mut states: HashMap<Uuid, (&str, bool)> = HashMap::new();
    for r in &state_rows {
        states.insert(r.get(0), (r.get(1), r.get(2)));
    }
    let mut regions: HashMap<Uuid, Vec<(RegionStatus, Option<&str>)>> = HashMap::new();
    for r in &region_rows {
        regions.entry(r.get(0)).or_default().push((
            RegionStatus { region: r.get(1), status: r.get(2), last_checked_at: r.get(3), error: r.get(5) },
            r.get(4),
        ));
    }
    let mut links: HashMap<Uuid, Vec<AlertRule>> = HashMap::new();
    for r in &link_rows {
        let minutes = |i: usize| r.get::<_, Option<i32>>(i).map(|m| u32::try_from(m).unwrap_or(0));
        links.entry(r.get(0)).or_default().push(AlertRule {
            channel_id: r.get(1),
            events: r.get(2),
            delay_minutes: u32::try_from(r.get::<_, i32>(3)).unwrap_or(0),
            reminder_minutes: minutes(4),
            escalate_after_minutes: minutes(5),
        });
    }
    rows.iter()
        .map(|r| {
            let id: Uuid = r.get(0);
            let (status, flapping) = states.get(&id).copied().unwrap_or(("pending", false));
            let regions = regions.remove(&id).unwrap_or_default();
            // The latest check of any region: its time and outcome (a region never checked
            // counts last).
            let latest = regions.iter().max_by_key(|(s, _)| s.last_checked_at);
            let last_checked_at = latest.and_then(|(s, _)| s.last_checked_at);
            let last_outcome = latest
                .and_then(|(_, o)| *o)
                .map(|o| crate::error::stored(o, CheckOutcome::parse, "last_outcome"))
                .transpose()?;
            let channels = links.remove(&id).unwrap_or_default();
            Ok(Monitor {
                spec: spec_from_row(r)?,
                name: r.get(16),
                paused: r.get(17),
                status: crate::error::stored(status, MonitorStatus::parse, "status")?,
                last_checked_at,
                last_outcome,
                channel_ids: channels.iter().map(|c| c.channel_id).collect(),
                created_at: r.get(18),
                updated_at: r.get(19),
                heartbeat_token: r.get(20),
                regions: regions.into_iter().map(|(s, _)| s).collect(),
                channels,
                flapping,
            })
        })
        .collect()
}

/// Decodes the [`SPEC_COLUMNS`] at indexes 0..=15 of `r`. Headers stay sealed as stored.
///
/// # Errors
/// [`StoreError::Corrupt`] when a stored value is out of its domain.
pub(crate) fn spec_from_row(r: &tokio_postgres::Row) -> Result<ProbeSpec, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("monitor {}: {what}", r.get::<_, Uuid>(0)));
    let kind = MonitorKind::parse(r.get(1)).ok_or_else(|| corrupt("kind"))?;
    Ok(ProbeSpec {
        monitor_id: r.get(0),
        url: r.get(2),
        method: HttpMethod::parse(r.get(3)).ok_or_else(|| corrupt("method"))?,
        headers: serde_json::from_value(r.get(4)).map_err(|_| corrupt("headers"))?,
        sealed_headers: r
            .get::<_, Option<serde_json::Value>>(15)
            .map(|v| upcheck_secrets::Sealed::from_json(&v).map_err(|_| corrupt("headers_sealed")))
            .transpose()?,
        body: r.get(5),
        interval_seconds: u32::try_from(r.get::<_, i32>(6)).map_err(|_| corrupt("interval_seconds"))?,
        timeout_ms: u32::try_from(r.get::<_, i32>(7)).map_err(|_| corrupt("timeout_ms"))?,
        expected_status: serde_json::from_value(r.get(8)).map_err(|_| corrupt("expected_status"))?,
        failure_threshold: u16::try_from(r.get::<_, i16>(9)).map_err(|_| corrupt("failure_threshold"))?,
        recovery_threshold: u16::try_from(r.get::<_, i16>(10)).map_err(|_| corrupt("recovery_threshold"))?,
        config: KindConfig::from_json(kind, &r.get::<_, serde_json::Value>(11))
            .map_err(|_| corrupt("config"))?,
        owner_id: Some(r.get(12)),
        regions: r.get(13),
        min_failed_regions: r
            .get::<_, Option<i16>>(14)
            .map(|n| u16::try_from(n).map_err(|_| corrupt("min_failed_regions")))
            .transpose()?,
        kind,
    })
}

/// Gives a heartbeat monitor a ping token if it has none (an unguessable 32-character
/// URL-safe string from 24 random bytes).
async fn set_heartbeat_token(
    tx: &tokio_postgres::Transaction<'_>,
    spec: &ProbeSpec,
) -> Result<(), StoreError> {
    if spec.kind == MonitorKind::Heartbeat {
        let token = upcheck_domain::webhook::random_token(24);
        tx.execute(
            "UPDATE monitors SET heartbeat_token = coalesce(heartbeat_token, $2) WHERE id = $1",
            &[&spec.monitor_id, &token],
        )
        .await?;
    }
    Ok(())
}

/// The heartbeat monitor pinged at `token`: its id, its heartbeat config and whether it is paused.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when its config does not
/// decode.
pub async fn by_heartbeat_token(
    pool: &Pool,
    token: &str,
) -> Result<Option<(Uuid, upcheck_domain::probe_config::HeartbeatConfig, bool)>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, config, paused FROM monitors WHERE heartbeat_token = $1 AND kind = 'heartbeat'",
        )
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&token]).await? else { return Ok(None) };
    let id: Uuid = row.get(0);
    match KindConfig::from_json(MonitorKind::Heartbeat, &row.get::<_, serde_json::Value>(1)) {
        Ok(KindConfig::Heartbeat(c)) => Ok(Some((id, c, row.get(2)))),
        _ => Err(StoreError::Corrupt(format!("monitor {id}: config"))),
    }
}

/// Of `channel_ids`, those not owned by `owner` (unknown or another user's).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn foreign_channels(
    pool: &Pool,
    owner: Uuid,
    channel_ids: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    if channel_ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT id FROM channels WHERE owner_id = $1 AND id = ANY($2)").await?;
    let mine: Vec<Uuid> =
        client.query(&stmt, &[&owner, &channel_ids]).await?.iter().map(|r| r.get(0)).collect();
    Ok(channel_ids.iter().copied().filter(|id| !mine.contains(id)).collect())
}

/// Creates a monitor from `spec` (its `monitor_id` becomes the id), its state row (`pending`, or
/// `paused`) and its channel links with their alert rules, in one transaction; unless `owner` already has
/// `max_monitors` monitors: then `Ok(None)` and nothing is stored. Concurrent creates by one
/// owner are serialised (a transaction-scoped advisory lock on the owner), so the limit holds
/// exactly.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn create(
    pool: &Pool,
    owner: Uuid,
    name: &str,
    spec: &ProbeSpec,
    paused: bool,
    links: &[AlertRule],
    max_monitors: Option<u64>,
) -> Result<Option<Monitor>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    if let Some(max) = max_monitors {
        // Two statements: a count in the lock's own statement would read the snapshot taken
        // before the lock was granted, and miss a create committed while it waited.
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))", &[&owner]).await?;
        let owned: i64 =
            tx.query_one("SELECT count(*) FROM monitors WHERE owner_id = $1", &[&owner]).await?.get(0);
        if u64::try_from(owned).unwrap_or(0) >= max {
            return Ok(None);
        }
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO monitors (id, owner_id, name, kind, url, method, headers, body, interval_seconds, \
               timeout_ms, expected_status, failure_threshold, recovery_threshold, config, regions, \
               min_failed_regions, headers_sealed, paused) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .await?;
    let row = SpecRow::new(spec)?;
    let mut params = row.params(&owner, &name);
    params.push(&paused);
    tx.execute(&insert, &params).await?;
    set_heartbeat_token(&tx, spec).await?;
    let status = if paused { "paused" } else { "pending" };
    tx.execute(
        "INSERT INTO monitor_state (monitor_id, status) VALUES ($1, $2)",
        &[&spec.monitor_id, &status],
    )
    .await?;
    if paused {
        record_pause(&tx, spec.monitor_id, true).await?;
    }
    link(&tx, spec.monitor_id, links).await?;
    let row = tx.query_one(&select("WHERE m.id = $1"), &[&spec.monitor_id]).await?;
    let monitor = monitors(&tx, &[row]).await?.pop();
    tx.commit().await?;
    Ok(monitor)
}

/// Opens a pause in `monitor_pauses` (unless one is open) or closes the open one, for exact
/// uptime ([`crate::rollups::uptime`]).
async fn record_pause(
    tx: &deadpool_postgres::Transaction<'_>,
    monitor_id: Uuid,
    paused: bool,
) -> Result<(), StoreError> {
    if paused {
        tx.execute(
            "INSERT INTO monitor_pauses (monitor_id, paused_at) SELECT $1, now() \
             WHERE NOT EXISTS (SELECT 1 FROM monitor_pauses WHERE monitor_id = $1 AND resumed_at IS NULL) \
             ON CONFLICT DO NOTHING",
            &[&monitor_id],
        )
        .await?;
    } else {
        tx.execute(
            "UPDATE monitor_pauses SET resumed_at = now() WHERE monitor_id = $1 AND resumed_at IS NULL",
            &[&monitor_id],
        )
        .await?;
    }
    Ok(())
}

/// Replaces a monitor's channel links with `links` (each with its alert rules).
async fn link(
    tx: &deadpool_postgres::Transaction<'_>,
    monitor_id: Uuid,
    links: &[AlertRule],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM monitor_channels WHERE monitor_id = $1", &[&monitor_id]).await?;
    tx.execute(
        "INSERT INTO monitor_channels (monitor_id, channel_id, events, delay_minutes, reminder_minutes, \
           escalate_after_minutes) \
         SELECT $1, r.channel_id, ARRAY(SELECT jsonb_array_elements_text(r.events)), r.delay_minutes, \
           r.reminder_minutes, r.escalate_after_minutes \
         FROM jsonb_to_recordset($2::jsonb) AS r(channel_id uuid, events jsonb, delay_minutes integer, \
           reminder_minutes integer, escalate_after_minutes integer) \
         ON CONFLICT DO NOTHING",
        &[&monitor_id, &json(&links)?],
    )
    .await?;
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A spec as column values of `monitors`, for the INSERT and the UPDATE, which share the
/// parameter order: `$1` id, `$2` owner, `$3` name, then the spec's columns up to `$17`.
struct SpecRow<'a> {
    spec: &'a ProbeSpec,
    config: serde_json::Value,
    min_failed_regions: Option<i16>,
    kind: &'static str,
    method: &'static str,
    headers: serde_json::Value,
    headers_sealed: Option<serde_json::Value>,
    expected_status: serde_json::Value,
    interval_seconds: i32,
    timeout_ms: i32,
    failure_threshold: i16,
    recovery_threshold: i16,
}

impl<'a> SpecRow<'a> {
    fn new(spec: &'a ProbeSpec) -> Result<Self, StoreError> {
        Ok(Self {
            spec,
            config: spec.config.to_json(),
            min_failed_regions: spec.min_failed_regions.map(|n| n as i16),
            kind: spec.kind.as_str(),
            method: spec.method.as_str(),
            headers: json(&spec.headers)?,
            headers_sealed: spec.sealed_headers.as_ref().map(upcheck_secrets::Sealed::to_json),
            expected_status: json(&spec.expected_status)?,
            interval_seconds: spec.interval_seconds as i32,
            timeout_ms: spec.timeout_ms as i32,
            failure_threshold: spec.failure_threshold as i16,
            recovery_threshold: spec.recovery_threshold as i16,
        })
    }

    fn params<'p>(
        &'p self,
        owner: &'p Uuid,
        name: &'p &str,
    ) -> Vec<&'p (dyn tokio_postgres::types::ToSql + Sync)> {
        vec![
            &self.spec.monitor_id,
            owner,
            name,
            &self.kind,
            &self.spec.url,
            &self.method,
            &self.headers,
            &self.spec.body,
            &self.interval_seconds,
            &self.timeout_ms,
            &self.expected_status,
            &self.failure_threshold,
            &self.recovery_threshold,
            &self.config,
            &self.spec.regions,
            &self.min_failed_regions,
            &self.headers_sealed,
        ]
    }
}

/// One monitor of `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn get(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<Monitor>, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&select("WHERE m.id = $1 AND m.owner_id = $2")).await?;
    let rows = client.query(&stmt, &[&id, &owner]).await?;
    Ok(monitors(&client, &rows).await?.pop())
}

/// Up to `limit` monitors of `owner` with ids after `after`, in id (creation) order.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn list(
    pool: &Pool,
    owner: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Monitor>, StoreError> {
    let client = pool.get().await?;
    let stmt =
        client.prepare_cached(&select("WHERE m.owner_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3")).await?;
    let rows = client.query(&stmt, &[&owner, &after.unwrap_or(Uuid::nil()), &limit]).await?;
    monitors(&client, &rows).await
}

/// Replaces a monitor's name, spec and (when given) channel links with their alert rules. `None` when `owner` has no
/// such monitor.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn update(
    pool: &Pool,
    owner: Uuid,
    name: &str,
    spec: &ProbeSpec,
    links: Option<&[AlertRule]>,
) -> Result<Option<Monitor>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE monitors SET name = $3, kind = $4, url = $5, method = $6, headers = $7, body = $8, \
               interval_seconds = $9, timeout_ms = $10, expected_status = $11, failure_threshold = $12, \
               recovery_threshold = $13, config = $14, regions = $15, min_failed_regions = $16, headers_sealed = $17, \
               updated_at = now() \
             WHERE id = $1 AND owner_id = $2",
        )
        .await?;
    let n = tx.execute(&stmt, &SpecRow::new(spec)?.params(&owner, &name)).await?;
    if n == 0 {
        return Ok(None);
    }
    set_heartbeat_token(&tx, spec).await?;
    if let Some(links) = links {
        link(&tx, spec.monitor_id, links).await?;
    }
    let row = tx.query_one(&select("WHERE m.id = $1"), &[&spec.monitor_id]).await?;
    let monitor = monitors(&tx, &[row]).await?.pop();
    tx.commit().await?;
    Ok(monitor)
}

/// Pauses or resumes a monitor. Pausing sets its status to `paused`; resuming sets it to
/// `pending` with both counters at zero (the ordering guard is kept). `None` when `owner` has
/// no such monitor.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn set_paused(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    paused: bool,
) -> Result<Option<Monitor>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "UPDATE monitors SET paused = $3, updated_at = now() WHERE id = $1 AND owner_id = $2",
            &[&id, &owner, &paused],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    record_pause(&tx, id, paused).await?;
    let status = if paused { "paused" } else { "pending" };
    tx.execute(
        "INSERT INTO monitor_state (monitor_id, status, changed_at) VALUES ($1, $2, now()) \
         ON CONFLICT (monitor_id) DO UPDATE SET status = $2, consecutive_failures = 0, \
           consecutive_successes = 0, changed_at = now()",
        &[&id, &status],
    )
    .await?;
    // Pausing or resuming starts every region's status machine afresh too (keeping when each
    // last checked, so a resumed monitor is not due before its last check plus its interval).
    tx.execute(
        "UPDATE monitor_region_state SET status = 'pending', consecutive_failures = 0, consecutive_successes = 0 \
         WHERE monitor_id = $1",
        &[&id],
    )
    .await?;
    let row = tx.query_one(&select("WHERE m.id = $1"), &[&id]).await?;
    let monitor = monitors(&tx, &[row]).await?.pop();
    tx.commit().await?;
    Ok(monitor)
}

/// Deletes a monitor with its checks, incidents and notifications. Whether `owner` had it.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn delete(pool: &Pool, owner: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("DELETE FROM monitors WHERE id = $1 AND owner_id = $2").await?;
    Ok(client.execute(&stmt, &[&id, &owner]).await? == 1)
}

/// Whether `owner` has monitor `id` (for the monitor's sub-resources).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn owns(pool: &Pool, owner: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT 1 FROM monitors WHERE id = $1 AND owner_id = $2").await?;
    Ok(client.query_opt(&stmt, &[&id, &owner]).await?.is_some())
}
