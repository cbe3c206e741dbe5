//! Leased slots in Redis: at most `limit` holders per subject across every replica, e.g. the
//! live feed's open streams per user. A subject's holders are one sorted set (member: the
//! holder, score: when its lease expires, Unix ms by the Redis server's clock); a holder renews
//! its lease while it lives and gives it back when it ends, and a replica that dies holding
//! leases loses them when they expire instead of never.
//!
//! Each script touches one key, so every subject's set may live on any Redis Cluster node.

use crate::RedisConn;
use crate::{Keys, StreamError};

/// KEYS: the subject's holders. ARGV: holder, lease ms, limit.
/// Returns 1 (taken or renewed) or 0 (`limit` others hold leases).
const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not mine and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
"#;

/// KEYS: the subject's holders. ARGV: holder, lease ms. Renews (or re-takes, after Redis lost
/// it) the holder's lease, whatever the limit: a live holder is never cut off.
const RENEW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
"#;

/// Leased slots under `keys`' prefix.
#[derive(Clone)]
pub struct Leases {
    conn: RedisConn,
    keys: Keys,
    acquire: redis::Script,
    renew: redis::Script,
}

impl Leases {
    /// Leases kept under `keys`' prefix, on `conn`.
    pub fn new(conn: RedisConn, keys: Keys) -> Self {
        Self { conn, keys, acquire: redis::Script::new(ACQUIRE), renew: redis::Script::new(RENEW) }
    }

    /// Takes a lease of `lease_ms` for `holder` on one of `subject`'s `limit` slots under
    /// `scope`, unless `limit` other holders have unexpired leases. Taking it again while held
    /// renews it. Returns whether the lease is held.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails.
    pub async fn try_acquire(
        &self,
        scope: &str,
        subject: &str,
        holder: &str,
        limit: u32,
        lease_ms: u64,
    ) -> Result<bool, StreamError> {
        let taken: i64 = self
            .acquire
            .key(self.keys.lease(scope, subject))
            .arg(holder)
            .arg(lease_ms.max(1))
            .arg(limit)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(taken == 1)
    }

    /// Extends `holder`'s lease to `lease_ms` from now (taking it again if Redis lost it).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails.
    pub async fn renew(
        &self,
        scope: &str,
        subject: &str,
        holder: &str,
        lease_ms: u64,
    ) -> Result<(), StreamError> {
        let _: i64 = self
            .renew
            .key(self.keys.lease(scope, subject))
            .arg(holder)
            .arg(lease_ms.max(1))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Gives `holder`'s lease back.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when the connection fails (the lease then expires by itself).
    pub async fn release(&self, scope: &str, subject: &str, holder: &str) -> Result<(), StreamError> {
        let _: i64 = redis::cmd("ZREM")
            .arg(self.keys.lease(scope, subject))
            .arg(holder)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Unexpired leases on `subject` under `scope` (for tests and metrics).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when the connection fails.
    pub async fn held(&self, scope: &str, subject: &str) -> Result<u64, StreamError> {
        let (now_s, now_us): (i64, i64) = redis::cmd("TIME").query_async(&mut self.conn.clone()).await?;
        let now_ms = now_s * 1_000 + now_us / 1_000;
        let n: u64 = redis::cmd("ZCOUNT")
            .arg(self.keys.lease(scope, subject))
            .arg(format!("({now_ms}"))
            .arg("+inf")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(n)
    }
}
