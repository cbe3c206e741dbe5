//! One monitor's `/stats` figures in two round trips on one connection: the read's transaction
//! begun, with its marks, status timeline (and, for the owner's read, its ownership and
//! maintenance windows) in one, then its rollups and raw tail in one (see [`read_marked`]).

use super::WindowRollup;
use super::cache::RollupCache;
use super::read::{GENERIC_PLANS, Mark, Marks, read_marked, window_ranges};
use super::uptime::Timeline;
use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::MonitorStatus;
use upcheck_domain::maintenance::Occurrence;
use upcheck_domain::uptime::Uptime;
use uuid::Uuid;

/// Ends the read's transaction when dropped, on every path (an error, a cancelled request):
/// the ROLLBACK is sent without waiting for its answer, as tokio-postgres's `Transaction` does
/// when dropped, so the connection goes back to the pool with it queued and no later statement
/// of the connection's next user runs inside this transaction. Sent when no transaction began
/// (BEGIN failed or never went out), it only draws a warning.
struct RollbackOnDrop<'a>(&'a tokio_postgres::Client);

impl Drop for RollbackOnDrop<'_> {
    fn drop(&mut self) {
        // The first poll writes the message to the connection; the answer is not awaited.
        let rollback = std::pin::pin!(self.0.batch_execute("ROLLBACK"));
        let _ = std::future::Future::poll(
            rollback,
            &mut std::task::Context::from_waker(std::task::Waker::noop()),
        );
    }
}

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
/// out `maintenance`, in two round trips on one connection: the read transaction's start with
/// the marks, status changes and pauses, then the rollups; both with generic plans
/// ([`GENERIC_PLANS`]). Closed rollup ranges are summed from and kept in `cache` when given
/// ([`read_marked`]): then the second round trip reads only what the cache lacks.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a query fails,
/// [`StoreError::Corrupt`] when a stored status does not decode.
pub async fn window_stats(
    pool: &Pool,
    monitor_id: Uuid,
    window: (OffsetDateTime, OffsetDateTime),
    uptime_to: OffsetDateTime,
    maintenance: &[Occurrence],
    minutes_from: OffsetDateTime,
    cache: Option<&RollupCache>,
) -> Result<WindowStats, StoreError> {
    let client = pool.get().await?;
    let given = async { Ok(Some(maintenance.to_vec())) };
    // Always `Some`: the maintenance is given.
    Ok(stats_on(&client, monitor_id, window, uptime_to, given, minutes_from, cache)
        .await?
        .unwrap_or_default())
}

/// [`window_stats`] of a monitor `owner` owns, leaving out its maintenance windows, with the
/// ownership and the windows read in the first of the two round trips
/// ([`crate::maintenance::owned_covered_between_on`]): `None` when `owner` has no monitor
/// `monitor_id`. For a pool on the primary only, where ownership is checked (a replica may
/// not know a monitor made a moment ago).
///
/// # Errors
/// As [`window_stats`]; [`StoreError::Corrupt`] also when a maintenance window does not decode.
pub async fn owned_window_stats(
    pool: &Pool,
    owner: Uuid,
    monitor_id: Uuid,
    (from, to): (OffsetDateTime, OffsetDateTime),
    uptime_to: OffsetDateTime,
    minutes_from: OffsetDateTime,
    cache: Option<&RollupCache>,
) -> Result<Option<WindowStats>, StoreError> {
    let client = pool.get().await?;
    let owned = crate::maintenance::owned_covered_between_on(&client, owner, monitor_id, from, to);
    stats_on(&client, monitor_id, (from, to), uptime_to, owned, minutes_from, cache).await
}

/// [`window_stats`] on `client`, with the maintenance from `held` (`None`: the monitor is not
/// the caller's, and nothing more is read), which is sent in the first round trip.
async fn stats_on(
    client: &deadpool_postgres::Client,
    monitor_id: Uuid,
    (from, to): (OffsetDateTime, OffsetDateTime),
    uptime_to: OffsetDateTime,
    held: impl Future<Output = Result<Option<Vec<Occurrence>>, StoreError>>,
    minutes_from: OffsetDateTime,
    cache: Option<&RollupCache>,
) -> Result<Option<WindowStats>, StoreError> {
    let _rollback = RollbackOnDrop(client);
    // kind 0: a region's mark (its revision in the last column); 1: a status change (the last
    // before the window, then those in it); 2: a pause overlapping the window.
    let context = client
        .prepare_cached(
            "SELECT 0, region, closed_until, NULL::timestamptz, revision FROM check_rollup_marks WHERE monitor_id = $1 \
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
    // The transaction (only to scope `GENERIC_PLANS`' `SET LOCAL`), the context read and
    // `held` go out together, one wait for all: `join!` polls them in order the first time,
    // which sends BEGIN first.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&monitor_id, &from, &uptime_to];
    let (begun, set, rows, held) = tokio::join!(
        client.batch_execute("BEGIN READ ONLY"),
        client.batch_execute(GENERIC_PLANS),
        client.query(&context, &params),
        held
    );
    begun?;
    set?;
    let Some(maintenance) = held? else {
        return Ok(None);
    };
    for r in rows? {
        match r.get::<_, i32>(0) {
            0 => marks.entry(monitor_id).or_default().push(Mark {
                region: r.get(1),
                closed_until: r.get(2),
                revision: r.get(4),
            }),
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
        window_ranges(from, to, &maintenance, minutes_from).into_iter().map(|r| (monitor_id, r)).collect();
    let mut totals = read_marked(client, &ranges, &marks, cache).await?;
    Ok(Some(WindowStats {
        counts: WindowRollup {
            counted: totals.remove(&(monitor_id, 0)).unwrap_or_default(),
            held: totals.remove(&(monitor_id, 1)).unwrap_or_default(),
        },
        uptime: timeline.uptime(from, uptime_to, &maintenance),
    }))
}
