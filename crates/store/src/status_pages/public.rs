//! What a published page shows, read in a bounded number of queries whatever its size: the page
//! and its monitors' current status (two), daily check counts over 90 days (one), hourly counts
//! and mean latency over 24 hours (one), and recent incidents (one). Badges read one monitor by
//! its public id (one) and its uptime over four windows (one).

use crate::{Pool, StoreError};
use time::{Date, OffsetDateTime};
use upcheck_domain::{CheckOutcome, MonitorStatus};
use uuid::Uuid;

/// A published page found by its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPage {
    /// The page, with its sections.
    pub page: super::StatusPage,
    /// The current status of each monitor on it.
    pub monitors: Vec<MonitorNow>,
}

/// A monitor's current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorNow {
    /// The monitor.
    pub monitor_id: Uuid,
    /// `pending`, `up`, `down` or `paused`.
    pub status: MonitorStatus,
    /// The latest check's outcome (`degraded`: up, but slow).
    pub last_outcome: Option<CheckOutcome>,
    /// Whether any region has confirmed it slow (`monitor.degraded`).
    pub degraded: bool,
    /// When it was last checked.
    pub last_checked_at: Option<OffsetDateTime>,
}

/// The published page at `slug` and its monitors' current status; `None` when no page has that
/// slug or it is not published.
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`], or [`StoreError::Corrupt`] when a row does not decode.
pub async fn published(pool: &Pool, slug: &str) -> Result<Option<PublishedPage>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {} FROM status_pages p WHERE p.slug = $1 AND p.published",
            super::COLUMNS
        ))
        .await?;
    let Some(row) = client.query_opt(&stmt, &[&slug]).await? else { return Ok(None) };
    let page = super::page(&row)?;
    let stmt = client
        .prepare_cached(
            "SELECT e.monitor_id, coalesce(s.status, 'pending'), \
               (SELECT r.last_outcome FROM monitor_region_state r WHERE r.monitor_id = e.monitor_id \
                  ORDER BY r.last_checked_at DESC NULLS LAST LIMIT 1), \
               EXISTS (SELECT 1 FROM monitor_region_state r WHERE r.monitor_id = e.monitor_id AND r.degraded), \
               (SELECT max(r.last_checked_at) FROM monitor_region_state r WHERE r.monitor_id = e.monitor_id) \
             FROM status_page_monitors e LEFT JOIN monitor_state s ON s.monitor_id = e.monitor_id \
             WHERE e.page_id = $1",
        )
        .await?;
    let monitors = client
        .query(&stmt, &[&page.id])
        .await?
        .iter()
        .map(|r| {
            Ok(MonitorNow {
                monitor_id: r.get(0),
                status: crate::error::stored(r.get(1), MonitorStatus::parse, "status")?,
                last_outcome: r
                    .get::<_, Option<&str>>(2)
                    .map(|o| crate::error::stored(o, CheckOutcome::parse, "last_outcome"))
                    .transpose()?,
                degraded: r.get(3),
                last_checked_at: r.get(4),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(PublishedPage { page, monitors }))
}

/// Check counts of one monitor over one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCounts {
    /// The monitor.
    pub monitor_id: Uuid,
    /// The UTC day.
    pub day: Date,
    /// Checks that day.
    pub checks: i64,
    /// Failed checks that day.
    pub failures: i64,
    /// Degraded (up, but slow) checks that day; not failures.
    pub degraded: i64,
}

/// Check counts per monitor and UTC day from `since` on (days with no check are absent).
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`].
pub async fn daily_counts(
    pool: &Pool,
    monitors: &[Uuid],
    since: OffsetDateTime,
) -> Result<Vec<DayCounts>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT monitor_id, (checked_at AT TIME ZONE 'UTC')::date AS day, count(*), \
               count(*) FILTER (WHERE status = 'down'), count(*) FILTER (WHERE status = 'degraded') \
             FROM check_results WHERE monitor_id = ANY($1) AND checked_at >= $2 GROUP BY 1, 2",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&monitors, &since])
        .await?
        .iter()
        .map(|r| DayCounts {
            monitor_id: r.get(0),
            day: r.get(1),
            checks: r.get(2),
            failures: r.get(3),
            degraded: r.get(4),
        })
        .collect())
}

/// Check counts and mean latency of one monitor over one hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourCounts {
    /// The monitor.
    pub monitor_id: Uuid,
    /// The hour's start.
    pub hour: OffsetDateTime,
    /// Checks that hour.
    pub checks: i64,
    /// Failed checks that hour.
    pub failures: i64,
    /// Mean latency of the checks that got a response, ms.
    pub mean_latency_ms: Option<f64>,
}

