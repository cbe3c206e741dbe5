//! Delayed retries: a notification whose attempt failed waits in a sorted set (score: due time,
//! Unix ms) and is moved back onto the notification stream when due, atomically.
//!
//! The delay is the domain's exponential backoff with equal jitter
//! ([`upcheck_domain::backoff::equal_jitter_ms`]).

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_streams::MESSAGE_FIELD;

/// KEYS: retry set, stream. ARGV: now ms, most to move, MAXLEN. Returns how many moved.
const PUMP: &str = r#"
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', ARGV[4], member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"#;

/// Schedules `job_json` (a notification job) to be enqueued again at `due_ms`.
///
/// # Errors
/// The Redis error.
pub async fn schedule(
    redis: &redis::aio::ConnectionManager,
    key: &str,
    job_json: &str,
    due_ms: i64,
) -> redis::RedisResult<()> {
    redis::cmd("ZADD").arg(key).arg(due_ms).arg(job_json).query_async(&mut redis.clone()).await
}

/// Moves due retries onto `stream` every `tick` until cancelled.
pub async fn pump(
    redis: redis::aio::ConnectionManager,
    key: String,
    stream: String,
    maxlen: u64,
    tick: Duration,
    cancel: CancellationToken,
) {
    let script = redis::Script::new(PUMP);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(tick) => {},
        }
        let now_ms = upcheck_domain::clock::now_ms();
        let moved: redis::RedisResult<i64> = script
            .key(&key)
            .key(&stream)
            .arg(now_ms)
            .arg(500)
            .arg(maxlen)
            .arg(MESSAGE_FIELD)
            .invoke_async(&mut redis.clone())
            .await;
        if let Err(e) = moved {
            tracing::warn!(error = %e, "moving due retries failed");
        }
    }
}
