//! A monitor's checks, stats, incidents and delivery log.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::pagination::{PageQuery, next_cursor, time_cursor, time_position, uuid_cursor};
use crate::routes::incidents::IncidentPage;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(checks).service(stats).service(incidents).service(notifications);
}

async fn owned(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<(), ApiError> {
    if upcheck_store::monitors::owns(&state.pool, caller.id, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound("monitor"))
    }
}

/// `?since&until&limit&cursor` for checks.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CheckQuery {
    /// RFC 3339; checks at or after.
    since: Option<String>,
    /// RFC 3339; checks before.
    until: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

fn time_param(name: &str, value: Option<&String>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| ApiError::bad(name, "must be an RFC 3339 time"))
        })
        .transpose()
}

/// One check.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CheckView {
    checked_at: String,
    region: String,
    /// `up` or `down`.
    status: String,
    latency_ms: Option<i32>,
    http_status: Option<i16>,
    error: Option<String>,
}

/// A page of checks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CheckPage {
    items: Vec<CheckView>,
    next_cursor: Option<String>,
}

/// A monitor's checks, newest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/checks", tag = "monitors", params(("id" = Uuid, Path), CheckQuery),
    security(("bearer" = [])), responses((status = 200, body = CheckPage), (status = 404, description = "no such monitor")))]
#[get("/monitors/{id}/checks")]
pub(crate) async fn checks(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<CheckQuery>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, *id).await?;
    let page = PageQuery { limit: q.limit.clone(), cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let before = time_cursor(page.cursor()?)?;
    let since = time_param("since", q.since.as_ref())?;
    let until = time_param("until", q.until.as_ref())?;
    let mut items =
        upcheck_store::reads::checks(&state.read_pool, *id, since, until, before, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |c| time_position(c.checked_at, &c.job_id));
    let items = items
        .into_iter()
        .map(|c| CheckView {
            checked_at: rfc3339(c.checked_at),
            region: c.region,
            status: c.status.as_str().into(),
            latency_ms: c.latency_ms,
            http_status: c.http_status,
            error: c.error,
        })
        .collect();
    Ok(HttpResponse::Ok().json(CheckPage { items, next_cursor }))
}

/// `?window=24h|7d|30d`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// `24h` (default), `7d` or `30d`.
    window: Option<String>,
}

/// Latency percentiles, ms.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Percentiles {
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

/// Uptime and latency over a window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatsView {
    window: String,
    /// Successful checks (up or degraded) ÷ checks × 100; null without checks. Checks inside
    /// maintenance windows are left out, so window time counts neither for nor against uptime.
    uptime_percent: Option<f64>,
    /// Checks outside maintenance windows.
    checks: i64,
    /// Failed checks outside maintenance windows.
    failures: i64,
    /// Checks that succeeded slower than the monitor's `degraded_latency_ms` (counted as up).
    degraded: i64,
    /// Checks inside maintenance windows (left out of every other figure).
    maintenance_checks: i64,
    latency_ms: Percentiles,
}

/// Uptime and latency percentiles over a window.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/stats", tag = "monitors", params(("id" = Uuid, Path), StatsQuery),
    security(("bearer" = [])), responses((status = 200, body = StatsView), (status = 404, description = "no such monitor")))]
#[get("/monitors/{id}/stats")]
pub(crate) async fn stats(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, *id).await?;
    let window = q.window.clone().unwrap_or_else(|| "24h".into());
    let span = match window.as_str() {
        "24h" => time::Duration::hours(24),
        "7d" => time::Duration::days(7),
        "30d" => time::Duration::days(30),
        _ => return Err(ApiError::bad("window", "must be 24h, 7d or 30d")),
    };
    let now = OffsetDateTime::now_utc();
    let held = upcheck_store::maintenance::covered_between(&state.read_pool, *id, now - span, now).await?;
    let s = upcheck_store::reads::stats(&state.read_pool, *id, now - span, &held).await?;
    let uptime_percent = (s.checks > 0).then(|| (s.checks - s.failures) as f64 * 100.0 / s.checks as f64);
    Ok(HttpResponse::Ok().json(StatsView {
        window,
        uptime_percent,
        checks: s.checks,
        failures: s.failures,
        degraded: s.degraded,
        maintenance_checks: s.maintenance_checks,
        latency_ms: Percentiles { p50: s.latency_ms.0, p95: s.latency_ms.1, p99: s.latency_ms.2 },
    }))
}

/// A monitor's incidents, newest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/incidents", tag = "incidents", params(("id" = Uuid, Path), PageQuery),
    security(("bearer" = [])), responses((status = 200, body = IncidentPage), (status = 404, description = "no such monitor")))]
#[get("/monitors/{id}/incidents")]
pub(crate) async fn incidents(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, *id).await?;
    let limit = page.limit()?;
    let before = uuid_cursor(page.cursor()?)?;
    let items =
        upcheck_store::reads::incidents(&state.read_pool, caller.id, Some(*id), None, before, limit + 1)
            .await?;
    Ok(HttpResponse::Ok().json(IncidentPage::new(items, limit)))
}

/// One delivery-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotificationView {
    id: Uuid,
    channel_id: Option<Uuid>,
    /// `monitor.down` or `monitor.up`.
    event: String,
    /// `pending`, `delivered`, `failed` or `dead`.
    state: String,
    attempts: i32,
    last_error: Option<String>,
    delivered_at: Option<String>,
    created_at: String,
}

/// A page of the delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotificationPage {
    items: Vec<NotificationView>,
    next_cursor: Option<String>,
}

/// A monitor's delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/monitors/{id}/notifications", tag = "monitors", params(("id" = Uuid, Path), PageQuery),
    security(("bearer" = [])), responses((status = 200, body = NotificationPage), (status = 404, description = "no such monitor")))]
#[get("/monitors/{id}/notifications")]
pub(crate) async fn notifications(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, *id).await?;
    let limit = page.limit()?;
    let before = time_cursor(page.cursor()?)?
        .map(|(at, id)| {
            Ok::<_, ApiError>((
                at,
                id.parse::<Uuid>().map_err(|_| ApiError::bad("cursor", "not a cursor from next_cursor"))?,
            ))
        })
        .transpose()?;
    let mut items = upcheck_store::reads::notifications(&state.read_pool, *id, before, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |n| time_position(n.created_at, &n.id.to_string()));
    let items = items
        .into_iter()
        .map(|n| NotificationView {
            id: n.id,
            channel_id: n.channel_id,
            event: n.event,
            state: n.state.as_str().into(),
            attempts: n.attempts,
            last_error: n.last_error,
            delivered_at: n.delivered_at.map(rfc3339),
            created_at: rfc3339(n.created_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(NotificationPage { items, next_cursor }))
}
