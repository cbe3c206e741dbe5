//! `upcheck-api`: Upcheck's REST API (actix-web). [`Application::build`] binds its own
//! listener (port 0 works, for tests); the binary's `main` stays thin.

pub mod auth;
pub mod error;
pub mod json;
pub mod pagination;
mod routes;
pub mod state;

use actix_web::{App, HttpResponse, HttpServer, web};
use std::net::TcpListener;
use tokio_util::sync::CancellationToken;
use upcheck_config::Settings;

pub use state::AppState;

/// A bound, not yet running API server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    /// Binds `BIND_ADDRESS:PORT` and builds the server. Postgres and Redis are connected lazily,
    /// so the API starts (and `/readyz` says what is missing) while they are down.
    ///
    /// # Errors
    /// When `JWT_SECRET` is missing, the pool cannot be built, or the port cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        upcheck_runtime::metrics::install();
        let listener = TcpListener::bind((settings.bind_address.as_str(), settings.port))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState::new(settings)?);
        let server =
            HttpServer::new(move || {
                App::new()
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
                    .service(
                        web::scope("/api/v1")
                            .configure(routes::auth::config)
                            .configure(routes::monitors::config)
                            .configure(routes::monitor_reads::config)
                            .configure(routes::incidents::config)
                            .configure(routes::channels::config)
                            .configure(routes::openapi::config),
                    )
                    .default_service(web::to(no_route))
            })
            .disable_signals()
            .listen(listener)?
            .run();
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `cancel` fires, then finishes in-flight requests and returns.
    ///
    /// # Errors
    /// The server's I/O error.
    pub async fn run_until_stopped(self, cancel: CancellationToken) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(async move {
            cancel.cancelled().await;
            handle.stop(true).await;
        });
        self.server.await
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
