//! Status pages, managed by their owners: `slug`, `title`, `description`, `logo_url`,
//! `published` and ordered sections of the owner's monitors under public display names. What
//! visitors see is served by [`crate::routes::public`].

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Deserializer, Serialize};
use upcheck_store::status_pages::{EntrySpec, PageSpec, SectionSpec, StatusPage};
use utoipa::ToSchema;
use uuid::Uuid;

/// Most sections one page has.
const MAX_SECTIONS: usize = 20;
/// Most monitors one page lists, over all its sections: a page build reads them in one query each.
const MAX_MONITORS: usize = 100;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(update).service(remove);
}

/// A page to create, or the fields a PATCH replaces (`sections` is replaced whole).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"slug": "acme", "title": "Acme status", "description": "Our public services.",
    "logo_url": "https://acme.example/logo.png", "published": true,
    "sections": [{"name": "Core", "monitors": [{"monitor_id": "0190b1c2-7d4e-7a3b-9c2d-1e2f3a4b5c6d", "display_name": "API"}]}]}))]
pub(crate) struct PageBody {
    /// The public path segment (`/status/{slug}`): lower-case letters, digits and inner hyphens,
    /// 1 to 64 characters, unique over all users (required on creation).
    slug: Option<String>,
    /// 1 to 200 characters (required on creation).
    title: Option<String>,
    /// Up to 2,000 characters; line breaks allowed.
    description: Option<String>,
    /// An `https://` (or `http://`) image URL, up to 2,048 characters; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    logo_url: Option<Option<String>>,
    /// Whether visitors can see it (default false).
    published: Option<bool>,
    /// Up to 20 sections, in display order, listing at most 100 monitors in all.
    sections: Option<Vec<SectionBody>>,
}

/// A field that may be given as `null`: `Some(None)`, unlike a missing one (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// One section of a page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SectionBody {
    /// Heading, 1 to 100 characters.
    name: String,
    /// The caller's monitors, in display order; each at most once per page.
    monitors: Vec<EntryBody>,
}

/// One monitor in a section.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryBody {
    /// One of the caller's monitors.
    monitor_id: Uuid,
    /// The name visitors see, 1 to 100 characters (the monitor's own name stays private).
    display_name: String,
}

/// A status page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageView {
    id: Uuid,
    slug: String,
    title: String,
    description: String,
    logo_url: Option<String>,
    published: bool,
    /// The public page's path: `/status/{slug}` (JSON at `/status/{slug}.json`).
    url: String,
    sections: Vec<SectionView>,
    created_at: String,
    updated_at: String,
}

/// A section of a page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SectionView {
    name: String,
    monitors: Vec<EntryView>,
}

/// A monitor on a page, with its badges.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EntryView {
    monitor_id: Uuid,
    display_name: String,
    /// The monitor's public id: random, stable, unrelated to `monitor_id`.
    public_id: String,
    /// `/badge/{public_id}/status.svg` (served while the monitor is on a published page).
    status_badge: String,
    /// `/badge/{public_id}/uptime.svg?window=30d` (`24h`, `7d`, `30d` or `90d`).
    uptime_badge: String,
}

fn view(p: StatusPage) -> PageView {
    PageView {
        id: p.id,
        url: format!("/status/{}", p.slug),
        slug: p.slug,
        title: p.title,
        description: p.description,
        logo_url: p.logo_url,
        published: p.published,
        sections: p
            .sections
            .into_iter()
            .map(|s| SectionView {
                name: s.name,
                monitors: s
                    .monitors
                    .into_iter()
                    .map(|e| EntryView {
                        status_badge: format!("/badge/{}/status.svg", e.public_id),
                        uptime_badge: format!("/badge/{}/uptime.svg?window=30d", e.public_id),
                        monitor_id: e.monitor_id,
                        display_name: e.display_name,
                        public_id: e.public_id,
                    })
                    .collect(),
            })
            .collect(),
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    }
}

/// Whether `c` is a bidirectional-text control (Unicode's Bidi_Control: LRM, RLM, ALM, the
/// embeddings, overrides and isolates), which can make text read otherwise than it is stored.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `value` trimmed, `min..=max` characters long, with no control or bidi characters (line
/// breaks allowed when `multiline`).
///
/// # Errors
/// 422 naming `field`.
pub(crate) fn text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, ApiError> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid(field, format!("must be {min} to {max} characters")));
    }
    let bad = |c: char| {
        (c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t'))) || is_bidi_control(c)
    };
    if v.chars().any(bad) {
        return Err(ApiError::invalid(
            field,
            "must not contain control or bidirectional-override characters",
        ));
    }
    Ok(v.to_string())
}

