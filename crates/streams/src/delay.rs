//! A delay queue: messages wait in a sorted set (score: due time, Unix ms) and are moved onto a
//! stream when due, each move atomic (one Lua script: `XADD` then `ZREM`).

use crate::{MESSAGE_FIELD, RedisConn, StreamError};

/// KEYS: the set, the stream. ARGV: now ms, most to move, MAXLEN, the message field.
const PUMP: &str = r#"
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', ARGV[4], member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"#;

/// Messages delayed on their way to one stream. A message is its JSON text, so scheduling the
/// same message twice keeps one copy, due at the later call's time.
#[derive(Clone)]
pub struct DelayQueue {
    conn: RedisConn,
    key: String,
    stream: String,
    maxlen: u64,
    script: redis::Script,
}

impl DelayQueue {
    /// A queue in sorted set `key` feeding `stream`, trimmed to about `maxlen` entries. On a
    /// Redis Cluster `key` must share `stream`'s hash slot (the pump is one script over both):
    /// tag it with [`crate::keys::same_slot_tag`] of the stream, as
    /// [`crate::Keys::notification_retries`] is.
    pub fn new(conn: RedisConn, key: String, stream: String, maxlen: u64) -> Self {
        Self { conn, key, stream, maxlen, script: redis::Script::new(PUMP) }
    }

    /// Delays `message` (JSON) until `due_ms` (Unix ms).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn schedule(&self, message: &str, due_ms: i64) -> Result<(), StreamError> {
        redis::cmd("ZADD")
            .arg(&self.key)
            .arg(due_ms)
            .arg(message)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Moves up to `limit` messages due by `now_ms` onto the stream; returns how many moved.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn pump(&self, now_ms: i64, limit: usize) -> Result<usize, StreamError> {
        let moved: i64 = self
            .script
            .key(&self.key)
            .key(&self.stream)
            .arg(now_ms)
            .arg(limit)
            .arg(self.maxlen)
            .arg(MESSAGE_FIELD)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(usize::try_from(moved).unwrap_or(0))
    }

    /// How many messages wait.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn waiting(&self) -> Result<u64, StreamError> {
        Ok(redis::cmd("ZCARD").arg(&self.key).query_async(&mut self.conn.clone()).await?)
    }
}
