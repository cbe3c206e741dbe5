//! Maintenance windows: one-off or recurring (RFC 5545 RRULE in an IANA time zone) periods in
//! which the caller's listed monitors are checked as usual but open no incident and alert no one.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::{rfc3339, validate_name};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upcheck_domain::maintenance::{Occurrence, Recurrence, WindowSchedule, one_off, parse_dtstart};
use upcheck_store::maintenance::{MaintenanceWindow, WindowSpec};
use utoipa::ToSchema;
use uuid::Uuid;

/// Most monitors one window lists.
const MAX_MONITORS: usize = 1_000;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

/// A window to create, or the fields a PATCH replaces. One-off: `starts_at` and `ends_at`.
/// Recurring: `rrule`, `dtstart`, `duration_minutes` and `timezone`. Not both.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Sunday deploys", "monitor_ids": ["0190b1c2-7d4e-7a3b-9c2d-1e2f3a4b5c6d"],
    "rrule": "FREQ=WEEKLY;BYDAY=SU", "dtstart": "2026-03-01T02:00:00", "duration_minutes": 120, "timezone": "Europe/Berlin"}))]
pub(crate) struct WindowBody {
    /// 1 to 200 characters (required on creation).
    name: Option<String>,
    /// The caller's monitors it covers, 1 to 1,000 (required on creation).
    monitor_ids: Option<Vec<Uuid>>,
    /// One-off: RFC 3339 start.
    starts_at: Option<String>,
    /// One-off: RFC 3339 end, after `starts_at`.
    ends_at: Option<String>,
    /// Recurring: an RFC 5545 RRULE value (`FREQ=WEEKLY;BYDAY=SU`), hourly or coarser.
    rrule: Option<String>,
    /// Recurring: the first occurrence's local start in `timezone`, without offset (`2026-03-01T02:00:00`).
    dtstart: Option<String>,
    /// Recurring: each occurrence's length, 1 to 10,080 minutes.
    duration_minutes: Option<i64>,
    /// Recurring: an IANA time zone name (`Europe/Berlin`); occurrences follow its clock changes.
    timezone: Option<String>,
}

/// One occurrence of a window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OccurrenceView {
    starts_at: String,
    ends_at: String,
}

impl From<Occurrence> for OccurrenceView {
    fn from(o: Occurrence) -> Self {
        Self { starts_at: rfc3339(o.starts_at), ends_at: rfc3339(o.ends_at) }
    }
}

/// A maintenance window, with whether it is on now and its next occurrence.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WindowView {
    id: Uuid,
    name: String,
    monitor_ids: Vec<Uuid>,
    /// `one_off` or `recurring`.
    kind: &'static str,
    starts_at: Option<String>,
    ends_at: Option<String>,
    rrule: Option<String>,
    dtstart: Option<String>,
    duration_minutes: Option<u32>,
    timezone: Option<String>,
    /// Whether an occurrence covers the current instant.
    active: bool,
    /// The occurrence on now, if any.
    current: Option<OccurrenceView>,
    /// The next occurrence starting after now, if any.
    next_occurrence: Option<OccurrenceView>,
    created_at: String,
    updated_at: String,
}

fn view(w: MaintenanceWindow, now: OffsetDateTime) -> WindowView {
    let current = w.schedule.active_at(now);
    let next = w.schedule.next_after(now);
    let (kind, starts_at, ends_at, rrule, dtstart, duration_minutes, timezone) = match &w.schedule {
        WindowSchedule::OneOff(o) => {
            ("one_off", Some(rfc3339(o.starts_at)), Some(rfc3339(o.ends_at)), None, None, None, None)
        }
        WindowSchedule::Recurring(r) => (
            "recurring",
            None,
            None,
            Some(r.rrule().to_string()),
            Some(local(r.dtstart())),
            Some(r.duration_minutes()),
            Some(r.timezone().to_string()),
        ),
    };
    WindowView {
        id: w.id,
        name: w.name,
        monitor_ids: w.monitor_ids,
        kind,
        starts_at,
        ends_at,
        rrule,
        dtstart,
        duration_minutes,
        timezone,
        active: current.is_some(),
        current: current.map(Into::into),
        next_occurrence: next.map(Into::into),
        created_at: rfc3339(w.created_at),
        updated_at: rfc3339(w.updated_at),
    }
}

