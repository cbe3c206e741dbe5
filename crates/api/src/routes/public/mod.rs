//! What visitors see, without authentication: a published status page as HTML
//! (`/status/{slug}`) and JSON (`/status/{slug}.json`), and badges of the monitors on published
//! pages (`/badge/{public_id}/status.svg`, `/badge/{public_id}/uptime.svg?window=…`).
//!
//! Cost: each page's bodies and each badge's data are built at most once per
//! `STATUS_PAGE_CACHE_SECONDS` per API process ([`cache::TtlCache`]), and answered with
//! `Cache-Control: public, max-age=30` and a strong `ETag` (304 on a matching `If-None-Match`).
//! A status change or acknowledgement reaching this process's live feed hub empties both caches
//! ([`PublicCache::forget_all`]), so a page refreshed on its live event
//! (`/status/{slug}/events`) shows the change at once; status changes are rare next to visits.

mod badge;
pub(crate) mod cache;
mod data;
mod html;

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use upcheck_domain::MonitorStatus;
use upcheck_store::status_pages::public;

use data::PublicPage;

/// What browsers and proxies may keep a page or badge for.
const CACHE_CONTROL: &str = "public, max-age=30";

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(page_json)
        .service(page_events)
        .service(page_html)
        .service(status_badge)
        .service(uptime_badge);
}

/// A page's bodies, rendered once per build.
pub(crate) struct Rendered {
    html: web::Bytes,
    html_etag: String,
    json: web::Bytes,
    json_etag: String,
}

/// A badge's data.
#[derive(Clone, Copy)]
pub(crate) struct BadgeData {
    status: (&'static str, &'static str),
    /// Uptime over 24 h, 7 d, 30 d and 90 d, percent.
    uptime: [Option<f64>; 4],
}

/// The caches of public pages (by slug; `None` for no published page) and badges (by public
/// id), and the page's Content-Security-Policy.
pub(crate) struct PublicCache {
    pages: cache::TtlCache<Option<Arc<Rendered>>>,
    badges: cache::TtlCache<Option<BadgeData>>,
    csp: String,
}

impl PublicCache {
    /// Caches keeping entries for `ttl`.
    pub(crate) fn new(ttl: Duration) -> Self {
        let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()));
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src https: http: data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash(html::STYLE),
            hash(html::SCRIPT)
        );
        Self { pages: cache::TtlCache::new(ttl), badges: cache::TtlCache::new(ttl), csp }
    }

    /// Drops the page at `slug` from this process's cache.
    pub(crate) fn forget_page(&self, slug: &str) {
        self.pages.forget(slug);
    }

    /// Drops every page and badge from this process's cache: a monitor's status changed.
    pub(crate) fn forget_all(&self) {
        self.pages.clear();
        self.badges.clear();
    }

    /// Drops the badge data of `public_id` from this process's cache.
    pub(crate) fn forget_badge(&self, public_id: &str) {
        self.badges.forget(public_id);
    }
}

