//! Helpers for the streams tests: a scripted handler and small Redis readers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use upcheck_streams::{HandleError, Handler, RedisConns, RunnerConfig, StreamMessage};
use upcheck_testkit::TestEnv;

/// What the test handler does with a message whose payload is `"<behaviour>"`.
/// `ok` succeeds; `permanent` fails permanently; `retry:N` fails N times then succeeds;
/// `slow:MS` sleeps then succeeds; `hold` fails (retryably) until [`ScriptedHandler::release`];
/// `after:MS` fails once asking to be retried after MS ms, then succeeds; `forever` always
/// fails retryably. Each call's time is kept in `called_at`.
#[derive(Default)]
pub(crate) struct ScriptedHandler {
    pub(crate) calls: Mutex<Vec<String>>,
    pub(crate) called_at: Mutex<Vec<std::time::Instant>>,
    failures: Mutex<HashMap<String, u32>>,
    released: std::sync::atomic::AtomicBool,
}

impl ScriptedHandler {
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub(crate) fn release(&self) {
        self.released.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Handler for ScriptedHandler {
    async fn handle(&self, m: &StreamMessage) -> Result<(), HandleError> {
        let body: String = m.decode()?;
        self.calls.lock().unwrap().push(body.clone());
        self.called_at.lock().unwrap().push(std::time::Instant::now());
        if body == "forever" {
            return Err(HandleError::retryable("never clears"));
        }
        if let Some(ms) = body.strip_prefix("after:") {
            let mut f = self.failures.lock().unwrap();
            let seen = f.entry(m.id.clone()).or_default();
            if *seen == 0 {
                *seen += 1;
                let delay = Duration::from_millis(ms.parse().unwrap());
                return Err(HandleError::retry_after("rate limited", delay));
            }
        }
        if body == "permanent" {
            return Err(HandleError::permanent("scripted"));
        }
        if let Some(n) = body.strip_prefix("retry:") {
            let n: u32 = n.parse().unwrap();
            let mut f = self.failures.lock().unwrap();
            let seen = f.entry(m.id.clone()).or_default();
            if *seen < n {
                *seen += 1;
                return Err(HandleError::retryable("scripted"));
            }
        }
        if body == "hold" && !self.released.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(HandleError::retryable("held"));
        }
        if let Some(ms) = body.strip_prefix("slow:") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        }
        Ok(())
    }
}

pub(crate) async fn conns(env: &TestEnv) -> RedisConns {
    upcheck_streams::connect(&env.settings.redis).await.expect("redis")
}

pub(crate) fn config(env: &TestEnv, consumer: &str) -> RunnerConfig {
    let mut c = RunnerConfig::new(format!("{}jobs", env.prefix), "workers", consumer);
    c.block_ms = 100;
    c.reclaim_idle_ms = 300;
    c.max_deliveries = 3;
    c.concurrency = 8;
    c.shutdown_timeout = Duration::from_secs(5);
    c
}

/// Pending-entry count of `group` on `stream`.
pub(crate) async fn pending(env: &TestEnv, stream: &str, group: &str) -> u64 {
    let v: redis::Value =
        redis::cmd("XPENDING").arg(stream).arg(group).query_async(&mut env.redis.clone()).await.unwrap();
    match v {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n as u64,
            _ => 0,
        },
        _ => 0,
    }
}

pub(crate) async fn xlen(env: &TestEnv, stream: &str) -> u64 {
    redis::cmd("XLEN").arg(stream).query_async(&mut env.redis.clone()).await.unwrap()
}

/// The `(field, value)` pairs of every entry of `stream`, oldest first.
pub(crate) async fn entries(env: &TestEnv, stream: &str) -> Vec<HashMap<String, String>> {
    let v: Vec<(String, HashMap<String, String>)> =
        redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query_async(&mut env.redis.clone()).await.unwrap();
    v.into_iter().map(|(_, f)| f).collect()
}

/// Delivery count of each pending entry of `group` on `stream`.
pub(crate) async fn deliveries(env: &TestEnv, stream: &str, group: &str) -> Vec<u64> {
    let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .arg("-")
        .arg("+")
        .arg(100)
        .query_async(&mut env.redis.clone())
        .await
        .unwrap();
    rows.into_iter().map(|r| r.3).collect()
}

/// Creates `config`'s group at id `0`, as a runner would.
pub(crate) async fn create_group(env: &TestEnv, config: &RunnerConfig) {
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&config.stream)
        .arg(&config.group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut env.redis.clone())
        .await
        .unwrap();
}

/// Reads up to `count` new entries of `config`'s stream as `consumer` and never acknowledges
/// them: a consumer that dies with work pending.
pub(crate) async fn read_as(env: &TestEnv, config: &RunnerConfig, consumer: &str, count: usize) {
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(&config.group)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(&config.stream)
        .arg(">")
        .query_async(&mut env.redis.clone())
        .await
        .unwrap();
}
