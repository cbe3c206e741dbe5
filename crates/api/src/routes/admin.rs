//! Admin routes: the dead letters of every stream, listed, replayed (one, or many by a
//! filter) and discarded. A replayed notification gets `NOTIFICATION_MAX_ATTEMPTS` fresh
//! attempts; every replay and discard is logged with the admin's id.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use upcheck_domain::NotificationJob;
use upcheck_streams::dead_letters::{self, DeadLetter};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(replay_many).service(replay_one).service(discard);
}

/// Most dead letters one request lists or replays.
const MAX_PAGE: usize = 500;

/// Which dead-letter stream.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct StreamQuery {
    /// `notification` (default), `status-change` or `monitoring`.
    stream: Option<String>,
    /// The monitoring shard (with `stream=monitoring`; default 0).
    shard: Option<u32>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<usize>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

/// A dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterView {
    /// Its id in the dead-letter stream.
    id: String,
    /// The stream it came from (and is replayed to).
    stream: String,
    /// Its id there.
    source_id: String,
    /// The consumer group that gave up on it.
    group: String,
    /// Why.
    reason: String,
    /// Deliveries before it was given up on.
    deliveries: u64,
    /// When (RFC 3339).
    dead_at: String,
    /// The message (JSON), as it was on the stream.
    #[schema(value_type = Object)]
    message: serde_json::Value,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(d: DeadLetter) -> Self {
        let dead_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(d.dead_at_ms()) * 1_000_000)
            .map(rfc3339)
            .unwrap_or_default();
        Self {
            message: serde_json::from_str(&d.message).unwrap_or(serde_json::Value::String(d.message.clone())),
            dead_at,
            id: d.id,
            stream: d.stream,
            source_id: d.source_id,
            group: d.group,
            reason: d.reason,
            deliveries: d.deliveries,
        }
    }
}

/// A page of dead letters.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadLetterPage {
    items: Vec<DeadLetterView>,
    next_cursor: Option<String>,
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// Dead letters put back on their stream.
    replayed: usize,
    /// Their new ids there.
    ids: Vec<String>,
}

/// A filter for a bulk replay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayFilter {
    /// `notification` (default), `status-change` or `monitoring`.
    stream: Option<String>,
    /// The monitoring shard (default 0).
    shard: Option<u32>,
    /// Only dead letters whose reason contains this text.
    reason_contains: Option<String>,
    /// At most this many, oldest first (1 to 500, default 100).
    limit: Option<usize>,
}

/// 403 unless the caller is (still) an admin.
pub(crate) fn admin(caller: &AuthUser) -> Result<(), ApiError> {
    if caller.role == upcheck_domain::Role::Admin { Ok(()) } else { Err(ApiError::Forbidden("admins only")) }
}

/// The stream a `stream` (and `shard`) parameter names.
fn stream_name(state: &AppState, stream: Option<&str>, shard: Option<u32>) -> Result<String, ApiError> {
    let s = &state.settings.streams;
    match stream.unwrap_or("notification") {
        "notification" => Ok(s.notification.clone()),
        "status-change" => Ok(s.status_change.clone()),
        "monitoring" => {
            let keys = upcheck_streams::Keys::new(&state.settings);
            let shard = shard.unwrap_or(0);
            if shard >= keys.shards() {
                return Err(ApiError::bad(
                    "shard",
                    format!("must be below SCHEDULE_SHARDS ({})", keys.shards()),
                ));
            }
            Ok(keys.monitoring_stream(shard))
        }
        _ => Err(ApiError::bad("stream", "must be notification, status-change or monitoring")),
    }
}

/// For an admin only: the stream a request names and a Redis connection.
async fn admin_stream(
    state: &AppState,
    caller: &AuthUser,
    stream: Option<&str>,
    shard: Option<u32>,
) -> Result<(String, upcheck_streams::RedisConn), ApiError> {
    admin(caller)?;
    let stream = stream_name(state, stream, shard)?;
    Ok((stream, state.redis().await?))
}

fn redis_down(e: upcheck_streams::StreamError) -> ApiError {
    tracing::warn!(error = %e, "dead letters: Redis failed");
    ApiError::Unavailable("redis")
}

