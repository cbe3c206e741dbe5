//! A due-time sorted set with leases, the clock of alert timers: member a timer's JSON, score
//! its due time (Unix ms). Replicas claim due members with one script that re-scores them to a
//! lease's end, so one replica handles each at a time; a replica that dies mid-way lets its lease
//! run out and another claims the member again. Handling must be idempotent (it is: the record
//! is in Postgres). Like the monitoring schedule's claim, but the members carry no job.

use crate::RedisConn;
use crate::StreamError;

/// KEYS: the set. ARGV: now ms, most to claim, lease end ms. Returns the claimed members.
const CLAIM: &str = r#"
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[3], member)
end
return due
"#;

/// KEYS: the set. ARGV: member, lease end ms. Removes the member if its lease is still ours.
const RELEASE: &str = r#"
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"#;

/// Timers waiting for their due time in one sorted set.
#[derive(Clone)]
pub struct TimerSet {
    conn: RedisConn,
    key: String,
    claim: redis::Script,
    release: redis::Script,
}

/// Due members claimed by [`TimerSet::claim`], leased until `lease_until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The members (timer JSON).
    pub members: Vec<String>,
    /// Their lease's end (Unix ms): pass it to [`TimerSet::release`].
    pub lease_until_ms: i64,
}

impl TimerSet {
    /// The set at `key` (under `REDIS_KEY_PREFIX`, see [`crate::Keys::alert_timers`]).
    pub fn new(conn: RedisConn, key: String) -> Self {
        Self { conn, key, claim: redis::Script::new(CLAIM), release: redis::Script::new(RELEASE) }
    }

    /// Puts `member` in the set due at `due_ms` (moving it if it is there).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn schedule(&self, member: &str, due_ms: i64) -> Result<(), StreamError> {
        redis::cmd("ZADD")
            .arg(&self.key)
            .arg(due_ms)
            .arg(member)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Adds the members that are missing (`ZADD NX`: a leased member keeps its lease); returns
    /// how many were added.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn restore(&self, members: &[(String, i64)]) -> Result<u64, StreamError> {
        if members.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&self.key).arg("NX");
        for (member, due_ms) in members {
            cmd.arg(*due_ms).arg(member);
        }
        Ok(cmd.query_async(&mut self.conn.clone()).await?)
    }

    /// Claims up to `limit` members due by `now_ms`, leased for `lease_ms`.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails.
    pub async fn claim(&self, now_ms: i64, lease_ms: i64, limit: usize) -> Result<Claimed, StreamError> {
        let lease_until_ms = now_ms + lease_ms.max(1);
        let members: Vec<String> = self
            .claim
            .key(&self.key)
            .arg(now_ms)
            .arg(limit)
            .arg(lease_until_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(Claimed { members, lease_until_ms })
    }

    /// Removes a handled member, unless it was re-scored since its claim (scheduled again, or
    /// claimed by another replica after the lease ran out).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails.
    pub async fn release(&self, member: &str, lease_until_ms: i64) -> Result<bool, StreamError> {
        let removed: i64 = self
            .release
            .key(&self.key)
            .arg(member)
            .arg(lease_until_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(removed == 1)
    }

    /// A member's score (due or lease end, Unix ms), if it is in the set.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn due_ms(&self, member: &str) -> Result<Option<i64>, StreamError> {
        Ok(redis::cmd("ZSCORE").arg(&self.key).arg(member).query_async(&mut self.conn.clone()).await?)
    }

    /// How many members wait.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn waiting(&self) -> Result<u64, StreamError> {
        Ok(redis::cmd("ZCARD").arg(&self.key).query_async(&mut self.conn.clone()).await?)
    }
}
