//! What a published page shows, read in a bounded number of queries whatever its size: the page
//! and its monitors' current status (two), daily check counts over 90 days and hourly counts
//! and mean latency over 24 hours (from rollups: two each), exact uptime (status changes,
//! pauses, maintenance windows: three) and recent incidents (one). Badges read one monitor by
//! its public id (one) and its exact uptime over four windows (three).

use crate::{Pool, StoreError};
use std::collections::HashMap;
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

/// The monitors shown on the published page at `slug` (in no particular order), for its live
/// feed; `None` when no page has that slug or it is not published. One query, no status read.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when the query fails.
pub async fn published_monitor_ids(pool: &Pool, slug: &str) -> Result<Option<Vec<Uuid>>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT array(SELECT e.monitor_id FROM status_page_monitors e WHERE e.page_id = p.id) \
             FROM status_pages p WHERE p.slug = $1 AND p.published",
        )
        .await?;
    Ok(client.query_opt(&stmt, &[&slug]).await?.map(|r| r.get(0)))
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

/// Check counts per monitor and UTC day from `since` (a UTC midnight) to `until`, from rollups
/// (days with no check are absent). Two queries whatever the number of monitors.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`].
pub async fn daily_counts(
    pool: &Pool,
    monitors: &[Uuid],
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Vec<DayCounts>, StoreError> {
    let totals = per_step(pool, monitors, since, until, 86_400).await?;
    Ok(totals
        .into_iter()
        .map(|((monitor_id, start), r)| DayCounts {
            monitor_id,
            day: start.date(),
            checks: r.checks,
            failures: r.failures,
            degraded: r.degraded,
        })
        .collect())
}

/// Rollups per monitor and `seconds`-long step from `since` (on a step) up to `until`, keyed by
/// the step's start; steps without checks are absent.
async fn per_step(
    pool: &Pool,
    monitors: &[Uuid],
    since: OffsetDateTime,
    until: OffsetDateTime,
    seconds: i64,
) -> Result<Vec<((Uuid, OffsetDateTime), upcheck_domain::rollup::Rollup)>, StoreError> {
    let step = time::Duration::seconds(seconds);
    let mut starts = Vec::new();
    let mut at = since;
    while at < until {
        starts.push(at);
        at += step;
    }
    // The last step ends at the next whole minute after `until`.
    let end = crate::rollups::floor_minute(until) + time::Duration::minutes(1);
    let ranges: Vec<(Uuid, crate::rollups::Range)> = monitors
        .iter()
        .flat_map(|m| {
            starts.iter().enumerate().map(move |(i, s)| {
                (*m, crate::rollups::Range { start: *s, end: (*s + step).min(end), tag: i as i32 })
            })
        })
        .collect();
    let client = pool.get().await?;
    let totals = crate::rollups::read::read_many(&client, &ranges, None).await?;
    Ok(totals.into_iter().map(|((m, i), r)| ((m, starts[i as usize]), r)).collect())
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

/// Check counts and mean latency per monitor and hour from `since` (on an hour) to `until`,
/// from rollups (hours without checks are absent). Two queries whatever the number of monitors.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`].
pub async fn hourly_counts(
    pool: &Pool,
    monitors: &[Uuid],
    since: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Vec<HourCounts>, StoreError> {
    let totals = per_step(pool, monitors, since, until, 3_600).await?;
    Ok(totals
        .into_iter()
        .map(|((monitor_id, hour), r)| HourCounts {
            monitor_id,
            hour,
            checks: r.checks,
            failures: r.failures,
            mean_latency_ms: r.mean_ms(),
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

/// Exact uptime ([`upcheck_domain::uptime`]) of each of `monitors` over each of `windows`
/// (`[start, until)`, any number), leaving out their maintenance windows. Three queries
/// whatever the number of monitors.
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`], or [`StoreError::Corrupt`] when a row does not decode.
pub async fn uptimes(
    pool: &Pool,
    monitors: &[Uuid],
    windows: &[OffsetDateTime],
    until: OffsetDateTime,
) -> Result<HashMap<Uuid, Vec<upcheck_domain::uptime::Uptime>>, StoreError> {
    let Some(first) = windows.iter().min().copied() else { return Ok(HashMap::new()) };
    let (timelines, held) = tokio::try_join!(
        crate::rollups::uptime::timelines(pool, monitors, first, until),
        crate::maintenance::covered_between_many(pool, monitors, first, until),
    )?;
    Ok(monitors
        .iter()
        .map(|m| {
            let t = timelines.get(m).cloned().unwrap_or_default();
            let h = held.get(m).map_or(&[][..], Vec::as_slice);
            (*m, windows.iter().map(|w| t.uptime(*w, until, h)).collect())
        })
        .collect())
}
