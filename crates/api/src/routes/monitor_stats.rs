//! A monitor's stats over a window (`GET /monitors/{id}/stats`) and its latency series for
//! charts (`GET /monitors/{id}/latency`), read from rollups and its status timeline.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::monitor_reads::{owned, time_param};
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest `from`/`to` span, days.
pub(crate) const MAX_SPAN_DAYS: i64 = 400;
/// Most points one latency series returns.
pub(crate) const MAX_POINTS: i64 = 1_500;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(stats).service(latency);
}

/// `?window=24h|7d|30d|90d|365d` or `?from&to`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// `24h` (the default without `from`), `7d`, `30d`, `90d` or `365d`, ending now.
    window: Option<String>,
    /// RFC 3339: the window's start (instead of `window`); at most 400 days before `to`.
    from: Option<String>,
    /// RFC 3339: the window's end (default now); after `from`.
    to: Option<String>,
}

/// Latency percentiles, ms.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Percentiles {
    /// Within 1 % of the exact nearest-rank percentile (exact below 100 ms).
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    /// Mean, exact.
    avg: Option<f64>,
    min: Option<i32>,
    max: Option<i32>,
}

impl Percentiles {
    fn of(r: &upcheck_domain::rollup::Rollup) -> Self {
        Self {
            p50: r.percentile(0.5),
            p95: r.percentile(0.95),
            p99: r.percentile(0.99),
            avg: r.mean_ms(),
            min: r.latency_min,
            max: r.latency_max,
        }
    }
}

/// Uptime, checks and latency over a window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsView {
    /// The `window` asked for, or `custom` for `from`/`to`.
    window: String,
    /// The window's start and end (RFC 3339).
    from: String,
    to: String,
    /// Exact uptime: time not down ÷ time monitored × 100, where time monitored is the time the
    /// monitor's status was up or down (paused time, time inside maintenance windows and
    /// `pending` time before a first verdict are left out) and time down the part of it its
    /// status was `down` (from its status changes, not from counting checks); null without
    /// monitored time.
    uptime_percent: Option<f64>,
    /// Time monitored in the window, seconds (see `uptime_percent`).
    monitored_seconds: i64,
    /// Time down in the window, seconds.
    downtime_seconds: i64,
    /// Checks in the window outside maintenance windows. Counts are kept per minute: the window
    /// covers the whole minutes it touches, and a check is left out when a maintenance window
    /// covers any part of its minute.
    checks: i64,
    /// Failed checks outside maintenance windows.
    failures: i64,
    /// Checks that succeeded slower than the monitor's `degraded_latency_ms` (counted as up).
    degraded: i64,
    /// Checks inside maintenance windows (left out of every other figure).
    maintenance_checks: i64,
    latency_ms: Percentiles,
}

/// The window a stats query asks for: `(name, from, to)`.
fn stats_window(
    q: &StatsQuery,
    now: OffsetDateTime,
) -> Result<(String, OffsetDateTime, OffsetDateTime), ApiError> {
    if q.from.is_none() && q.to.is_none() {
        let window = q.window.clone().unwrap_or_else(|| "24h".into());
        let span = match window.as_str() {
            "24h" => Duration::hours(24),
            "7d" => Duration::days(7),
            "30d" => Duration::days(30),
            "90d" => Duration::days(90),
            "365d" => Duration::days(365),
            _ => return Err(ApiError::bad("window", "must be 24h, 7d, 30d, 90d or 365d")),
        };
        return Ok((window, now - span, now));
    }
    if q.window.is_some() {
        return Err(ApiError::invalid("window", "give either window or from/to, not both"));
    }
    let (from, to) = range(q.from.as_ref(), q.to.as_ref(), now)?;
    Ok(("custom".into(), from, to))
}

/// Validated `from`/`to`: `from` required, `to` defaulting to now, `from < to`, at most 400
/// days apart.
fn range(
    from: Option<&String>,
    to: Option<&String>,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime), ApiError> {
    let from = time_param("from", from)?.ok_or_else(|| ApiError::invalid("from", "is required with to"))?;
    let to = time_param("to", to)?.unwrap_or(now);
    if from >= to {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_SPAN_DAYS) {
        return Err(ApiError::invalid("from", format!("must be at most {MAX_SPAN_DAYS} days before to")));
    }
    Ok((from, to))
}

/// A monitor's exact uptime, check counts and latency percentiles over a window.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/stats", tag = "monitors", params(("id" = Uuid, Path), StatsQuery),
    security(("bearer" = [])), responses((status = 200, body = StatsView),
    (status = 400, description = "an unknown `window` or a malformed time"),
    (status = 404, description = "no such monitor"),
    (status = 422, description = "`from` not before `to`, more than 400 days apart, or both `window` and `from`/`to`")))]
