//! `/healthz` (alive) and `/readyz` (Postgres and Redis answer), outside `/api/v1`, on the
//! public port for load balancers and Kubernetes probes. Both bodies are terse: what failed
//! and why goes to the log, never to the (anonymous) caller.

use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde_json::json;
use std::time::Duration;

/// How long each dependency has to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: 200 `{"status": "ready", "postgres": "ok", "redis": "ok"}` when Postgres and
/// Redis both answer within 2 s (and, with `DATABASE_READ_URL` set, the replica too:
/// `"postgres_replica": "ok"`); else 503 `{"status": "not ready", …}` with `unavailable` for
/// each that does not. The reason is logged, not returned.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "ready"),
        (status = 503, description = "a dependency is down: `postgres`, `postgres_replica` or `redis` is `unavailable`")))]
#[get("/readyz")]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let replica = state.settings.database_read.is_some();
    let (pg, replica_ok, redis) = tokio::join!(
        postgres_ready(&state.pool, "postgres"),
        async { !replica || postgres_ready(&state.read_pool, "postgres_replica").await },
        redis_ready(&state)
    );
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = pg && replica_ok && redis;
    let mut body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "postgres": word(pg),
        "redis": word(redis),
    });
    if replica {
        body["postgres_replica"] = json!(word(replica_ok));
    }
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

async fn postgres_ready(pool: &upcheck_store::Pool, which: &'static str) -> bool {
    match tokio::time::timeout(READY_TIMEOUT, upcheck_store::ping(pool)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(dependency = which, error = %e, "readyz: postgres unavailable");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = which, "readyz: postgres did not answer within 2000 ms");
            false
        }
    }
}

/// Connecting (when not connected yet) and the PING share the one 2 s budget.
async fn redis_ready(state: &AppState) -> bool {
    let ping = async {
        let mut conn = state.redis().await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(dependency = "redis", error = %e, "readyz: redis unavailable");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = "redis", "readyz: redis did not answer within 2000 ms");
            false
        }
    }
}
