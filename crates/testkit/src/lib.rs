//! Test helpers shared by every crate's integration tests: each test gets its own Postgres
//! database and its own Redis key/stream prefix (both dropped when the [`TestEnv`] drops), plus
//! real local HTTP servers to probe ([`FlipTarget`]) and to receive webhooks ([`WebhookReceiver`]),
//! an SMTP server for e-mail ([`smtp::SmtpServer`]), a throwaway Redis Cluster
//! ([`LocalRedisCluster`]);
//! [`cli`] checks a built binary's command line.
//!
//! `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and `REDIS_URL`
//! (default `redis://127.0.0.1:6379`) name the servers; `scripts/test.sh` starts throwaway
//! ones when none answer. Set `TEST_LOG=1` to see logs.

pub mod cli;
pub mod dns;
mod env;
pub mod fixtures;
pub mod http_target;
pub mod local_servers;
mod nginx;
mod redis_cluster;
mod redis_server;
mod servers;
pub mod smtp;
pub mod sse;
pub mod tls;
pub mod tls_target;

pub use env::TestEnv;
pub use nginx::Nginx;
pub use redis_cluster::LocalRedisCluster;
pub use redis_server::LocalRedis;
pub use servers::{FlipTarget, Received, ScriptedTarget, SilentTarget, WebhookReceiver};

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Installs a tracing subscriber once when `TEST_LOG` is set.
pub fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
                )
                .with_test_writer()
                .try_init();
        }
    });
}
