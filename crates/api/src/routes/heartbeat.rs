//! Heartbeat pings (push monitoring for cron jobs and batch work, as Healthchecks does):
//! `GET|POST /api/v1/heartbeat/{token}` (the job ran), `/start` (a run began: it must finish
//! within the grace), `/fail` (the job failed: `down` at once). No other authentication: the
//! token is the credential. Each token is rate limited across replicas
//! (`RATE_LIMIT_HEARTBEAT_PER_MINUTE`), and token look-ups are cached, so a ping costs two Redis
//! scripts and, at most every few seconds, one Postgres query.
//!
//! A ping moves the monitor's deadline in the schedule and adds a job that records it; the
//! scheduler claims the monitor when a deadline passes with no ping, and the monitoring worker
//! stores that as a failed check. Silence is detected by the schedule, and survives restarts.

use crate::error::ApiError;
use crate::rate_limit::{self, Limit};
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use upcheck_domain::PingKind;
use upcheck_domain::probe_config::HeartbeatConfig;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(ping_get).service(ping_post).service(ping_action);
}

/// How long a token look-up (found or not) is reused.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Tokens kept in the look-up cache before it is emptied.
const CACHE_MAX: usize = 100_000;

type Entry = Option<(Uuid, HeartbeatConfig, bool)>;

/// The token look-up cache.
#[derive(Default)]
pub(crate) struct Pings {
    cache: Mutex<HashMap<String, (Instant, Entry)>>,
}

impl Pings {
    async fn lookup(&self, state: &AppState, token: &str) -> Result<Entry, ApiError> {
        {
            let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, entry)) = cache.get(token)
                && at.elapsed() < CACHE_TTL
            {
                return Ok(*entry);
            }
        }
        let entry = upcheck_store::monitors::by_heartbeat_token(&state.pool, token).await?;
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_string(), (Instant::now(), entry));
        Ok(entry)
    }
}

/// What a ping did.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct PingResult {
    /// `recorded`, or `paused` (nothing recorded).
    status: &'static str,
}

async fn ping(state: &AppState, token: &str, action: Option<&str>) -> Result<HttpResponse, ApiError> {
    if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ApiError::NotFound("heartbeat"));
    }
    if !matches!(action, None | Some("start" | "fail")) {
        return Err(ApiError::NotFound("heartbeat action"));
    }
    rate_limit::check(state, Limit::Heartbeat, &rate_limit::hashed(token)).await?;
    let Some((monitor_id, beat, paused)) = state.pings.lookup(state, token).await? else {
        return Err(ApiError::NotFound("heartbeat"));
    };
    if paused {
        return Ok(HttpResponse::Ok().json(PingResult { status: "paused" }));
    }
    let now = upcheck_domain::clock::now_ms();
    let (kind, deadline) = match action {
        None => (Some(PingKind::Success), now + beat.window_ms()),
        Some("fail") => (Some(PingKind::Fail), now + beat.window_ms()),
        Some("start") => (None, now + i64::from(beat.grace_seconds) * 1_000),
        Some(_) => return Err(ApiError::NotFound("heartbeat action")),
    };
    let schedule = state.schedule().await?;
    match schedule.ping(monitor_id, now, deadline, kind).await {
        Ok(true) => Ok(HttpResponse::Ok().json(PingResult { status: "recorded" })),
        // Not in the schedule: paused a moment ago, or Redis lost it and the reconcile has not
        // restored it yet (it then gets a whole window, so no false alarm follows).
        Ok(false) => Ok(HttpResponse::Ok().json(PingResult { status: "paused" })),
        Err(e) => {
            tracing::warn!(%monitor_id, error = %e, "heartbeat ping not recorded");
            Err(ApiError::Unavailable("redis"))
        }
    }
}

/// Records a ping: the job ran.
#[utoipa::path(get, path = "/api/v1/heartbeat/{token}", tag = "heartbeat", params(("token" = String, Path)),
    responses((status = 200, body = PingResult), (status = 404, description = "no such heartbeat"), (status = 429, description = "rate limited")))]
#[get("/heartbeat/{token}")]
pub(crate) async fn ping_get(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ping(&state, &token, None).await
}

/// Records a ping: the job ran (POST, for clients that send a body; it is ignored).
#[utoipa::path(post, path = "/api/v1/heartbeat/{token}", tag = "heartbeat", params(("token" = String, Path)),
    responses((status = 200, body = PingResult), (status = 404, description = "no such heartbeat"), (status = 429, description = "rate limited")))]
#[post("/heartbeat/{token}")]
pub(crate) async fn ping_post(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ping(&state, &token, None).await
}

/// `start`: a run began and must finish (ping) within the grace; `fail`: the run failed, `down` at once.
#[utoipa::path(post, path = "/api/v1/heartbeat/{token}/{action}", tag = "heartbeat",
    params(("token" = String, Path), ("action" = String, Path, description = "start or fail")),
    responses((status = 200, body = PingResult), (status = 404, description = "no such heartbeat or action"), (status = 429, description = "rate limited")))]
#[actix_web::route("/heartbeat/{token}/{action}", method = "GET", method = "POST")]
pub(crate) async fn ping_action(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (token, action) = path.into_inner();
    ping(&state, &token, Some(action.as_str())).await
}