/// Puts one dead letter back on its stream (a notification is made pending again first, the
/// replay by `admin` recorded on its incident's timeline);
/// `None` when another replay or a discard took it first.
async fn replay(state: &AppState, letter: &DeadLetter, admin: Uuid) -> Result<Option<String>, ApiError> {
    if letter.stream == state.settings.streams.notification
        && let Ok(job) = serde_json::from_str::<NotificationJob>(&letter.message)
    {
        upcheck_store::notifications::revive(&state.pool, job.notification_id, Some(admin)).await?;
    }
    let conn = state.redis().await?;
    let maxlen = state.settings.tunables.stream_maxlen;
    dead_letters::requeue(&conn, letter, maxlen).await.map_err(redis_down)
}

/// Dead letters of one stream, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", tag = "admin", params(StreamQuery), security(("bearer" = [])),
    responses((status = 200, body = DeadLetterPage), (status = 403, description = "admins only")))]
#[get("/admin/dead-letters")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    q: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    if let Some(cursor) = q.cursor.as_deref()
        && !(dead_letters::is_entry_id(cursor) && cursor.split('-').all(|part| part.parse::<u64>().is_ok()))
    {
        return Err(ApiError::bad("cursor", "not a cursor from next_cursor"));
    }
    let (stream, conn) = admin_stream(&state, &caller, q.stream.as_deref(), q.shard).await?;
    let mut items =
        dead_letters::list(&conn, &stream, q.cursor.as_deref(), limit + 1).await.map_err(redis_down)?;
    let next_cursor = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(|d| d.id.clone()).unwrap_or_default()
    });
    Ok(HttpResponse::Ok()
        .json(DeadLetterPage { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Replays one dead letter onto its stream.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/{id}/replay", tag = "admin", params(("id" = String, Path), StreamQuery),
    security(("bearer" = [])), responses((status = 200, body = Replayed), (status = 403, description = "admins only"), (status = 404, description = "no such dead letter")))]
#[post("/admin/dead-letters/{id}/replay")]
pub(crate) async fn replay_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    q: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let (stream, conn) = admin_stream(&state, &caller, q.stream.as_deref(), q.shard).await?;
    let letter = dead_letters::get(&conn, &stream, &id)
        .await
        .map_err(redis_down)?
        .ok_or(ApiError::NotFound("dead letter"))?;
    let new_id = replay(&state, &letter, caller.id).await?.ok_or(ApiError::NotFound("dead letter"))?;
    tracing::info!(admin = %caller.id, %stream, dead_letter = %letter.id, source_id = %letter.source_id, %new_id, "dead letter replayed");
    Ok(HttpResponse::Ok().json(Replayed { replayed: 1, ids: vec![new_id] }))
}

/// Replays the oldest dead letters of a stream that match a filter.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/replay", tag = "admin", request_body = ReplayFilter,
    security(("bearer" = [])), responses((status = 200, body = Replayed), (status = 403, description = "admins only")))]
#[post("/admin/dead-letters/replay")]
pub(crate) async fn replay_many(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: crate::json::ValidJson<ReplayFilter>,
) -> Result<HttpResponse, ApiError> {
    let f = body.0;
    let limit = f.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let (stream, conn) = admin_stream(&state, &caller, f.stream.as_deref(), f.shard).await?;
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    while ids.len() < limit {
        let page =
            dead_letters::list(&conn, &stream, cursor.as_deref(), MAX_PAGE).await.map_err(redis_down)?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id.clone());
        for letter in
            page.iter().filter(|d| f.reason_contains.as_deref().is_none_or(|r| d.reason.contains(r)))
        {
            if ids.len() == limit {
                break;
            }
            ids.extend(replay(&state, letter, caller.id).await?);
        }
    }
    tracing::info!(admin = %caller.id, %stream, replayed = ids.len(), "dead letters replayed");
    Ok(HttpResponse::Ok().json(Replayed { replayed: ids.len(), ids }))
}

/// Discards one dead letter.
#[utoipa::path(delete, path = "/api/v1/admin/dead-letters/{id}", tag = "admin", params(("id" = String, Path), StreamQuery),
    security(("bearer" = [])), responses((status = 204, description = "discarded"), (status = 403, description = "admins only"), (status = 404, description = "no such dead letter")))]
#[delete("/admin/dead-letters/{id}")]
pub(crate) async fn discard(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<String>,
    q: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let (stream, conn) = admin_stream(&state, &caller, q.stream.as_deref(), q.shard).await?;
    if !dead_letters::discard(&conn, &stream, &id).await.map_err(redis_down)? {
        return Err(ApiError::NotFound("dead letter"));
    }
    tracing::info!(admin = %caller.id, %stream, dead_letter = %id, "dead letter discarded");
    Ok(HttpResponse::NoContent().finish())
}
