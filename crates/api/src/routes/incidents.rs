//! Incidents across the caller's monitors, and acknowledging one.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use upcheck_store::reads::Incident;
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(get_one).service(acknowledge).service(timeline);
}

/// An incident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentView {
    id: Uuid,
    monitor_id: Uuid,
    /// `open` or `resolved`.
    state: String,
    opened_at: String,
    acknowledged_at: Option<String>,
    /// Who acknowledged it first.
    acknowledged_by: Option<Uuid>,
    resolved_at: Option<String>,
    /// The failing check's error.
    cause: Option<String>,
    /// Seconds from opening to the first acknowledgement; null until acknowledged.
    time_to_acknowledge_seconds: Option<i64>,
    /// Seconds from opening to resolution; null while open.
    duration_seconds: Option<i64>,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> Self {
        Self {
            id: i.id,
            monitor_id: i.monitor_id,
            state: i.state.as_str().into(),
            opened_at: rfc3339(i.opened_at),
            acknowledged_at: i.acknowledged_at.map(rfc3339),
            acknowledged_by: i.acknowledged_by,
            resolved_at: i.resolved_at.map(rfc3339),
            time_to_acknowledge_seconds: i.time_to_acknowledge_seconds(),
            duration_seconds: i.duration_seconds(),
            cause: i.cause,
        }
    }
}

/// A page of incidents, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentPage {
    items: Vec<IncidentView>,
    next_cursor: Option<String>,
}

impl IncidentPage {
    /// A page from `items` fetched with `limit + 1` rows.
    pub(crate) fn new(mut items: Vec<Incident>, limit: i64) -> Self {
        let next_cursor = next_cursor(&mut items, limit, |i| i.id.to_string());
        Self { items: items.into_iter().map(IncidentView::from).collect(), next_cursor }
    }
}

/// `?state=open|resolved&limit&cursor`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct IncidentQuery {
    /// `open` or `resolved`; both when absent.
    state: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
    /// From `next_cursor`.
    cursor: Option<String>,
}

/// Incidents of the caller's monitors, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery), security(("bearer" = [])),
    responses((status = 200, body = IncidentPage)))]
#[get("/incidents")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    q: web::Query<IncidentQuery>,
) -> Result<HttpResponse, ApiError> {
    let wanted = match q.state.as_deref() {
        None => None,
        Some(s) => Some(
            upcheck_domain::IncidentState::parse(s)
                .ok_or_else(|| ApiError::bad("state", "must be open or resolved"))?,
        ),
    };
    let page = PageQuery { limit: q.limit.clone(), cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let before = uuid_cursor(page.cursor()?)?;
    let items =
        upcheck_store::reads::incidents(&state.read_pool, caller.id, None, wanted, before, limit + 1).await?;
    Ok(HttpResponse::Ok().json(IncidentPage::new(items, limit)))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = IncidentView), (status = 404, description = "no such incident")))]
#[get("/incidents/{id}")]
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let i = upcheck_store::reads::incident_of(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    // The timers re-check the acknowledgement when due; this settles them in the record.
    upcheck_store::timers::cancel_on_acknowledge(&state.pool, i.id).await?;
    Ok(HttpResponse::Ok().json(IncidentView::from(i)))
}

