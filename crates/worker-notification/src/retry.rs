//! Delayed retries: a notification whose attempt failed waits in a sorted set (score: due time,
//! Unix ms) and is moved back onto the notification stream when due, atomically.
//!
//! The delay is exponential with jitter: attempt `n` (1-based) waits a random time in
//! `[d/2, d]` where `d = min(base × 2^(n-1), max)` ("equal jitter", which keeps a floor under
//! the delay while spreading retries of one outage).

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

/// The delay before retry number `attempt` (1 = the first retry), in ms.
pub fn backoff_ms(attempt: u32, base_ms: u64, max_ms: u64) -> u64 {
    let d = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(40)).min(max_ms).max(1);
    rand::random_range(d / 2..=d)
}

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
        let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_and_are_capped() {
        for _ in 0..200 {
            let first = backoff_ms(1, 1_000, 60_000);
            assert!((500..=1_000).contains(&first), "{first}");
            let third = backoff_ms(3, 1_000, 60_000);
            assert!((2_000..=4_000).contains(&third), "{third}");
            let late = backoff_ms(30, 1_000, 60_000);
            assert!((30_000..=60_000).contains(&late), "{late}");
        }
    }
}
