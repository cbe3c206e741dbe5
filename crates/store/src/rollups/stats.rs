//! One monitor's `/stats` figures in two queries: its marks and status timeline in one, then
//! its rollups and raw tail in one (see [`read_marked`]).

use super::WindowRollup;
use super::read::{GENERIC_PLANS, Marks, read_marked, window_ranges};
use super::uptime::Timeline;
use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::MonitorStatus;
use upcheck_domain::maintenance::Occurrence;
use upcheck_domain::uptime::Uptime;
use uuid::Uuid;

/// A monitor's checks and uptime over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Its checks, as [`super::window`] counts them.
    pub counts: WindowRollup,
    /// Its exact uptime, as [`super::uptime::uptime`] gives it.
    pub uptime: Uptime,
}

/// [`super::window`] over `[from, to)` and [`super::uptime::uptime`] over `[from, uptime_to)`
/// (`uptime_to` at most `to`: uptime is not counted in the future) of `monitor_id`, leaving
/// out `maintenance`, in two queries on one connection, both with generic plans
/// ([`GENERIC_PLANS`]).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a query fails,
/// [`StoreError::Corrupt`] when a stored status does not decode.
pub async fn window_stats(
    pool: &Pool,
    monitor_id: Uuid,
    (from, to): (OffsetDateTime, OffsetDateTime),
    uptime_to: OffsetDateTime,
    maintenance: &[Occurrence],
    minutes_from: OffsetDateTime,
) -> Result<WindowStats, StoreError> {
    let mut client = pool.get().await?;
    // A transaction only to scope `SET LOCAL` (see [`GENERIC_PLANS`]); it reads, so it is
    // dropped rather than committed: the ROLLBACK goes out without waiting for its answer.
    let client = client.transaction().await?;
    // kind 0: a region's mark; 1: a status change (the last before the window, then those in
    // it); 2: a pause overlapping the window.
    let context = client
        .prepare_cached(
            "SELECT 0, region, closed_until, NULL::timestamptz, 0::int8 FROM check_rollup_marks WHERE monitor_id = $1 \
             UNION ALL \
             (SELECT 1, to_status, occurred_at, NULL, seq FROM status_events \
              WHERE monitor_id = $1 AND occurred_at < $2 AND from_status <> to_status \
              ORDER BY occurred_at DESC, seq DESC LIMIT 1) \
             UNION ALL \
             SELECT 1, to_status, occurred_at, NULL, seq FROM status_events \
             WHERE monitor_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND from_status <> to_status \
             UNION ALL \
             SELECT 2, NULL, paused_at, coalesce(resumed_at, greatest($3, paused_at)), 0 FROM monitor_pauses \
             WHERE monitor_id = $1 AND paused_at < $3 AND (resumed_at IS NULL OR resumed_at > $2)",
        )
        .await?;
    let mut marks: Marks = Marks::new();
    let mut changes: Vec<(i64, OffsetDateTime, MonitorStatus)> = Vec::new();
    let mut timeline = Timeline::default();
    // Sent together (one wait for both; the order matters to neither: the read comes after).
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&monitor_id, &from, &uptime_to];
    let (set, rows) = tokio::join!(client.batch_execute(GENERIC_PLANS), client.query(&context, &params));
    set?;
    for r in rows? {
        match r.get::<_, i32>(0) {
            0 => marks.entry(monitor_id).or_default().push((r.get(1), r.get(2))),
            1 => {
                let status = crate::error::stored(r.get(1), MonitorStatus::parse, "status event")?;
                changes.push((r.get(4), r.get(2), status));
            }
            _ => timeline.pauses.push(Occurrence { starts_at: r.get(2), ends_at: r.get(3) }),
        }
    }
    // In production order.
    changes.sort_by_key(|c| c.0);
    timeline.changes = changes.into_iter().map(|(_, at, status)| (at, status)).collect();
    let ranges: Vec<(Uuid, super::Range)> =
        window_ranges(from, to, maintenance, minutes_from).into_iter().map(|r| (monitor_id, r)).collect();
    let mut totals = read_marked(&client, &ranges, &marks).await?;
    Ok(WindowStats {
        counts: WindowRollup {
            counted: totals.remove(&(monitor_id, 0)).unwrap_or_default(),
            held: totals.remove(&(monitor_id, 1)).unwrap_or_default(),
        },
        uptime: timeline.uptime(from, uptime_to, maintenance),
    })
}