/// A slug: `^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`.
fn slug(v: &str) -> Result<String, ApiError> {
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = v.as_bytes();
    let fits = !b.is_empty()
        && b.len() <= 64
        && ok(b[0])
        && ok(b[b.len() - 1])
        && b.iter().all(|&c| ok(c) || c == b'-');
    if !fits {
        return Err(ApiError::invalid(
            "slug",
            "must be 1 to 64 lower-case letters, digits and hyphens, starting and ending with a letter or digit",
        ));
    }
    Ok(v.to_string())
}

/// A logo URL: absolute `https` or `http`, with a host, no credentials, at most 2,048 characters.
fn logo_url(v: &str) -> Result<String, ApiError> {
    let invalid =
        || ApiError::invalid("logo_url", "must be an https:// (or http://) URL of at most 2,048 characters");
    if v.len() > 2_048 || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid());
    }
    let u = url::Url::parse(v).map_err(|_| invalid())?;
    if !matches!(u.scheme(), "https" | "http")
        || u.host().is_none()
        || !u.username().is_empty()
        || u.password().is_some()
    {
        return Err(invalid());
    }
    Ok(u.to_string())
}

/// The sections as stored: names and display names checked, the monitors the caller's own and
/// listed once.
async fn sections(
    state: &AppState,
    owner: Uuid,
    given: &[SectionBody],
) -> Result<Vec<SectionSpec>, ApiError> {
    if given.len() > MAX_SECTIONS {
        return Err(ApiError::invalid("sections", format!("at most {MAX_SECTIONS} sections")));
    }
    let mut ids = Vec::new();
    let mut at = Vec::new();
    let mut out = Vec::with_capacity(given.len());
    for (i, s) in given.iter().enumerate() {
        let name = text(&format!("sections[{i}].name"), &s.name, 1, 100, false)?;
        let mut monitors = Vec::with_capacity(s.monitors.len());
        for (j, e) in s.monitors.iter().enumerate() {
            let display_name =
                text(&format!("sections[{i}].monitors[{j}].display_name"), &e.display_name, 1, 100, false)?;
            if ids.contains(&e.monitor_id) {
                return Err(ApiError::invalid(
                    format!("sections[{i}].monitors[{j}].monitor_id"),
                    "this monitor is already on the page",
                ));
            }
            ids.push(e.monitor_id);
            at.push((i, j));
            monitors.push(EntrySpec { monitor_id: e.monitor_id, display_name });
        }
        out.push(SectionSpec { name, monitors });
    }
    if ids.len() > MAX_MONITORS {
        return Err(ApiError::invalid("sections", format!("at most {MAX_MONITORS} monitors on one page")));
    }
    let foreign = upcheck_store::maintenance::foreign_monitors(&state.pool, owner, &ids).await?;
    if let Some(&k) = foreign.first() {
        let (i, j) = at[k];
        return Err(ApiError::invalid(
            format!("sections[{i}].monitors[{j}].monitor_id"),
            format!("no monitor {}", ids[k]),
        ));
    }
    Ok(out)
}

