//! A lease lock in Redis (`SET key token NX PX ttl`, released only by its holder): one replica
//! at a time does a job all replicas could do (the reconcile, the notification sweep).
//! Redis documentation, "Distributed Locks with Redis", single-instance pattern.

use crate::RedisConn;
use crate::StreamError;

const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// A lock on one key.
#[derive(Clone)]
pub struct Lock {
    conn: RedisConn,
    key: String,
}

/// A held lock: its token proves ownership when releasing.
#[derive(Debug)]
pub struct Held {
    token: String,
}

impl Lock {
    /// A lock on `key` (under `REDIS_KEY_PREFIX`, see [`crate::Keys`]).
    pub fn new(conn: RedisConn, key: String) -> Self {
        Self { conn, key }
    }

    /// Takes the lock for `ttl_ms` unless another holder has it; `None` when taken.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn try_acquire(&self, ttl_ms: u64) -> Result<Option<Held>, StreamError> {
        let token = uuid::Uuid::new_v4().to_string();
        let set: Option<String> = redis::cmd("SET")
            .arg(&self.key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(set.map(|_| Held { token }))
    }

    /// Releases `held` if it is still ours (it may have expired and been taken since).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn release(&self, held: Held) -> Result<(), StreamError> {
        let _: i64 = redis::Script::new(RELEASE)
            .key(&self.key)
            .arg(&held.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
