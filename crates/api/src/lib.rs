//! `upcheck-api`: Upcheck's REST API (actix-web). [`Application::build`] binds its own
//! listeners, the public one and the separate `/metrics` one (port 0 works for both, for
//! tests); the binary's `main` stays thin.

pub mod api_key;
pub mod auth;
pub mod cli;
pub mod error;
mod feed;
pub mod gen_secret;
pub mod json;
pub mod pagination;
pub mod password_gate;
pub mod rate_limit;
mod routes;
pub mod state;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use tokio_util::sync::CancellationToken;
use upcheck_config::Settings;

pub use state::AppState;

/// A bound, not yet running API server: the REST API on `PORT` and `/metrics` on `METRICS_PORT`.
pub struct Application {
    state: web::Data<AppState>,
    port: u16,
    metrics_port: u16,
    server: actix_web::dev::Server,
    metrics_server: actix_web::dev::Server,
}

impl Application {
    /// Binds `BIND_ADDRESS:PORT` (the REST API, `/healthz`, `/readyz`) and
    /// `METRICS_BIND_ADDRESS:METRICS_PORT` (`/metrics` alone) and builds both servers.
    /// Postgres and Redis are connected lazily, so the API starts (and `/readyz` says what is
    /// missing) while they are down.
    ///
    /// # Errors
    /// When the JWT secret is missing or unfit ([`Settings::require_jwt_secret`]), `SECRETS_KEY`
    /// is missing ([`Settings::require_keyring`]), the pool cannot be built, or either port
    /// cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        upcheck_runtime::metrics::install();
        let (address, port) = (settings.bind_address.as_str(), settings.port);
        let listener = TcpListener::bind((address, port))
            .with_context(|| format!("bind {address}:{port} (BIND_ADDRESS:PORT)"))?;
        let port = listener.local_addr()?.port();
        let (address, metrics_port) = (settings.metrics.bind_address.as_str(), settings.metrics.port);
        let metrics_listener = TcpListener::bind((address, metrics_port))
            .with_context(|| format!("bind {address}:{metrics_port} (METRICS_BIND_ADDRESS:METRICS_PORT)"))?;
        let metrics_port = metrics_listener.local_addr()?.port();
        let state = web::Data::new(AppState::new(settings)?);
        let metrics_state = state.clone();
        let app_state = state.clone();
        let metrics_server = HttpServer::new(move || {
            App::new().app_data(metrics_state.clone()).configure(routes::metrics::config)
        })
        .workers(1)
        .disable_signals()
        .listen(metrics_listener)?
        .run();
        let server =
            HttpServer::new(move || {
                App::new()
                    .wrap(actix_web::middleware::from_fn(refuse_nul))
                    .wrap(actix_web::middleware::from_fn(record_metrics))
                    .app_data(state.clone())
                    .app_data(web::PayloadConfig::new(json::MAX_BODY_BYTES))
                    .app_data(web::PathConfig::default().error_handler(|e, _| {
                        error::ApiError::bad("id", format!("not a valid id: {e}")).into()
                    }))
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        error::ApiError::BadRequest { field: None, message: e.to_string() }.into()
                    }))
                    .configure(routes::health::config)
                    .configure(routes::public::config)
                    .service(
                        web::scope("/api/v1")
                            .wrap(actix_web::middleware::from_fn(rate_limit::limit_api))
                            .configure(routes::auth::config)
                            .configure(routes::sessions::config)
                            .configure(routes::api_keys::config)
                            .configure(routes::monitors::config)
                            .configure(routes::monitor_reads::config)
                            .configure(routes::incidents::config)
                            .configure(routes::channels::config)
                            .configure(routes::maintenance_windows::config)
                            .configure(routes::status_pages::config)
                            .configure(routes::secrets::config)
                            .configure(routes::heartbeat::config)
                            .configure(routes::regions::config)
                            .configure(routes::events::config)
                            .configure(routes::admin::config)
                            .configure(routes::admin_users::config)
                            .configure(routes::openapi::config),
                    )
                    .default_service(web::to(no_route))
            })
            .disable_signals()
            .listen(listener)?
            .run();
        Ok(Self { state: app_state, port, metrics_port, server, metrics_server })
    }

    /// The bound public port (`PORT`, or the one picked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound `/metrics` port (`METRICS_PORT`, or the one picked for port 0).
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Serves until `cancel` fires, then ends the live feed's streams, finishes in-flight
    /// requests on both listeners and returns. The live feed's hub subscribes to Redis once the
    /// first stream opens.
    ///
    /// # Errors
    /// Either server's I/O error.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> std::io::Result<()> {
        let (api, metrics) = (self.server.handle(), self.metrics_server.handle());
        let hub = tokio::spawn(feed::hub::run(self.state.get_ref().clone(), cancel.clone()));
        let leases = tokio::spawn(feed::leases::run(self.state.get_ref().clone(), cancel.clone()));
        let streams = self.state.feed.shutdown.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            streams.cancel();
            let _ = hub.await;
            let _ = leases.await;
            futures::join!(api.stop(true), metrics.stop(true));
        });
        let (api, metrics) = tokio::join!(self.server, self.metrics_server);
        api.and(metrics)
    }
}

/// Counts every answered request and its latency by route pattern (`/api/v1/monitors/{id}`,
/// or `unmatched`), method and status.
async fn record_metrics(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let response = next.call(req).await?;
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_string());
    upcheck_runtime::metrics::record_http(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    Ok(response)
}

/// Refuses a request whose path or query string holds a NUL character (`%00`) with a 422
/// naming the query parameter (or `path`): Postgres refuses NUL in `text`, so it must never
/// reach a query. Bodies are checked by [`json::decode`].
async fn refuse_nul(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let found = if req.path().contains("%00") || req.path().contains('\0') {
        Some("path".to_string())
    } else {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map(|(k, _)| k.replace('\0', "\\u0000"))
    };
    match found {
        Some(field) => {
            let response =
                actix_web::ResponseError::error_response(&error::ApiError::invalid(field, json::NUL_MESSAGE));
            Ok(req.into_response(response).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

async fn no_route() -> HttpResponse {
    HttpResponse::NotFound().content_type("application/problem+json").body(
        serde_json::json!({
            "type": "urn:upcheck:problem:no-such-route",
            "title": "Not Found",
            "status": 404,
            "detail": "no such route; see /api/v1/openapi.json",
        })
        .to_string(),
    )
}
