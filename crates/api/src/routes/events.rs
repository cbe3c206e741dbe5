//! `GET /api/v1/events`: the caller's live feed as Server-Sent Events (see [`crate::feed`]).

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::feed::stream::{Audience, EventStream, last_event_id};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(events);
}

/// The feed's query.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct EventsQuery {
    /// `true` adds each check's outcome (`event: check`, live only, never replayed).
    checks: Option<String>,
}

/// The caller's live feed (`text/event-stream`): `event: status` for each applied status
/// event of their monitors (`id:` is its `seq`), `event: incident` when one opens, is
/// acknowledged or resolves, and with `?checks=true` `event: check` per check (no `id:`). A
/// client reconnecting with `Last-Event-ID` is first sent what it missed (at most
/// `EVENTS_REPLAY_LIMIT` events, oldest first; then `event: reset` if more were missed). A
/// `: keep-alive` comment comes every `EVENTS_KEEP_ALIVE_SECONDS` (15) when idle. At most
/// `EVENTS_MAX_STREAMS_PER_USER` (5) open streams per user across every API replica: one more is a
/// 429.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "The last `id:` received: replay what came after it")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An endless text/event-stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "malformed Last-Event-ID or checks"),
        (status = 401, description = "no or bad token"),
        (status = 429, description = "EVENTS_MAX_STREAMS_PER_USER streams are open already (across every API replica)"),
        (status = 503, description = "database unavailable")))]
#[get("/events")]
pub(crate) async fn events(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let checks = match q.checks.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad("checks", "must be true or false")),
    };
    let last = last_event_id(&req)?;
    let slot = crate::feed::open_slot(&state, crate::feed::Holder::User(caller.id), checks).await?;
    if checks {
        // At once, not at the hub's next refresh: the monitoring worker starts publishing.
        let key = crate::feed::hub::checks_listeners_key(&state);
        crate::feed::hub::refresh_checks_key(&state, &key).await;
    }
    let audience = Audience::Owner { id: caller.id, checks };
    Ok(EventStream::open(&state, audience, last, slot).await?.into_response())
}
