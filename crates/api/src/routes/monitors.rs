//! Monitors: CRUD and pause/resume. Every change commits to Postgres first, then updates the
//! Redis schedule and spec; if Redis fails at that moment the change still stands, and the
//! monitoring workers' reconcile (every `RECONCILE_INTERVAL_SECONDS`) brings Redis in step.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::monitor_dto::{CreateMonitor, MonitorPage, MonitorView, UpdateMonitor};
use crate::routes::monitor_rules::requested_links;
use crate::routes::{check_target, validate_name};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde_json::Value;
use upcheck_domain::monitor::{DEFAULT_INTERVAL_SECONDS, DEFAULT_TIMEOUT_MS};
use upcheck_domain::probe_config::KindConfig;
use upcheck_domain::{ExpectedStatus, MonitorKind, ProbeSpec};
use upcheck_store::monitors::Monitor;
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

use upcheck_domain::clock::now_ms;

/// The stored `url`: the given one for `http` (required), the config's target for the others.
fn target_url(config: &KindConfig, url: Option<String>) -> Result<String, ApiError> {
    match (config.target(), url) {
        (None, Some(url)) => Ok(url.trim().to_string()),
        (None, None) => Err(ApiError::invalid("url", "required for http monitors")),
        (Some(target), None) => Ok(target),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "url",
            format!(
                "only for http monitors; a {} monitor names its target in config",
                config.kind().as_str()
            ),
        )),
    }
}

/// A heartbeat monitor is not probed: its schedule is its period (missed deadlines recur every
/// period while it stays silent), and `interval_seconds` / `timeout_ms` are not its to set.
fn heartbeat_timing(mut spec: ProbeSpec, timing_given: bool) -> Result<ProbeSpec, ApiError> {
    if let KindConfig::Heartbeat(beat) = &spec.config {
        if timing_given {
            return Err(ApiError::invalid(
                "interval_seconds",
                "not used by heartbeat monitors: set config.period_seconds and config.grace_seconds",
            ));
        }
        spec.interval_seconds = beat.period_seconds;
        spec.timeout_ms = 1_000;
    }
    Ok(spec)
}

/// Validates a spec and refuses targets the network policy blocks (a literal address or
/// `localhost` in the URL, a tcp/tls host or a dns resolver).
fn check_spec(state: &AppState, spec: &ProbeSpec) -> Result<(), ApiError> {
    spec.validate()?;
    let min = state.settings.quotas.min_interval_seconds;
    if spec.interval_seconds < min {
        return Err(ApiError::invalid(
            "interval_seconds",
            format!("must be at least {min} (MIN_INTERVAL_SECONDS)"),
        ));
    }
    if spec.kind == MonitorKind::Http {
        check_target(state, "url", &spec.url)?;
    }
    if let Some((field, host)) = upcheck_domain::probe_config::policy_host(&spec.config) {
        let literal =
            if host.contains(':') { format!("http://[{host}]/") } else { format!("http://{host}/") };
        check_target(state, field, &literal)?;
    }
    Ok(())
}

/// When a changed or resumed monitor is next due: now, unless that is sooner than its last
/// check plus its (new) interval, so editing or pausing and resuming a monitor never checks it
/// more often than its interval allows. A heartbeat's next deadline is a window after its last
/// ping, or a whole window from now when it was just created or resumed (its job has had no
/// chance to ping since).
fn next_due_ms(m: &Monitor, fresh_start: bool) -> i64 {
    let now = now_ms();
    if let KindConfig::Heartbeat(beat) = &m.spec.config {
        return match m.last_checked_at {
            Some(at) if !fresh_start => now.max(upcheck_domain::clock::unix_ms(at) + beat.window_ms()),
            _ => now + beat.window_ms(),
        };
    }
    match m.last_checked_at {
        Some(at) => now.max(upcheck_domain::clock::unix_ms(at) + i64::from(m.spec.interval_seconds) * 1_000),
        None => now,
    }
}

