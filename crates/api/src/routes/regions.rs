//! The monitoring regions: those whose replicas reported in the last five minutes. A monitor
//! that lists no regions is probed from each of them.

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

/// One active region.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegionView {
    /// The region's name (a monitoring replica's `REGION`).
    name: String,
    /// When a replica of it last reported (RFC 3339).
    last_seen_at: String,
}

/// The regions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegionList {
    items: Vec<RegionView>,
}

/// The monitoring regions active in the last five minutes, by name.
#[utoipa::path(get, path = "/api/v1/regions", tag = "monitors", security(("bearer" = [])),
    responses((status = 200, body = RegionList), (status = 503, description = "Redis unavailable")))]
#[get("/regions")]
pub(crate) async fn list(state: web::Data<AppState>, _caller: AuthUser) -> Result<HttpResponse, ApiError> {
    let conn = state.redis().await?;
    let keys = upcheck_streams::Keys::new(&state.settings);
    let active = upcheck_streams::regions::active(&conn, &keys, upcheck_domain::clock::now_ms())
        .await
        .map_err(|_| ApiError::Unavailable("redis"))?;
    let items = active
        .into_iter()
        .map(|(name, at)| RegionView {
            name,
            last_seen_at: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
                .map(rfc3339)
                .unwrap_or_default(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(RegionList { items }))
}
