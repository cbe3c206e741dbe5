//! Queries the monitoring worker's reconcile uses to repair Redis from Postgres.

use crate::{Pool, StoreError};
use std::collections::HashSet;
use uuid::Uuid;

/// Of `ids` (monitors found in the Redis schedule), those that must not be scheduled: deleted
/// or paused in Postgres. Asked again at removal time, so a monitor created after the reconcile
/// listed Postgres is never unscheduled by mistake.
///
/// # Errors
/// [`StoreError`] when Postgres fails.
pub async fn inactive_among(pool: &Pool, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT id FROM monitors WHERE id = ANY($1) AND NOT paused").await?;
    let active: HashSet<Uuid> = client.query(&stmt, &[&ids]).await?.iter().map(|r| r.get(0)).collect();
    Ok(ids.iter().copied().filter(|id| !active.contains(id)).collect())
}

/// One page of every non-paused monitor's probe spec, ordered by id, after `after`.
///
/// # Errors
/// [`StoreError`] when Postgres fails or a stored spec does not decode.
pub async fn active_specs(
    pool: &Pool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<upcheck_domain::ProbeSpec>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, kind, url, method, headers, body, interval_seconds, timeout_ms, expected_status, \
                    failure_threshold, recovery_threshold \
             FROM monitors WHERE NOT paused AND id > $1 ORDER BY id LIMIT $2",
        )
        .await?;
    let after = after.unwrap_or(Uuid::nil());
    client.query(&stmt, &[&after, &limit]).await?.iter().map(spec_from_row).collect()
}

fn spec_from_row(r: &tokio_postgres::Row) -> Result<upcheck_domain::ProbeSpec, StoreError> {
    use upcheck_domain::{HttpMethod, MonitorKind};
    let corrupt = |what: &str| StoreError::Corrupt(format!("monitor {}: {what}", r.get::<_, Uuid>(0)));
    let kind: &str = r.get(1);
    let method: &str = r.get(3);
    Ok(upcheck_domain::ProbeSpec {
        monitor_id: r.get(0),
        kind: MonitorKind::parse(kind).ok_or_else(|| corrupt("kind"))?,
        url: r.get(2),
        method: HttpMethod::parse(method).ok_or_else(|| corrupt("method"))?,
        headers: serde_json::from_value(r.get(4)).map_err(|_| corrupt("headers"))?,
        body: r.get(5),
        interval_seconds: u32::try_from(r.get::<_, i32>(6)).map_err(|_| corrupt("interval_seconds"))?,
        timeout_ms: u32::try_from(r.get::<_, i32>(7)).map_err(|_| corrupt("timeout_ms"))?,
        expected_status: serde_json::from_value(r.get(8)).map_err(|_| corrupt("expected_status"))?,
        failure_threshold: u16::try_from(r.get::<_, i16>(9)).map_err(|_| corrupt("failure_threshold"))?,
        recovery_threshold: u16::try_from(r.get::<_, i16>(10)).map_err(|_| corrupt("recovery_threshold"))?,
    })
}
