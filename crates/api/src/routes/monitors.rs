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
use serde_json::Value;
use std::collections::BTreeMap;
use upcheck_domain::monitor::{DEFAULT_INTERVAL_SECONDS, DEFAULT_TIMEOUT_MS};
use upcheck_domain::probe_config::KindConfig;
use upcheck_domain::{CheckOutcome, ExpectedStatus, HttpMethod, MonitorKind, MonitorStatus, ProbeSpec};
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

/// A monitor's `config`, by its `kind` (documentation only: the API parses it by `kind`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum MonitorConfig {
    /// `http`: assertions, redirects, degraded latency, certificate check.
    Http(upcheck_domain::probe_config::HttpConfig),
    /// `tcp`: host, port, optional send/expect.
    Tcp(upcheck_domain::probe_config::TcpConfig),
    /// `dns`: name, record type, resolver, expected values.
    Dns(upcheck_domain::probe_config::DnsConfig),
    /// `tls`: host, port, expiry warning.
    Tls(upcheck_domain::probe_config::TlsConfig),
    /// `heartbeat`: period and grace; pinged at the monitor's `heartbeat_url`.
    Heartbeat(upcheck_domain::probe_config::HeartbeatConfig),
}

/// A new monitor. `name` is required, and `url` for `http` monitors; other kinds name their
/// target in `config`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateMonitor {
    /// 1 to 200 characters.
    name: String,
    /// `http://` or `https://`; `http` monitors only.
    url: Option<String>,
    /// `http` (default), `tcp`, `dns`, `tls` or `heartbeat`.
    #[schema(value_type = Option<String>, example = "http")]
    kind: Option<MonitorKind>,
    /// The kind's settings: `HttpConfig` (optional), `TcpConfig`, `DnsConfig`, `TlsConfig` or `HeartbeatConfig`.
    #[schema(value_type = Option<MonitorConfig>, example = json!({"assertions": [{"type": "json", "pointer": "/status", "op": "equals", "value": "ok"}], "degraded_latency_ms": 800}))]
    config: Option<Value>,
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
    /// Regions that probe it (default: every region with a monitoring replica; see `GET /regions`).
    regions: Option<Vec<String>>,
    /// Regions that must see it down before it is `down` (default: a majority of its regions).
    min_failed_regions: Option<u16>,
}

/// Changes to a monitor: any subset of the creation fields but `paused` (use pause/resume).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMonitor {
    name: Option<String>,
    url: Option<String>,
    #[schema(value_type = Option<String>)]
    kind: Option<MonitorKind>,
    /// Replaces the kind's settings (required when `kind` changes).
    #[schema(value_type = Option<MonitorConfig>)]
    config: Option<Value>,
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
    /// Replaces the listed regions (`[]`: every region).
    regions: Option<Vec<String>>,
    /// `null` returns to a majority.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>)]
    min_failed_regions: Option<Option<u16>>,
}

