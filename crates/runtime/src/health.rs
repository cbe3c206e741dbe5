//! A worker's health server: `/healthz` (the process is alive), `/readyz` (its consumer
//! groups exist and Postgres and Redis answer within 2 s) and `/metrics` (Prometheus text).

use crate::metrics::Scrape;
use actix_web::{App, HttpResponse, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use upcheck_store::Pool;

/// What `/readyz` checks.
#[derive(Clone)]
pub struct Readiness {
    /// The worker's Postgres pool.
    pub pool: Pool,
    /// The worker's Redis connection.
    pub redis: upcheck_streams::RedisConn,
    /// One flag per consumer group, set once the group exists.
    pub groups: Vec<Arc<AtomicBool>>,
}

impl Readiness {
    /// Each dependency's state: `"ok"` or `"error: …"`, and whether all are ok.
    pub async fn check(&self) -> (bool, serde_json::Value) {
        let pg = tokio::time::timeout(Duration::from_secs(2), upcheck_store::ping(&self.pool)).await;
        let pg = match pg {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out after 2000 ms".to_string()),
        };
        let mut conn = self.redis.clone();
        let rd =
            tokio::time::timeout(Duration::from_secs(2), redis::cmd("PING").query_async::<String>(&mut conn))
                .await;
        let rd = match rd {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out after 2000 ms".to_string()),
        };
        let groups = self.groups.iter().all(|g| g.load(Ordering::Relaxed));
        let show = |r: &Result<(), String>| match r {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let ok = pg.is_ok() && rd.is_ok() && groups;
        let body = serde_json::json!({
            "postgres": show(&pg),
            "redis": show(&rd),
            "consumer_groups": if groups { "ok" } else { "not created yet" },
        });
        (ok, body)
    }
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub(crate) async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(scrape.render().await)
}

/// A running health server.
pub struct HealthServer {
    /// The bound port (useful when `HEALTH_PORT=0`).
    pub port: u16,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HealthServer {
    /// Binds `address:port` and serves `/healthz`, `/readyz` and `/metrics` until [`HealthServer::stop`].
    ///
    /// # Errors
    /// The bind error, when the port is taken.
    pub fn start(address: &str, port: u16, readiness: Readiness, scrape: Scrape) -> std::io::Result<Self> {
        let listener = TcpListener::bind((address, port))?;
        let port = listener.local_addr()?.port();
        let readiness = web::Data::new(readiness);
        let scrape = web::Data::new(scrape);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(readiness.clone())
                .app_data(scrape.clone())
                .route("/metrics", web::get().to(metrics))
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }),
                )
                .route(
                    "/readyz",
                    web::get().to(|r: web::Data<Readiness>| async move {
                        let (ok, body) = r.check().await;
                        if ok {
                            HttpResponse::Ok().json(body)
                        } else {
                            HttpResponse::ServiceUnavailable().json(body)
                        }
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Self { port, handle, task })
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}