#[get("/monitors/{id}/stats")]
pub(crate) async fn stats(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = OffsetDateTime::now_utc();
    let (window, from, to) = stats_window(&q, now)?;
    let minutes_from = now - Duration::days(i64::from(state.settings.rollups.minute_days));
    let window_to = to.min(now);
    // Ownership is checked on the primary, as every ownership check. Without a replica the
    // read pool is the primary: ownership, maintenance and the figures share one connection
    // and two round trips. With one, ownership and maintenance are read on the primary first.
    let stats = if state.settings.database_read.is_none() {
        upcheck_store::rollups::owned_window_stats(
            &state.pool,
            caller.id,
            *id,
            (from, to),
            window_to,
            minutes_from,
            state.rollup_cache.as_ref(),
        )
        .await?
        .ok_or(ApiError::NotFound("monitor"))?
    } else {
        let held = upcheck_store::maintenance::owned_covered_between(&state.pool, caller.id, *id, from, to)
            .await?
            .ok_or(ApiError::NotFound("monitor"))?;
        upcheck_store::rollups::window_stats(
            &state.read_pool,
            *id,
            (from, to),
            window_to,
            &held,
            minutes_from,
            state.rollup_cache.as_ref(),
        )
        .await?
    };
    let upcheck_store::rollups::WindowStats { counts, uptime: up } = stats;
    let c = &counts.counted;
    Ok(HttpResponse::Ok().json(StatsView {
        window,
        from: rfc3339(from),
        to: rfc3339(to),
        uptime_percent: up.percent(),
        monitored_seconds: up.monitored_ms / 1_000,
        downtime_seconds: up.down_ms / 1_000,
        checks: c.checks,
        failures: c.failures,
        degraded: c.degraded,
        maintenance_checks: counts.held.checks,
        latency_ms: Percentiles::of(c),
    }))
}

/// `?from&to&bucket=1m|1h|1d`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LatencyQuery {
    /// RFC 3339: the series' start (rounded down to a bucket, UTC).
    from: Option<String>,
    /// RFC 3339: its end (default now); at most 400 days after `from`.
    to: Option<String>,
    /// `1m`, `1h` (default) or `1d`; at most 1,500 buckets per series. Minute buckets reach back
    /// `RETENTION_ROLLUP_MINUTE_DAYS` (older ones are empty); hour and day buckets all the way.
    bucket: Option<String>,
}

/// One bucket of the latency series.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LatencyPoint {
    /// The bucket's start (RFC 3339).
    at: String,
    /// Checks in the bucket.
    checks: i64,
    /// Failed checks in the bucket.
    failures: i64,
    /// Percentiles within 1 % of the exact nearest-rank ones; null without latencies.
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    /// Mean latency, ms.
    avg: Option<f64>,
}

/// A latency series, oldest bucket first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LatencySeries {
    /// `1m`, `1h` or `1d`.
    bucket: String,
    points: Vec<LatencyPoint>,
}

/// A monitor's latency per bucket, for charts (every bucket of the range, empty ones
/// included; maintenance windows are not left out).
#[utoipa::path(get, path = "/api/v1/monitors/{id}/latency", tag = "monitors", params(("id" = Uuid, Path), LatencyQuery),
    security(("bearer" = [])), responses((status = 200, body = LatencySeries),
    (status = 400, description = "an unknown `bucket` or a malformed time"),
    (status = 404, description = "no such monitor"),
    (status = 422, description = "no `from`, `from` not before `to`, more than 400 days apart, or more than 1,500 buckets")))]
#[get("/monitors/{id}/latency")]
pub(crate) async fn latency(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<LatencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let bucket = q.bucket.clone().unwrap_or_else(|| "1h".into());
    let step = match bucket.as_str() {
        "1m" => Duration::minutes(1),
        "1h" => Duration::hours(1),
        "1d" => Duration::days(1),
        _ => return Err(ApiError::bad("bucket", "must be 1m, 1h or 1d")),
    };
    let from = q.from.as_ref().ok_or_else(|| ApiError::invalid("from", "is required"))?;
    let (from, to) = range(Some(from), q.to.as_ref(), OffsetDateTime::now_utc())?;
    let points = (to - from).whole_seconds().div_euclid(step.whole_seconds()) + 1;
    if points > MAX_POINTS {
        return Err(ApiError::invalid(
            "bucket",
            format!("{points} buckets: at most {MAX_POINTS}; use a larger bucket"),
        ));
    }
    owned(&state, &caller, *id).await?;
    let series =
        upcheck_store::rollups::series(&state.read_pool, *id, from, to, step, state.rollup_cache.as_ref())
            .await?;
    let points = series
        .into_iter()
        .map(|(at, r)| LatencyPoint {
            at: rfc3339(at),
            checks: r.checks,
            failures: r.failures,
            p50: r.percentile(0.5),
            p95: r.percentile(0.95),
            p99: r.percentile(0.99),
            avg: r.mean_ms(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(LatencySeries { bucket, points }))
}