fn local(t: time::PrimitiveDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

fn instant(field: &str, v: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(v.trim(), &Rfc3339)
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time"))
}

/// The schedule `b` gives, its missing fields taken from `current` when it is of the same kind.
fn schedule(b: &WindowBody, current: Option<&WindowSchedule>) -> Result<WindowSchedule, ApiError> {
    let one_off_given = b.starts_at.is_some() || b.ends_at.is_some();
    let recurring = [
        ("rrule", b.rrule.is_some()),
        ("dtstart", b.dtstart.is_some()),
        ("duration_minutes", b.duration_minutes.is_some()),
        ("timezone", b.timezone.is_some()),
    ];
    let recurring_given = recurring.iter().find(|(_, given)| *given).map(|(f, _)| *f);
    match (one_off_given, recurring_given, current) {
        (true, Some(field), _) => Err(ApiError::invalid(
            field,
            "a window is one-off (starts_at, ends_at) or recurring (rrule, dtstart, duration_minutes, timezone), not both",
        )),
        (false, None, Some(current)) => Ok(current.clone()),
        (false, None, None) => Err(ApiError::invalid(
            "starts_at",
            "required: give starts_at and ends_at, or rrule, dtstart, duration_minutes and timezone",
        )),
        (true, None, current) => {
            let was = match current {
                Some(WindowSchedule::OneOff(o)) => Some(*o),
                _ => None,
            };
            let starts_at = match &b.starts_at {
                Some(v) => instant("starts_at", v)?,
                None => was.map(|o| o.starts_at).ok_or_else(|| ApiError::invalid("starts_at", "required"))?,
            };
            let ends_at = match &b.ends_at {
                Some(v) => instant("ends_at", v)?,
                None => was.map(|o| o.ends_at).ok_or_else(|| ApiError::invalid("ends_at", "required"))?,
            };
            Ok(one_off(starts_at, ends_at)?)
        }
        (false, Some(_), current) => {
            let was = match current {
                Some(WindowSchedule::Recurring(r)) => Some(r),
                _ => None,
            };
            let required = |f: &str| ApiError::invalid(f, "required for a recurring window");
            let rrule = b
                .rrule
                .clone()
                .or_else(|| was.map(|r| r.rrule().to_string()))
                .ok_or_else(|| required("rrule"))?;
            let dtstart = match &b.dtstart {
                Some(v) => parse_dtstart(v.trim())?,
                None => was.map(|r| r.dtstart()).ok_or_else(|| required("dtstart"))?,
            };
            let minutes = b
                .duration_minutes
                .or_else(|| was.map(|r| i64::from(r.duration_minutes())))
                .ok_or_else(|| required("duration_minutes"))?;
            let tz = b
                .timezone
                .clone()
                .or_else(|| was.map(|r| r.timezone().to_string()))
                .ok_or_else(|| required("timezone"))?;
            Ok(WindowSchedule::Recurring(Box::new(Recurrence::new(&rrule, dtstart, minutes, tz.trim())?)))
        }
    }
}

/// The caller's own monitors among `ids`, deduplicated; another user's (or no) monitor is a
/// 422 naming `monitor_ids[i]`, as a channel id is for monitors.
async fn monitors(state: &AppState, owner: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_MONITORS {
        return Err(ApiError::invalid("monitor_ids", format!("must list 1 to {MAX_MONITORS} monitors")));
    }
    let foreign = upcheck_store::maintenance::foreign_monitors(&state.pool, owner, ids).await?;
    if let Some(&i) = foreign.first() {
        return Err(ApiError::invalid(format!("monitor_ids[{i}]"), format!("no monitor {}", ids[i])));
    }
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Creates a maintenance window.
#[utoipa::path(post, path = "/api/v1/maintenance-windows", tag = "maintenance", request_body = WindowBody, security(("bearer" = [])),
    responses((status = 201, body = WindowView), (status = 422, description = "a field is invalid, named in `errors`")))]
