//! Monitors: CRUD and pause/resume. Every change commits to Postgres first, then updates the
//! Redis schedule and spec; if Redis fails at that moment the change still stands, and the
//! monitoring workers' reconcile (every `RECONCILE_INTERVAL_SECONDS`) brings Redis in step.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::{ValidJson, present};
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::{check_target, rfc3339, validate_name};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use upcheck_domain::monitor::{DEFAULT_INTERVAL_SECONDS, DEFAULT_TIMEOUT_MS};
use upcheck_domain::{ExpectedStatus, HttpMethod, MonitorKind, ProbeSpec};
use upcheck_store::monitors::Monitor;
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(pause)
        .service(resume);
}

/// A new monitor. Only `name` and `url` are required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateMonitor {
    /// 1 to 200 characters.
    name: String,
    /// `http://` or `https://`.
    url: String,
    /// `http` (default).
    #[schema(value_type = Option<String>, example = "http")]
    kind: Option<MonitorKind>,
    /// Seconds between checks, 1 to 86,400 (default 60).
    interval_seconds: Option<u32>,
    /// Probe timeout, 100 to 60,000 ms and below the interval (default 10,000, or the interval's 80 %).
    timeout_ms: Option<u32>,
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    #[schema(value_type = Option<String>, example = "GET")]
    method: Option<HttpMethod>,
    /// Extra request headers.
    headers: Option<BTreeMap<String, String>>,
    /// Request body.
    body: Option<String>,
    /// Accepted statuses: classes like `"2xx"` and codes like `301` (default `["2xx"]`).
    #[schema(value_type = Option<Vec<Object>>, example = json!(["2xx", 301]))]
    expected_status: Option<Vec<ExpectedStatus>>,
    /// Failed checks in a row before `down`, 1 to 20 (default 2).
    failure_threshold: Option<u16>,
    /// Successful checks in a row before `up` again, 1 to 20 (default 1).
    recovery_threshold: Option<u16>,
    /// Channels told about status changes (the caller's own).
    channel_ids: Option<Vec<Uuid>>,
    /// Create paused (default false).
    paused: Option<bool>,
}

/// Changes to a monitor: any subset of the creation fields but `paused` (use pause/resume).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMonitor {
    name: Option<String>,
    url: Option<String>,
    #[schema(value_type = Option<String>)]
    kind: Option<MonitorKind>,
    interval_seconds: Option<u32>,
    timeout_ms: Option<u32>,
    #[schema(value_type = Option<String>)]
    method: Option<HttpMethod>,
    headers: Option<BTreeMap<String, String>>,
    /// `null` removes the body.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    body: Option<Option<String>>,
    #[schema(value_type = Option<Vec<Object>>)]
    expected_status: Option<Vec<ExpectedStatus>>,
    failure_threshold: Option<u16>,
    recovery_threshold: Option<u16>,
    channel_ids: Option<Vec<Uuid>>,
}

/// A monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MonitorView {
    id: Uuid,
    name: String,
    url: String,
    kind: String,
    method: String,
    headers: BTreeMap<String, String>,
    body: Option<String>,
    interval_seconds: u32,
    timeout_ms: u32,
    #[schema(value_type = Vec<Object>)]
    expected_status: Vec<ExpectedStatus>,
    failure_threshold: u16,
    recovery_threshold: u16,
    channel_ids: Vec<Uuid>,
    paused: bool,
    /// `pending`, `up`, `down` or `paused`.
    status: String,
    /// RFC 3339, or null before the first check.
    last_checked_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Monitor> for MonitorView {
    fn from(m: Monitor) -> Self {
        let s = m.spec;
        Self {
            id: s.monitor_id,
            name: m.name,
            url: s.url,
            kind: s.kind.as_str().into(),
            method: s.method.as_str().into(),
            headers: s.headers,
            body: s.body,
            interval_seconds: s.interval_seconds,
            timeout_ms: s.timeout_ms,
            expected_status: s.expected_status,
            failure_threshold: s.failure_threshold,
            recovery_threshold: s.recovery_threshold,
            channel_ids: m.channel_ids,
            paused: m.paused,
            status: if m.paused { "paused".into() } else { m.status.as_str().into() },
            last_checked_at: m.last_checked_at.map(rfc3339),
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// A page of monitors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MonitorPage {
    items: Vec<MonitorView>,
    next_cursor: Option<String>,
}

async fn check_channels(state: &AppState, owner: Uuid, ids: &[Uuid]) -> Result<(), ApiError> {
    let foreign = upcheck_store::monitors::foreign_channels(&state.pool, owner, ids).await?;
    match foreign.first() {
        Some(id) => Err(ApiError::invalid("channel_ids", format!("no channel {id}"))),
        None => Ok(()),
    }
}

use upcheck_domain::clock::now_ms;

/// Schedules (due now) or unschedules a monitor in Redis; failures are logged, not returned.
async fn sync_schedule(state: &AppState, m: &Monitor) {
    let result = match state.schedule().await {
        Ok(schedule) if m.paused => schedule.remove(m.spec.monitor_id).await.map_err(|e| e.to_string()),
        Ok(schedule) => schedule.upsert(&m.spec, now_ms()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = result {
        tracing::warn!(monitor_id = %m.spec.monitor_id, error = %e, "schedule not updated; the reconcile will repair it");
    }
}

/// Creates a monitor and schedules its first check now.
#[utoipa::path(post, path = "/api/v1/monitors", tag = "monitors", request_body = CreateMonitor, security(("bearer" = [])),
    responses((status = 201, body = MonitorView), (status = 422, description = "a field is invalid")))]
#[post("/monitors")]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: ValidJson<CreateMonitor>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let name = validate_name(&b.name)?;
    let interval_seconds = b.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS);
    let default_timeout = DEFAULT_TIMEOUT_MS.min(interval_seconds.saturating_mul(800)).max(100);
    let spec = ProbeSpec {
        monitor_id: Uuid::now_v7(),
        kind: b.kind.unwrap_or_default(),
        url: b.url.trim().to_string(),
        method: b.method.unwrap_or_default(),
        headers: b.headers.unwrap_or_default(),
        body: b.body,
        interval_seconds,
        timeout_ms: b.timeout_ms.unwrap_or(default_timeout),
        expected_status: b.expected_status.unwrap_or_else(ExpectedStatus::default_rules),
        failure_threshold: b.failure_threshold.unwrap_or(2),
        recovery_threshold: b.recovery_threshold.unwrap_or(1),
    };
    spec.validate()?;
    check_target(&state, "url", &spec.url)?;
    let channel_ids = b.channel_ids.unwrap_or_default();
    check_channels(&state, caller.id, &channel_ids).await?;
    let m = upcheck_store::monitors::create(
        &state.pool,
        caller.id,
        &name,
        &spec,
        b.paused.unwrap_or(false),
        &channel_ids,
    )
    .await?;
    sync_schedule(&state, &m).await;
    Ok(HttpResponse::Created().json(MonitorView::from(m)))
}