/// A strong ETag: the first 128 bits of the body's SHA-256, hex.
fn etag(body: &[u8]) -> String {
    let d = Sha256::digest(body);
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` names `etag` (or `*`), compared weakly as RFC 9110 §13.1.2 says.
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag))
}

/// 200 with `body`, or 304 when the client has it already.
fn cached(
    req: &HttpRequest,
    content_type: &str,
    body: web::Bytes,
    etag: &str,
    csp: Option<&str>,
) -> HttpResponse {
    let mut r = if not_modified(req, etag) { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    r.insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::ETAG, etag.to_string()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if let Some(csp) = csp {
        r.insert_header((header::CONTENT_SECURITY_POLICY, csp.to_string()));
    }
    if not_modified(req, etag) {
        return r.finish();
    }
    r.content_type(content_type).body(body)
}

/// The page at `slug`, built at most once per cache interval.
async fn rendered(state: &AppState, slug: &str) -> Result<Option<Arc<Rendered>>, ApiError> {
    let fits = !slug.is_empty()
        && slug.len() <= 64
        && slug.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !fits {
        return Ok(None);
    }
    state
        .public_cache
        .pages
        .get_or_build(slug, || async {
            let Some(page) = data::build(&state.pool, slug).await? else { return Ok(None) };
            let json = web::Bytes::from(serde_json::to_vec(&page).map_err(anyhow::Error::from)?);
            let html = web::Bytes::from(html::render(&page));
            Ok(Some(Arc::new(Rendered { html_etag: etag(&html), html, json_etag: etag(&json), json })))
        })
        .await
}

fn not_found_page() -> HttpResponse {
    let body = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; title { "Status page not found" } }
            body { main { h1 { "Status page not found" } p { "There is no published status page at this address." } } }
        }
    };
    HttpResponse::NotFound()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .content_type("text/html; charset=utf-8")
        .body(body.into_string())
}

/// A published status page as JSON: the same data as its HTML.
#[utoipa::path(get, path = "/status/{slug}.json", tag = "status pages", params(("slug" = String, Path)),
    responses((status = 200, body = PublicPage, headers(("ETag" = String), ("Cache-Control" = String))),
    (status = 304, description = "the `If-None-Match` ETag is current"),
    (status = 404, description = "no published status page has this slug")))]
#[get("/status/{slug:[a-z0-9-]+}.json")]
pub(crate) async fn page_json(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match rendered(&state, &slug).await? {
        Some(r) => Ok(cached(&req, "application/json", r.json.clone(), &r.json_etag, None)),
        None => Err(ApiError::NotFound("status page")),
    }
}

/// A published status page's live feed (Server-Sent Events, no authentication): `status` and
/// `incident` events (opened, resolved) of the page's monitors, with `id:` lines so a reconnect
/// with `Last-Event-ID` replays what it missed (see `GET /events`). No acknowledgements, no
/// check outcomes. The page's script reloads its data on each event. At most
/// `EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS` (20) streams per client address across replicas.
#[utoipa::path(get, path = "/status/{slug}/events", tag = "status pages", params(("slug" = String, Path),
        ("Last-Event-ID" = Option<i64>, Header, description = "the last id received: replay what came after it")),
    responses((status = 200, description = "a `text/event-stream`"),
    (status = 400, description = "a malformed `Last-Event-ID`"),
    (status = 404, description = "no published status page has this slug"),
    (status = 429, description = "EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS streams are open from this address (across every API replica), or EVENTS_MAX_PUBLIC_STREAMS on this API process")))]
#[get("/status/{slug}/events")]
pub(crate) async fn page_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(monitors) = public::published_monitor_ids(&state.pool, &slug).await? else {
        return Err(ApiError::NotFound("status page"));
    };
    crate::feed::public_status_events(&state, &req, monitors).await
}

/// A published status page: server-rendered HTML, no external asset; refreshes itself every
/// 30 s when JavaScript is on.
#[utoipa::path(get, path = "/status/{slug}", tag = "status pages", params(("slug" = String, Path)),
    responses((status = 200, description = "the page (text/html)", headers(("ETag" = String), ("Cache-Control" = String))),
    (status = 304, description = "the `If-None-Match` ETag is current"),
    (status = 404, description = "no published status page has this slug (an HTML page)")))]
#[get("/status/{slug}")]
pub(crate) async fn page_html(
    state: web::Data<AppState>,
    req: HttpRequest,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match rendered(&state, &slug).await? {
        Some(r) => Ok(cached(
            &req,
            "text/html; charset=utf-8",
            r.html.clone(),
            &r.html_etag,
            Some(&state.public_cache.csp),
        )),
        None => Ok(not_found_page()),
    }
}

/// The badge data of `public_id`, built at most once per cache interval; `None` unless the
/// monitor is on a published page.
async fn badge_data(state: &AppState, public_id: &str) -> Result<Option<BadgeData>, ApiError> {
    if public_id.len() != 32 || !public_id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
        return Ok(None);
    }
    state
        .public_cache
        .badges
        .get_or_build(public_id, || async {
            let Some(m) = public::badge_monitor(&state.pool, public_id).await? else { return Ok(None) };
            let now = time::OffsetDateTime::now_utc();
            let windows = [1, 7, 30, 90].map(|days| now - time::Duration::days(days));
            let uptimes = public::uptimes(&state.pool, &[m.monitor_id], &windows, now).await?;
            let exact =
                |i: usize| uptimes.get(&m.monitor_id).and_then(|u| u.get(i)).and_then(|u| u.percent());
            let status = data::status_of(Some(&public::MonitorNow {
                monitor_id: m.monitor_id,
                status: m.status,
                last_outcome: None,
                degraded: m.degraded && m.status == MonitorStatus::Up,
                last_checked_at: None,
            }));
            Ok::<_, ApiError>(Some(BadgeData { status, uptime: [exact(0), exact(1), exact(2), exact(3)] }))
        })
        .await
}

fn svg_response(req: &HttpRequest, svg: String) -> HttpResponse {
    let tag = etag(svg.as_bytes());
    cached(
        req,
        "image/svg+xml",
        web::Bytes::from(svg),
        &tag,
        Some("default-src 'none'; style-src 'unsafe-inline'"),
    )
}

/// A monitor's current status as a badge (`up`, `degraded`, `down`, `pending`, `paused`).
#[utoipa::path(get, path = "/badge/{public_id}/status.svg", tag = "status pages", params(("public_id" = String, Path)),
    responses((status = 200, description = "image/svg+xml"), (status = 304, description = "the `If-None-Match` ETag is current"),
    (status = 404, description = "no monitor with this public id is on a published status page")))]
#[get("/badge/{public_id}/status.svg")]
pub(crate) async fn status_badge(
    state: web::Data<AppState>,
    req: HttpRequest,
    public_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let b = badge_data(&state, &public_id).await?.ok_or(ApiError::NotFound("badge"))?;
    let color = match b.status.0 {
        "up" => badge::GREEN,
        "degraded" => badge::YELLOW,
        "down" => badge::RED,
        _ => badge::GREY,
    };
    Ok(svg_response(&req, badge::svg("status", b.status.0, color)))
}

/// `?window=24h|7d|30d|90d`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WindowQuery {
    /// `24h`, `7d`, `30d` (default) or `90d`.
    window: Option<String>,
}

/// A monitor's uptime over a window as a badge (`99.95%`).
#[utoipa::path(get, path = "/badge/{public_id}/uptime.svg", tag = "status pages", params(("public_id" = String, Path), WindowQuery),
    responses((status = 200, description = "image/svg+xml"), (status = 304, description = "the `If-None-Match` ETag is current"),
    (status = 400, description = "`window` is not 24h, 7d, 30d or 90d"),
    (status = 404, description = "no monitor with this public id is on a published status page")))]
#[get("/badge/{public_id}/uptime.svg")]
pub(crate) async fn uptime_badge(
    state: web::Data<AppState>,
    req: HttpRequest,
    public_id: web::Path<String>,
    q: web::Query<WindowQuery>,
) -> Result<HttpResponse, ApiError> {
    let window = q.window.as_deref().unwrap_or("30d");
    let i = match window {
        "24h" => 0,
        "7d" => 1,
        "30d" => 2,
        "90d" => 3,
        _ => return Err(ApiError::bad("window", "must be 24h, 7d, 30d or 90d")),
    };
    let b = badge_data(&state, &public_id).await?.ok_or(ApiError::NotFound("badge"))?;
    let p = b.uptime[i];
    let message = p.map_or_else(|| "no data".to_string(), badge::percent);
    Ok(svg_response(&req, badge::svg(&format!("uptime {window}"), &message, badge::uptime_color(p))))
}