/// The stored page `b` describes, its missing fields taken from `current`.
async fn spec(
    state: &AppState,
    owner: Uuid,
    b: &PageBody,
    current: Option<&StatusPage>,
) -> Result<PageSpec, ApiError> {
    let required = |f: &str| ApiError::invalid(f, "required");
    let slug = match (&b.slug, current) {
        (Some(s), _) => slug(s)?,
        (None, Some(c)) => c.slug.clone(),
        (None, None) => return Err(required("slug")),
    };
    let title = match (&b.title, current) {
        (Some(t), _) => text("title", t, 1, 200, false)?,
        (None, Some(c)) => c.title.clone(),
        (None, None) => return Err(required("title")),
    };
    let description = match (&b.description, current) {
        (Some(d), _) => text("description", d, 0, 2_000, true)?,
        (None, Some(c)) => c.description.clone(),
        (None, None) => String::new(),
    };
    let logo_url = match (&b.logo_url, current) {
        (Some(Some(u)), _) => Some(logo_url(u)?),
        (Some(None), _) | (None, None) => None,
        (None, Some(c)) => c.logo_url.clone(),
    };
    let published = b.published.or(current.map(|c| c.published)).unwrap_or(false);
    let sections = match (&b.sections, current) {
        (Some(s), _) => sections(state, owner, s).await?,
        (None, Some(c)) => c
            .sections
            .iter()
            .map(|s| SectionSpec {
                name: s.name.clone(),
                monitors: s
                    .monitors
                    .iter()
                    .map(|e| EntrySpec { monitor_id: e.monitor_id, display_name: e.display_name.clone() })
                    .collect(),
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    Ok(PageSpec { slug, title, description, logo_url, published, sections })
}

/// A taken slug (unique in Postgres) as a 422 naming `slug`.
fn slug_taken(e: upcheck_store::StoreError) -> ApiError {
    if e.is_unique_violation() {
        ApiError::invalid("slug", "is taken by another status page")
    } else {
        e.into()
    }
}

/// Drops what visitors are served of `page` from this process's cache (its slug, its badges).
fn forget(state: &AppState, page: &StatusPage) {
    state.public_cache.forget_page(&page.slug);
    for e in page.sections.iter().flat_map(|s| &s.monitors) {
        state.public_cache.forget_badge(&e.public_id);
    }
}

/// Creates a status page.
#[utoipa::path(post, path = "/api/v1/status-pages", tag = "status pages", request_body = PageBody, security(("bearer" = [])),
    responses((status = 201, body = PageView), (status = 422, description = "a field is invalid, named in `errors` (a taken slug, another user's monitor)")))]
#[post("/status-pages")]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: ValidJson<PageBody>,
) -> Result<HttpResponse, ApiError> {
    let spec = spec(&state, caller.id, &body.0, None).await?;
    let p = upcheck_store::status_pages::create(&state.pool, caller.id, &spec).await.map_err(slug_taken)?;
    forget(&state, &p);
    Ok(HttpResponse::Created().json(view(p)))
}

/// The caller's status pages, oldest first.
#[utoipa::path(get, path = "/api/v1/status-pages", tag = "status pages", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = PageList)))]
#[get("/status-pages")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = uuid_cursor(page.cursor()?)?;
    let mut items = upcheck_store::status_pages::list(&state.read_pool, caller.id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |p| p.id.to_string());
    Ok(HttpResponse::Ok().json(PageList { items: items.into_iter().map(view).collect(), next_cursor }))
}

/// A page of status pages.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageList {
    items: Vec<PageView>,
    next_cursor: Option<String>,
}

/// One status page.
#[utoipa::path(get, path = "/api/v1/status-pages/{id}", tag = "status pages", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = PageView), (status = 404, description = "no such status page")))]
#[get("/status-pages/{id}")]
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = upcheck_store::status_pages::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("status page"))?;
    Ok(HttpResponse::Ok().json(view(p)))
}

/// Changes a status page: the fields given replace the stored ones (`sections` whole).
#[utoipa::path(patch, path = "/api/v1/status-pages/{id}", tag = "status pages", params(("id" = Uuid, Path)), request_body = PageBody,
    security(("bearer" = [])), responses((status = 200, body = PageView), (status = 404, description = "no such status page"),
    (status = 422, description = "a field is invalid, named in `errors`")))]
#[patch("/status-pages/{id}")]
pub(crate) async fn update(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    body: ValidJson<PageBody>,
) -> Result<HttpResponse, ApiError> {
    let current = upcheck_store::status_pages::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("status page"))?;
    let spec = spec(&state, caller.id, &body.0, Some(&current)).await?;
    let p = upcheck_store::status_pages::update(&state.pool, caller.id, *id, &spec)
        .await
        .map_err(slug_taken)?
        .ok_or(ApiError::NotFound("status page"))?;
    forget(&state, &current);
    forget(&state, &p);
    Ok(HttpResponse::Ok().json(view(p)))
}

/// Deletes a status page; its monitors' badges stop being served unless another published page
/// lists them.
#[utoipa::path(delete, path = "/api/v1/status-pages/{id}", tag = "status pages", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such status page")))]
#[delete("/status-pages/{id}")]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let current = upcheck_store::status_pages::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("status page"))?;
    if upcheck_store::status_pages::delete(&state.pool, caller.id, *id).await?.is_none() {
        return Err(ApiError::NotFound("status page"));
    }
    forget(&state, &current);
    Ok(HttpResponse::NoContent().finish())
}