/// Check counts and mean latency per monitor and hour from `since` on.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`].
pub async fn hourly_counts(
    pool: &Pool,
    monitors: &[Uuid],
    since: OffsetDateTime,
) -> Result<Vec<HourCounts>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT monitor_id, date_trunc('hour', checked_at), count(*), count(*) FILTER (WHERE status = 'down'), \
               avg(latency_ms)::float8 \
             FROM check_results WHERE monitor_id = ANY($1) AND checked_at >= $2 GROUP BY 1, 2 ORDER BY 2",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&monitors, &since])
        .await?
        .iter()
        .map(|r| HourCounts {
            monitor_id: r.get(0),
            hour: r.get(1),
            checks: r.get(2),
            failures: r.get(3),
            mean_latency_ms: r.get(4),
        })
        .collect())
}

/// The incidents of `monitors` still open or opened since `since`, newest first, at most `limit`.
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`], or [`StoreError::Corrupt`] when a row does not decode.
pub async fn incidents(
    pool: &Pool,
    monitors: &[Uuid],
    since: OffsetDateTime,
    limit: i64,
) -> Result<Vec<crate::reads::Incident>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT i.id, i.monitor_id, i.state, i.opened_at, i.acknowledged_at, i.resolved_at, i.cause, \
               i.acknowledged_by FROM incidents i \
             WHERE i.monitor_id = ANY($1) AND (i.state = 'open' OR i.opened_at >= $2) \
             ORDER BY i.opened_at DESC LIMIT $3",
        )
        .await?;
    client.query(&stmt, &[&monitors, &since, &limit]).await?.iter().map(crate::reads::incident).collect()
}

/// A monitor shown on at least one published page, found by its public id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeMonitor {
    /// The monitor.
    pub monitor_id: Uuid,
    /// `pending`, `up`, `down` or `paused`.
    pub status: MonitorStatus,
    /// Whether any region has confirmed it slow.
    pub degraded: bool,
}

/// The monitor with `public_id` when it is on a published page; `None` otherwise.
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`], or [`StoreError::Corrupt`] when a row does not decode.
pub async fn badge_monitor(pool: &Pool, public_id: &str) -> Result<Option<BadgeMonitor>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT m.id, coalesce(s.status, 'pending'), \
               EXISTS (SELECT 1 FROM monitor_region_state r WHERE r.monitor_id = m.id AND r.degraded) \
             FROM monitors m LEFT JOIN monitor_state s ON s.monitor_id = m.id \
             WHERE m.public_id = $1 AND EXISTS (SELECT 1 FROM status_page_monitors e \
               JOIN status_pages p ON p.id = e.page_id WHERE e.monitor_id = m.id AND p.published)",
        )
        .await?;
    client
        .query_opt(&stmt, &[&public_id])
        .await?
        .map(|r| {
            Ok(BadgeMonitor {
                monitor_id: r.get(0),
                status: crate::error::stored(r.get(1), MonitorStatus::parse, "status")?,
                degraded: r.get(2),
            })
        })
        .transpose()
}

/// `(checks, failures)` of one monitor over each of four windows ending now (each window's
/// length in seconds), in one pass over the longest.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`].
pub async fn window_counts(
    pool: &Pool,
    monitor_id: Uuid,
    windows_seconds: [i64; 4],
) -> Result<[(i64, i64); 4], StoreError> {
    let secs = windows_seconds.map(|s| s as f64);
    let longest = secs.iter().copied().fold(0.0, f64::max);
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH c AS (SELECT checked_at >= now() - make_interval(secs => $2) AS w1, \
                          checked_at >= now() - make_interval(secs => $3) AS w2, \
                          checked_at >= now() - make_interval(secs => $4) AS w3, \
                          checked_at >= now() - make_interval(secs => $5) AS w4, status = 'down' AS down \
                        FROM check_results WHERE monitor_id = $1 AND checked_at >= now() - make_interval(secs => $6)) \
             SELECT count(*) FILTER (WHERE w1), count(*) FILTER (WHERE w1 AND down), \
                    count(*) FILTER (WHERE w2), count(*) FILTER (WHERE w2 AND down), \
                    count(*) FILTER (WHERE w3), count(*) FILTER (WHERE w3 AND down), \
                    count(*) FILTER (WHERE w4), count(*) FILTER (WHERE w4 AND down) FROM c",
        )
        .await?;
    let r = client.query_one(&stmt, &[&monitor_id, &secs[0], &secs[1], &secs[2], &secs[3], &longest]).await?;
    Ok([(r.get(0), r.get(1)), (r.get(2), r.get(3)), (r.get(4), r.get(5)), (r.get(6), r.get(7))])
}
