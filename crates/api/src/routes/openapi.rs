//! The OpenAPI 3.1 document, generated from the handlers, at `/api/v1/openapi.json`, and
//! interactive docs (Swagger UI) at `/api/v1/docs/`. Swagger UI's files are compiled into the
//! binary from the `utoipa-swagger-ui-vendored` crate (no CDN, no build-time download), so the
//! docs work on a machine with no internet.

use crate::routes::{
    admin, admin_users, api_keys, auth, channels, events, health, heartbeat, incidents, maintenance_windows,
    monitor_reads, monitors, public, regions, secrets, sessions, status_pages,
};
use actix_web::{HttpResponse, get, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    let ui = utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"])
        // Swagger UI would otherwise fetch a validity badge from an outside validator.
        .validator_url("none")
        .persist_authorization(true);
    cfg.service(document)
        .service(web::resource("/docs").route(web::get().to(docs_redirect)))
        .service(utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(ui));
}

/// `/api/v1/docs` → `/api/v1/docs/` (Swagger UI's files are relative to the slash).
async fn docs_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently().insert_header(("location", "/api/v1/docs/")).finish()
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or API key")
                    .description(Some(
                        "An access token from /api/v1/auth/login (a JWT), or an API key (`upk_…`) from \
                         /api/v1/api-keys. A key is held to its scopes: `read` allows GET and HEAD, `write` \
                         every method on the owner's resources, `admin` the /api/v1/admin routes (while the \
                         owner is an admin); a request outside them is 403 naming the missing scope. An \
                         unknown, deleted or expired key, or a disabled user's credential, is 401.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the 429 every rate-limited route may answer (see `crate::rate_limit`): every
/// `/api/v1` route but the document itself, and the heartbeat pings. An RFC 9457 problem whose
/// `limit` names the setting, with `Retry-After` (seconds, RFC 9110 §10.2.3).
struct RateLimited;

impl utoipa::Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type};
        let problem = ObjectBuilder::new()
            .property("type", ObjectBuilder::new().schema_type(Type::String))
            .property("title", ObjectBuilder::new().schema_type(Type::String))
            .property("status", ObjectBuilder::new().schema_type(Type::Integer))
            .property("detail", ObjectBuilder::new().schema_type(Type::String))
            .property("limit", ObjectBuilder::new().schema_type(Type::String))
            .required("type")
            .required("status");
        let response = ResponseBuilder::new()
            .description(
                "rate limited (RATE_LIMIT_*_PER_MINUTE, shared by every API replica): a problem whose `limit` \
                 names the setting; try again after `Retry-After` seconds",
            )
            .header("Retry-After", HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::Integer)).build())
            .content("application/problem+json", ContentBuilder::new().schema(Some(problem)).build())
            .build();
        for (path, item) in &mut openapi.paths.paths {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
            ];
            for op in operations.into_iter().flatten() {
                op.responses.responses.entry("429".into()).or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// Upcheck's REST API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Upcheck API", description = "Uptime monitoring: monitors, checks, incidents, channels. Errors are RFC 9457 application/problem+json."),
    paths(
        health::healthz, health::readyz,
        auth::signup, auth::login, auth::refresh, auth::me, sessions::logout, sessions::logout_all,
        api_keys::create, api_keys::list, api_keys::get_one, api_keys::remove,
        monitors::create, monitors::list, monitors::get_one, monitors::update, monitors::remove,
        monitors::pause, monitors::resume,
        monitor_reads::checks, monitor_reads::stats, monitor_reads::incidents, monitor_reads::notifications,
        incidents::list, incidents::get_one, incidents::acknowledge, incidents::timeline,
        channels::create, channels::list, channels::get_one, channels::update, channels::remove, channels::test,
        maintenance_windows::create, maintenance_windows::list, maintenance_windows::get_one,
        maintenance_windows::update, maintenance_windows::remove,
        status_pages::create, status_pages::list, status_pages::get_one, status_pages::update, status_pages::remove,
        public::page_html, public::page_json, public::page_events, public::status_badge, public::uptime_badge,
        secrets::rotate_secret,
        heartbeat::ping_get, heartbeat::ping_post, heartbeat::ping_action,
        regions::list,
        events::events,
        admin::list, admin::replay_one, admin::replay_many, admin::discard,
        admin_users::list, admin_users::disable, admin_users::enable,
        document,
    ),
    components(schemas(channels::ChannelConfigDoc)),
    modifiers(&BearerAuth, &RateLimited)
)]
pub(crate) struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 JSON")))]
#[get("/openapi.json")]
pub(crate) async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