/// A monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MonitorView {
    id: Uuid,
    name: String,
    url: String,
    kind: String,
    /// The kind's settings, defaults filled in.
    #[schema(value_type = MonitorConfig)]
    config: Value,
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
    /// The regions listed to probe it (empty: every region).
    regions: Vec<String>,
    /// Regions that must see it down (null: a majority).
    min_failed_regions: Option<u16>,
    /// Each region's own status (its status machine over its own checks); the monitor's
    /// `status` is their quorum.
    region_status: Vec<RegionStatusView>,
    /// `pending`, `up`, `degraded` (up, but its latest check was slow), `down` or `paused`.
    status: String,
    /// RFC 3339, or null before the first check.
    last_checked_at: Option<String>,
    /// Heartbeat monitors: where the job pings (`GET` or `POST`; add `/start` or `/fail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat_url: Option<String>,
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
            config: s.config.to_json(),
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
            regions: s.regions,
            min_failed_regions: s.min_failed_regions,
            region_status: m
                .regions
                .into_iter()
                .map(|r| RegionStatusView {
                    region: r.region,
                    status: r.status,
                    last_checked_at: r.last_checked_at.as_deref().and_then(|t| {
                        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                            .ok()
                            .map(rfc3339)
                    }),
                    error: r.error,
                })
                .collect(),
            status: match (m.paused, m.status, m.last_outcome) {
                (true, _, _) => "paused".into(),
                (false, MonitorStatus::Up, Some(CheckOutcome::Degraded)) => "degraded".into(),
                (false, status, _) => status.as_str().into(),
            },
            last_checked_at: m.last_checked_at.map(rfc3339),
            heartbeat_url: (s.kind == MonitorKind::Heartbeat)
                .then_some(m.heartbeat_token.as_ref())
                .flatten()
                .map(|t| format!("/api/v1/heartbeat/{t}")),
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// One region's view of a monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegionStatusView {
    region: String,
    /// `pending`, `up` or `down`.
    status: String,
    last_checked_at: Option<String>,
    /// Its latest failed check's error.
    error: Option<String>,
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
/// more often than its interval allows.
fn next_due_ms(m: &Monitor) -> i64 {
    let now = now_ms();
    if let KindConfig::Heartbeat(beat) = &m.spec.config {
        // The next deadline: a window after the last ping (or from now, before the first).
        return match m.last_checked_at {
            Some(at) => now.max(upcheck_domain::clock::unix_ms(at) + beat.window_ms()),
            None => now + beat.window_ms(),
        };
    }
    match m.last_checked_at {
        Some(at) => now.max(upcheck_domain::clock::unix_ms(at) + i64::from(m.spec.interval_seconds) * 1_000),
        None => now,
    }
}

/// Schedules or unschedules a monitor in Redis; failures are logged, not returned.
async fn sync_schedule(state: &AppState, m: &Monitor) {
    let result = match state.schedule().await {
        Ok(schedule) if m.paused => schedule.remove(m.spec.monitor_id).await.map_err(|e| e.to_string()),
        Ok(schedule) => schedule.upsert(&m.spec, next_due_ms(m)).await.map_err(|e| e.to_string()),
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
        body: b.body,
        interval_seconds,
        timeout_ms: b.timeout_ms.unwrap_or(default_timeout),
        expected_status: b.expected_status.unwrap_or_else(ExpectedStatus::default_rules),
        failure_threshold: b.failure_threshold.unwrap_or(if kind == MonitorKind::Heartbeat { 1 } else { 2 }),
        recovery_threshold: b.recovery_threshold.unwrap_or(1),
        regions: b.regions.unwrap_or_default(),
        min_failed_regions: b.min_failed_regions,
    };
    let spec = heartbeat_timing(spec, b.interval_seconds.is_some() || b.timeout_ms.is_some())?;
    check_spec(&state, &spec)?;
    let channel_ids = b.channel_ids.unwrap_or_default();
    check_channels(&state, caller.id, &channel_ids).await?;
    let quotas = state.settings.quotas;
    let max = (caller.role != upcheck_domain::Role::Admin).then_some(quotas.max_monitors_per_user);
    let m = upcheck_store::monitors::create(
        &state.pool,
        caller.id,
        &name,
        &spec,
        b.paused.unwrap_or(false),
        &channel_ids,
        max,
    )
    .await?
    .ok_or_else(|| ApiError::Quota {
        limit: "MAX_MONITORS_PER_USER",
        message: format!("at most {} monitors per user", quotas.max_monitors_per_user),
    })?;
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
        headers: b.headers.unwrap_or(c.headers),
        body: b.body.unwrap_or(c.body),
        interval_seconds: b.interval_seconds.unwrap_or(c.interval_seconds),
        timeout_ms: b.timeout_ms.unwrap_or(c.timeout_ms),
        expected_status: b.expected_status.unwrap_or(c.expected_status),
        failure_threshold: b.failure_threshold.unwrap_or(c.failure_threshold),
        recovery_threshold: b.recovery_threshold.unwrap_or(c.recovery_threshold),
        regions: b.regions.unwrap_or(c.regions),
        min_failed_regions: b.min_failed_regions.unwrap_or(c.min_failed_regions),
    };
    let spec = heartbeat_timing(spec, b.interval_seconds.is_some() || b.timeout_ms.is_some())?;
    check_spec(&state, &spec)?;
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
