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
    cfg.service(list).service(get_one).service(acknowledge);
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
    resolved_at: Option<String>,
    /// The failing check's error.
    cause: Option<String>,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> Self {
        Self {
            id: i.id,
            monitor_id: i.monitor_id,
            state: i.state.as_str().into(),
            opened_at: rfc3339(i.opened_at),
            acknowledged_at: i.acknowledged_at.map(rfc3339),
            resolved_at: i.resolved_at.map(rfc3339),
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
        upcheck_store::reads::incidents(&state.pool, caller.id, None, wanted, before, limit + 1).await?;
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
    let i = upcheck_store::reads::acknowledge(&state.pool, caller.id, *id, caller.id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    // The timers re-check the acknowledgement when due; this settles them in the record.
    upcheck_store::timers::cancel_on_acknowledge(&state.pool, i.id).await?;
    Ok(HttpResponse::Ok().json(IncidentView::from(i)))
}
