//! Rate limits shared by every API replica: GCRA (the generic cell rate algorithm, ITU-T
//! I.371; as in `redis-cell` and `governor`) in one atomic Lua script per request. A key holds
//! only the theoretical arrival time (TAT, Unix µs by the Redis server's clock) and expires
//! when the limit is whole again, so an idle subject costs no memory.
//!
//! A limit of `n` per minute allows a burst of `n`, then one request every `60 / n` s.

use crate::RedisConn;
use crate::{Keys, StreamError};

/// KEYS: the subject's key. ARGV: emission interval µs (60 s / n), burst (n).
/// Returns {allowed (1/0), µs until the next request is allowed, requests left now}.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, allow_at - now, 0}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0, math.floor((now - allow_at) / interval)}
"#;

/// What [`RateLimiter::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateVerdict {
    /// Whether this request is within the limit (it was counted).
    pub allowed: bool,
    /// When refused: microseconds until the next request is allowed.
    pub retry_after_us: u64,
    /// When allowed: requests still allowed right now.
    pub remaining: u64,
}

/// GCRA rate limits in Redis.
#[derive(Clone)]
pub struct RateLimiter {
    conn: RedisConn,
    keys: Keys,
    script: redis::Script,
}

impl RateLimiter {
    /// Limits kept under `keys`' prefix.
    pub fn new(conn: RedisConn, keys: Keys) -> Self {
        Self { conn, keys, script: redis::Script::new(GCRA) }
    }

    /// Counts one request of `subject` under `scope` against `per_minute` (at least 1) unless
    /// that would pass the limit.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails.
    pub async fn check(
        &self,
        scope: &str,
        subject: &str,
        per_minute: u32,
    ) -> Result<RateVerdict, StreamError> {
        let per_minute = u64::from(per_minute.max(1));
        let interval_us = (60_000_000 / per_minute).max(1);
        let (allowed, retry_after_us, remaining): (i64, i64, i64) = self
            .script
            .key(self.keys.rate_limit(scope, subject))
            .arg(interval_us)
            .arg(per_minute)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(RateVerdict {
            allowed: allowed == 1,
            retry_after_us: retry_after_us.max(0) as u64,
            remaining: remaining.max(0) as u64,
        })
    }
}