#[post("/maintenance-windows")]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: ValidJson<WindowBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let name = validate_name(b.name.as_deref().ok_or_else(|| ApiError::invalid("name", "required"))?)?;
    let ids = b.monitor_ids.as_deref().ok_or_else(|| ApiError::invalid("monitor_ids", "required"))?;
    let schedule = schedule(&b, None)?;
    let monitor_ids = monitors(&state, caller.id, ids).await?;
    let w = upcheck_store::maintenance::create(
        &state.pool,
        caller.id,
        &WindowSpec { name, schedule, monitor_ids },
    )
    .await?;
    Ok(HttpResponse::Created().json(view(w, OffsetDateTime::now_utc())))
}

/// The caller's maintenance windows, oldest first, each with `active` and `next_occurrence`.
#[utoipa::path(get, path = "/api/v1/maintenance-windows", tag = "maintenance", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = WindowPage)))]
#[get("/maintenance-windows")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = uuid_cursor(page.cursor()?)?;
    let mut items = upcheck_store::maintenance::list(&state.read_pool, caller.id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |w| w.id.to_string());
    let now = OffsetDateTime::now_utc();
    Ok(HttpResponse::Ok()
        .json(WindowPage { items: items.into_iter().map(|w| view(w, now)).collect(), next_cursor }))
}

/// A page of maintenance windows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WindowPage {
    items: Vec<WindowView>,
    next_cursor: Option<String>,
}

/// One maintenance window.
#[utoipa::path(get, path = "/api/v1/maintenance-windows/{id}", tag = "maintenance", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = WindowView), (status = 404, description = "no such window")))]
#[get("/maintenance-windows/{id}")]
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let w = upcheck_store::maintenance::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("maintenance window"))?;
    Ok(HttpResponse::Ok().json(view(w, OffsetDateTime::now_utc())))
}

/// Changes a maintenance window: the fields given replace the stored ones (a schedule of the
/// other kind must be given whole).
#[utoipa::path(patch, path = "/api/v1/maintenance-windows/{id}", tag = "maintenance", params(("id" = Uuid, Path)), request_body = WindowBody,
    security(("bearer" = [])), responses((status = 200, body = WindowView), (status = 404, description = "no such window"),
    (status = 422, description = "a field is invalid, named in `errors`")))]
#[patch("/maintenance-windows/{id}")]
pub(crate) async fn update(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    body: ValidJson<WindowBody>,
) -> Result<HttpResponse, ApiError> {
    let current = upcheck_store::maintenance::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("maintenance window"))?;
    let b = body.0;
    let name = validate_name(b.name.as_deref().unwrap_or(&current.name))?;
    let schedule = schedule(&b, Some(&current.schedule))?;
    let monitor_ids = match &b.monitor_ids {
        Some(ids) => monitors(&state, caller.id, ids).await?,
        None => current.monitor_ids,
    };
    let w = upcheck_store::maintenance::update(
        &state.pool,
        caller.id,
        *id,
        &WindowSpec { name, schedule, monitor_ids },
    )
    .await?
    .ok_or(ApiError::NotFound("maintenance window"))?;
    Ok(HttpResponse::Ok().json(view(w, OffsetDateTime::now_utc())))
}

/// Deletes a maintenance window. An outage it was holding opens its incident at the
/// status-change worker's next step.
#[utoipa::path(delete, path = "/api/v1/maintenance-windows/{id}", tag = "maintenance", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such window")))]
#[delete("/maintenance-windows/{id}")]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if !upcheck_store::maintenance::delete(&state.pool, caller.id, *id).await? {
        return Err(ApiError::NotFound("maintenance window"));
    }
    Ok(HttpResponse::NoContent().finish())
}