/// Schedules or unschedules a monitor in Redis (`fresh_start`: just created or resumed);
/// failures are logged, not returned.
async fn sync_schedule(state: &AppState, m: &Monitor, fresh_start: bool) {
    let result = match state.schedule().await {
        Ok(schedule) if m.paused => schedule.remove(m.spec.monitor_id).await.map_err(|e| e.to_string()),
        Ok(schedule) => {
            schedule.upsert(&m.spec, next_due_ms(m, fresh_start)).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = result {
        tracing::warn!(monitor_id = %m.spec.monitor_id, error = %e, "schedule not updated; the reconcile will repair it");
    }
}

/// Creates a monitor and schedules its first check now. A member may own at most
/// `MAX_MONITORS_PER_USER` monitors (409 naming the limit); admins are exempt.
#[utoipa::path(post, path = "/api/v1/monitors", tag = "monitors", request_body = CreateMonitor, security(("bearer" = [])),
    responses((status = 201, body = MonitorView), (status = 409, description = "MAX_MONITORS_PER_USER reached"), (status = 422, description = "a field is invalid")))]
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
    let kind = b.kind.unwrap_or_default();
    let config = KindConfig::from_json(kind, b.config.as_ref().unwrap_or(&Value::Null))?;
    let spec = ProbeSpec {
        monitor_id: Uuid::now_v7(),
        kind,
        url: target_url(&config, b.url)?,
        config,
        owner_id: Some(caller.id),
        method: b.method.unwrap_or_default(),
        headers: b.headers.unwrap_or_default(),
        sealed_headers: None,
        body: b.body,
        interval_seconds,
        timeout_ms: b.timeout_ms.unwrap_or(default_timeout),
        expected_status: b.expected_status.unwrap_or_else(ExpectedStatus::default_rules),
        failure_threshold: b.failure_threshold.unwrap_or(if kind == MonitorKind::Heartbeat { 1 } else { 2 }),
        recovery_threshold: b.recovery_threshold.unwrap_or(1),
        regions: b.regions.unwrap_or_default(),
        min_failed_regions: b.min_failed_regions,
    };
    let mut spec = heartbeat_timing(spec, b.interval_seconds.is_some() || b.timeout_ms.is_some())?;
    check_spec(&state, &spec)?;
    spec.seal_headers(&state.secrets);
    let links = requested_links(&state, caller.id, b.channel_ids, b.channels).await?.unwrap_or_default();
    let quotas = state.settings.quotas;
    let max = (caller.role != upcheck_domain::Role::Admin).then_some(quotas.max_monitors_per_user);
    let m = upcheck_store::monitors::create(
        &state.pool,
        caller.id,
        &name,
        &spec,
        b.paused.unwrap_or(false),
        &links,
        max,
    )
    .await?
    .ok_or_else(|| ApiError::Quota {
        limit: "MAX_MONITORS_PER_USER",
        message: format!("at most {} monitors per user", quotas.max_monitors_per_user),
    })?;
    sync_schedule(&state, &m, true).await;
    Ok(HttpResponse::Created().json(MonitorView::shown(&state, m)?))
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
    let mut items = upcheck_store::monitors::list(&state.read_pool, caller.id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |m| m.spec.monitor_id.to_string());
    let items = items.into_iter().map(|m| MonitorView::shown(&state, m)).collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(MonitorPage { items, next_cursor }))
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
    Ok(HttpResponse::Ok().json(MonitorView::shown(&state, m)?))
}

/// Changes a monitor; the whole resulting spec is validated, and the next check is due now, or
/// at its last check plus its interval if that is later.
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
    let headers =
        crate::routes::secrets::merged_headers(b.headers, crate::routes::secrets::open_headers(&state, &c)?)?;
    let kind = b.kind.unwrap_or(c.kind);
    let config = match (&b.config, kind == c.kind) {
        (Some(v), _) => KindConfig::from_json(kind, v)?,
        (None, true) => c.config,
        (None, false) => {
            return Err(ApiError::invalid(
                "config",
                format!("required when kind changes to {}", kind.as_str()),
            ));
        }
    };
    let url = match (kind, b.url) {
        (MonitorKind::Http, None) if c.kind == MonitorKind::Http => Some(c.url),
        (_, url) => url,
    };
    let spec = ProbeSpec {
        monitor_id: c.monitor_id,
        kind,
        url: target_url(&config, url)?,
        config,
        owner_id: Some(caller.id),
        method: b.method.unwrap_or(c.method),
        headers,
        sealed_headers: None,
        body: b.body.unwrap_or(c.body),
        interval_seconds: b.interval_seconds.unwrap_or(c.interval_seconds),
        timeout_ms: b.timeout_ms.unwrap_or(c.timeout_ms),
        expected_status: b.expected_status.unwrap_or(c.expected_status),
        failure_threshold: b.failure_threshold.unwrap_or(c.failure_threshold),
        recovery_threshold: b.recovery_threshold.unwrap_or(c.recovery_threshold),
        regions: b.regions.unwrap_or(c.regions),
        min_failed_regions: b.min_failed_regions.unwrap_or(c.min_failed_regions),
    };
    let mut spec = heartbeat_timing(spec, b.interval_seconds.is_some() || b.timeout_ms.is_some())?;
    check_spec(&state, &spec)?;
    spec.seal_headers(&state.secrets);
    let links = requested_links(&state, caller.id, b.channel_ids, b.channels).await?;
    let m = upcheck_store::monitors::update(&state.pool, caller.id, &name, &spec, links.as_deref())
        .await?
        .ok_or(ApiError::NotFound("monitor"))?;
    sync_schedule(&state, &m, false).await;
    Ok(HttpResponse::Ok().json(MonitorView::shown(&state, m)?))
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
    sync_schedule(state, &m, true).await;
    Ok(HttpResponse::Ok().json(MonitorView::shown(state, m)?))
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

/// Schedules a paused monitor again (status `pending`; first check now, or at its last check
/// plus its interval if that is later).
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
