//! Monitors' status timelines (status changes and pauses) for exact uptime
//! ([`upcheck_domain::uptime`]).

use crate::{Pool, StoreError};
use std::collections::HashMap;
use time::OffsetDateTime;
use upcheck_domain::MonitorStatus;
use upcheck_domain::maintenance::Occurrence;
use upcheck_domain::uptime::{Uptime, exact};
use uuid::Uuid;

/// A monitor's status changes and pauses around a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Status changes in production order: the last one before the window, then those in it.
    pub changes: Vec<(OffsetDateTime, MonitorStatus)>,
    /// Pauses overlapping the window (an open pause ends at the window's end).
    pub pauses: Vec<Occurrence>,
}

impl Timeline {
    /// Uptime over `[from, to)` (inside the span the timeline was read for), leaving out
    /// `maintenance`.
    pub fn uptime(&self, from: OffsetDateTime, to: OffsetDateTime, maintenance: &[Occurrence]) -> Uptime {
        exact(from, to, &self.changes, &self.pauses, maintenance)
    }
}

/// The timelines of `monitors` for windows within `[from, to)`: every status change from the
/// last one before `from` on (transitions only: slowness and certificate notices keep the
/// status), and the pauses overlapping the span. Two queries whatever the number of monitors.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a query fails,
/// [`StoreError::Corrupt`] when a stored status does not decode.
pub async fn timelines(
    pool: &Pool,
    monitors: &[Uuid],
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<HashMap<Uuid, Timeline>, StoreError> {
    let client = pool.get().await?;
    let changes = client
        .prepare_cached(
            "SELECT m.id, e.occurred_at, e.to_status FROM unnest($1::uuid[]) AS m(id) \
             CROSS JOIN LATERAL ( \
               (SELECT occurred_at, to_status, seq FROM status_events \
                WHERE monitor_id = m.id AND occurred_at < $2 AND from_status <> to_status \
                ORDER BY occurred_at DESC, seq DESC LIMIT 1) \
               UNION ALL \
               (SELECT occurred_at, to_status, seq FROM status_events \
                WHERE monitor_id = m.id AND occurred_at >= $2 AND occurred_at < $3 AND from_status <> to_status) \
             ) e ORDER BY m.id, e.seq",
        )
        .await?;
    let pauses = client
        .prepare_cached(
            "SELECT monitor_id, paused_at, coalesce(resumed_at, greatest($3, paused_at)) FROM monitor_pauses \
             WHERE monitor_id = ANY($1) AND paused_at < $3 AND (resumed_at IS NULL OR resumed_at > $2)",
        )
        .await?;
    let mut out: HashMap<Uuid, Timeline> = monitors.iter().map(|m| (*m, Timeline::default())).collect();
    for r in client.query(&changes, &[&monitors, &from, &to]).await? {
        let status = crate::error::stored(r.get(2), MonitorStatus::parse, "status event")?;
        out.entry(r.get(0)).or_default().changes.push((r.get(1), status));
    }
    for r in client.query(&pauses, &[&monitors, &from, &to]).await? {
        out.entry(r.get(0)).or_default().pauses.push(Occurrence { starts_at: r.get(1), ends_at: r.get(2) });
    }
    Ok(out)
}

/// Exact uptime of `monitor_id` over `[from, to)`, leaving out `maintenance`.
///
/// # Errors
/// As [`timelines`].
pub async fn uptime(
    pool: &Pool,
    monitor_id: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
    maintenance: &[Occurrence],
) -> Result<Uptime, StoreError> {
    let t = timelines(pool, &[monitor_id], from, to).await?;
    Ok(t.get(&monitor_id).map(|t| t.uptime(from, to, maintenance)).unwrap_or_default())
}
