//! `/healthz` (alive), `/readyz` (Postgres and Redis answer) and `/metrics` (Prometheus), outside
//! `/api/v1`.

use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde_json::json;
use std::time::Duration;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Prometheus metrics, text exposition format 0.0.4: requests by route, method and status
/// (count and latency histogram) and Postgres pool usage.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let scrape = upcheck_runtime::metrics::Scrape { pool: Some(state.pool.clone()), ..Default::default() };
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(scrape.render().await)
}

/// Readiness: 200 when Postgres and Redis both answer within 2 s; else 503 naming which fails.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready"), (status = 503, description = "a dependency is down")))]
#[get("/readyz")]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pg = match tokio::time::timeout(Duration::from_secs(2), upcheck_store::ping(&state.pool)).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out after 2000 ms".to_string(),
    };
    let redis = match state.redis().await {
        Ok(mut conn) => {
            match tokio::time::timeout(
                Duration::from_secs(2),
                redis::cmd("PING").query_async::<String>(&mut conn),
            )
            .await
            {
                Ok(Ok(_)) => "ok".to_string(),
                Ok(Err(e)) => format!("error: {e}"),
                Err(_) => "error: timed out after 2000 ms".to_string(),
            }
        }
        Err(e) => format!("error: {e}"),
    };
    let body = json!({"postgres": pg, "redis": redis});
    if pg == "ok" && redis == "ok" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