/// The caller's monitors, oldest first.
#[utoipa::path(get, path = "/api/v1/monitors", tag = "monitors", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = MonitorPage)))]
#[get("/monitors")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = uuid_cursor(page.cursor()?)?;
    let mut items = upcheck_store::monitors::list(&state.pool, caller.id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |m| m.spec.monitor_id.to_string());
    Ok(HttpResponse::Ok()
        .json(MonitorPage { items: items.into_iter().map(MonitorView::from).collect(), next_cursor }))
}

/// One monitor.
#[utoipa::path(get, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = MonitorView), (status = 404, description = "no such monitor")))]
#[get("/monitors/{id}")]
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = upcheck_store::monitors::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    Ok(HttpResponse::Ok().json(MonitorView::from(m)))
}

/// Changes a monitor; the whole resulting spec is validated, and the next check is due now.
#[utoipa::path(patch, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = Uuid, Path)), request_body = UpdateMonitor,
    security(("bearer" = [])), responses((status = 200, body = MonitorView), (status = 404, description = "no such monitor")))]
#[patch("/monitors/{id}")]
pub(crate) async fn update(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    body: ValidJson<UpdateMonitor>,
) -> Result<HttpResponse, ApiError> {
    let current = upcheck_store::monitors::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    let b = body.0;
    let name = validate_name(b.name.as_deref().unwrap_or(&current.name))?;
    let c = current.spec;
    let spec = ProbeSpec {
        monitor_id: c.monitor_id,
        kind: b.kind.unwrap_or(c.kind),
        url: b.url.map(|u| u.trim().to_string()).unwrap_or(c.url),
        method: b.method.unwrap_or(c.method),
        headers: b.headers.unwrap_or(c.headers),
        body: b.body.unwrap_or(c.body),
        interval_seconds: b.interval_seconds.unwrap_or(c.interval_seconds),
        timeout_ms: b.timeout_ms.unwrap_or(c.timeout_ms),
        expected_status: b.expected_status.unwrap_or(c.expected_status),
        failure_threshold: b.failure_threshold.unwrap_or(c.failure_threshold),
        recovery_threshold: b.recovery_threshold.unwrap_or(c.recovery_threshold),
    };
    spec.validate()?;
    check_target(&state, "url", &spec.url)?;
    if let Some(ids) = &b.channel_ids {
        check_channels(&state, caller.id, ids).await?;
    }
    let m = upcheck_store::monitors::update(&state.pool, caller.id, &name, &spec, b.channel_ids.as_deref())
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    sync_schedule(&state, &m).await;
    Ok(HttpResponse::Ok().json(MonitorView::from(m)))
}

/// Deletes a monitor with its checks, incidents and delivery log.
#[utoipa::path(delete, path = "/api/v1/monitors/{id}", tag = "monitors", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such monitor")))]
#[delete("/monitors/{id}")]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if !upcheck_store::monitors::delete(&state.pool, caller.id, *id).await? {
        return Err(ApiError::NotFound("monitor"));
    }
    let removed = match state.schedule().await {
        Ok(s) => s.remove(*id).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = removed {
        tracing::warn!(monitor_id = %id, error = %e, "schedule not updated; the reconcile will repair it");
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn set_paused(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
    paused: bool,
) -> Result<HttpResponse, ApiError> {
    let m = upcheck_store::monitors::set_paused(&state.pool, caller.id, id, paused)
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    sync_schedule(state, &m).await;
    Ok(HttpResponse::Ok().json(MonitorView::from(m)))
}

/// Stops scheduling a monitor; checks in flight are ignored.
#[utoipa::path(post, path = "/api/v1/monitors/{id}/pause", tag = "monitors", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = MonitorView), (status = 404, description = "no such monitor")))]
#[post("/monitors/{id}/pause")]
pub(crate) async fn pause(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_paused(&state, &caller, *id, true).await
}

/// Schedules a paused monitor again (status `pending`, first check now).
#[utoipa::path(post, path = "/api/v1/monitors/{id}/resume", tag = "monitors", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = MonitorView), (status = 404, description = "no such monitor")))]
#[post("/monitors/{id}/resume")]
pub(crate) async fn resume(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_paused(&state, &caller, *id, false).await
}
