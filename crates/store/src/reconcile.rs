//! Queries the monitoring worker's reconcile uses to repair Redis from Postgres.

use crate::{Pool, StoreError};
use std::collections::HashSet;
use uuid::Uuid;

/// Of `ids` (monitors found in the Redis schedule), those that must not be scheduled: deleted
/// or paused in Postgres. Asked again at removal time, so a monitor created after the reconcile
/// listed Postgres is never unscheduled by mistake.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
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
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn active_specs(
    pool: &Pool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<upcheck_domain::ProbeSpec>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {} FROM monitors m WHERE NOT m.paused AND m.id > $1 ORDER BY m.id LIMIT $2",
            crate::monitors::SPEC_COLUMNS
        ))
        .await?;
    let after = after.unwrap_or(Uuid::nil());
    client.query(&stmt, &[&after, &limit]).await?.iter().map(crate::monitors::spec_from_row).collect()
}
