//! `/metrics` (Prometheus text), served only on the separate `METRICS_BIND_ADDRESS:METRICS_PORT`
//! listener, never on the public `PORT`.

use crate::state::AppState;
use actix_web::{HttpResponse, get, web};

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(metrics);
}

/// Prometheus metrics, text exposition format 0.0.4: requests by route, method and status
/// (count and latency histogram) and Postgres pool usage.
#[get("/metrics")]
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let scrape = upcheck_runtime::metrics::Scrape { pool: Some(state.pool.clone()), ..Default::default() };
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(scrape.render().await)
}