/// Acknowledges an incident (idempotent: the first acknowledgement's time is kept). Its pending
/// reminders and escalations are cancelled.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/acknowledge", tag = "incidents", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = IncidentView), (status = 404, description = "no such incident")))]
#[post("/incidents/{id}/acknowledge")]
pub(crate) async fn acknowledge(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (i, first) = upcheck_store::reads::acknowledge_for_feed(&state.pool, caller.id, *id, caller.id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    // The timers re-check the acknowledgement when due; this settles them in the record.
    upcheck_store::timers::cancel_on_acknowledge(&state.pool, i.id).await?;
    if let Some(ack) = first {
        publish_acknowledgement(&state, ack).await;
    }
    Ok(HttpResponse::Ok().json(IncidentView::from(i)))
}

/// Publishes a first acknowledgement on the live feed's channel; best-effort (a stream that
/// misses it is replayed it from Postgres when its client reconnects).
async fn publish_acknowledgement(state: &AppState, ack: upcheck_domain::live::LiveAcknowledgement) {
    let Ok(mut conn) = state.redis().await else { return };
    let channel = upcheck_streams::Keys::new(&state.settings).live_channel();
    let message =
        serde_json::to_string(&upcheck_domain::live::LiveMessage::Acknowledged(ack)).unwrap_or_default();
    let published: redis::RedisResult<i64> =
        redis::cmd("PUBLISH").arg(&channel).arg(message).query_async(&mut conn).await;
    if let Err(e) = published {
        tracing::debug!(error = %e, "acknowledgement not published on the live feed");
    }
}

/// The channel a timeline entry's notification went over.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineChannel {
    /// Null when the channel was deleted since.
    id: Option<Uuid>,
    name: Option<String>,
    /// `webhook`, `slack`, …
    kind: String,
}

/// A user named in a timeline entry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineUser {
    id: Uuid,
    email: String,
}

/// One thing that happened to an incident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TimelineEntry {
    at: String,
    /// `incident.opened`, `notification.sent`, `notification.retrying`, `notification.failed`
    /// (final: refused or unusable channel), `notification.dead` (out of attempts, dead-lettered),
    /// `notification.replayed` (an admin replayed it from the dead letters),
    /// `incident.acknowledged`, `incident.resolved`, and other recorded activity by its kind.
    #[serde(rename = "type")]
    kind: String,
    /// The notification (its `webhook-id`), for notification entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_id: Option<Uuid>,
    /// The event it told of (`monitor.down`, `monitor.up`, …), for notification entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<TimelineChannel>,
    /// 1 for the first attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<i32>,
    /// A reminder's number, when the notification is a reminder (alert rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    reminder: Option<i64>,
    /// True when the notification is an escalation (alert rules).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    escalation: bool,
    /// The provider's answer, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<i16>,
    /// Why an attempt failed; for `incident.opened`, the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Who acknowledged or replayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<TimelineUser>,
    /// Details of recorded activity.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Option<Object>)]
    detail: serde_json::Value,
}

impl From<upcheck_store::timeline::Entry> for TimelineEntry {
    fn from(e: upcheck_store::timeline::Entry) -> Self {
        let kind = match (&e.activity, e.kind) {
            (Some(activity), upcheck_store::timeline::EntryKind::Activity) => activity.clone(),
            _ => e.kind.as_str().to_string(),
        };
        let (notification_id, event_type) =
            e.notification.map_or((None, None), |(id, t)| (Some(id), Some(t)));
        Self {
            at: rfc3339(e.at),
            kind,
            notification_id,
            event_type,
            channel: e.channel.map(|c| TimelineChannel { id: c.id, name: c.name, kind: c.kind }),
            attempt: e.attempt,
            reminder: e.reminder,
            escalation: e.escalation,
            http_status: e.http_status,
            error: e.error,
            by: e.actor.map(|(id, email)| TimelineUser { id, email }),
            detail: e.detail,
        }
    }
}

/// An incident and everything that happened to it, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Timeline {
    incident: IncidentView,
    items: Vec<TimelineEntry>,
    /// Whether delivery attempts past the first 2,000 were left out.
    truncated: bool,
}

/// An incident's timeline: opened, each delivery attempt (sent, retrying, failed, dead, with
/// the channel, attempt and the provider's answer), replays, acknowledged (by whom), resolved.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents", params(("id" = Uuid, Path)),
    security(("bearer" = [])), responses((status = 200, body = Timeline), (status = 404, description = "no such incident")))]
#[get("/incidents/{id}/timeline")]
pub(crate) async fn timeline(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let t = upcheck_store::timeline::timeline(&state.read_pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    Ok(HttpResponse::Ok().json(Timeline {
        incident: IncidentView::from(t.incident),
        items: t.entries.into_iter().map(TimelineEntry::from).collect(),
        truncated: t.truncated,
    }))
}
