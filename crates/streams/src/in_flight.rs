//! Counting semaphores in Redis that bound deliveries in flight per channel and per owner,
//! across every notification replica: a channel's holders and its owner's holders are sorted
//! sets (member: the holder, score: when its hold expires, Unix ms by the Redis server's
//! clock), taken and released together in one Lua script, so a replica that dies holding a
//! slot gives it back when the hold expires instead of never.
//!
//! Both keys carry the owner's id as their Redis Cluster hash tag (`{owner}`): one script
//! touches them together.

use crate::RedisConn;
use crate::{Keys, StreamError};
use uuid::Uuid;

/// KEYS: the channel's holders, the owner's holders. ARGV: holder, hold ms, channel limit,
/// owner limit. Returns 0 (taken), 1 (the channel is full), 2 (the owner is full).
const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not mine and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
if not mine and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
local hold = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + hold, ARGV[1])
redis.call('ZADD', KEYS[2], now + hold, ARGV[1])
redis.call('PEXPIRE', KEYS[1], hold)
redis.call('PEXPIRE', KEYS[2], hold)
return 0
"#;

/// KEYS: the channel's holders, the owner's holders. ARGV: holder.
const RELEASE: &str = r#"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"#;

/// What [`InFlight::try_acquire`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A slot is held: deliver, then [`InFlight::release`].
    Admitted,
    /// The channel has `CHANNEL_MAX_IN_FLIGHT` deliveries running already.
    ChannelFull,
    /// The channel's owner has `NOTIFICATION_MAX_IN_FLIGHT_PER_OWNER` deliveries running already.
    OwnerFull,
}

impl Admission {
    /// A label for metrics and logs: `admitted`, `channel_full` or `owner_full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admitted => "admitted",
            Self::ChannelFull => "channel_full",
            Self::OwnerFull => "owner_full",
        }
    }
}

/// Limits on deliveries in flight, shared by every replica through Redis.
#[derive(Clone)]
pub struct InFlight {
    conn: RedisConn,
    keys: Keys,
    per_channel: u32,
    per_owner: u32,
    hold_ms: u64,
    acquire: redis::Script,
    release: redis::Script,
}

impl InFlight {
    /// Limits of `per_channel` deliveries at once on one channel and `per_owner` on all of one
    /// owner's channels, with keys named by `keys`. A hold lasts at most
    /// `hold_ms` (above one attempt's timeout): a holder that never releases (its replica died)
    /// frees its slot then.
    pub fn new(conn: RedisConn, keys: Keys, per_channel: u32, per_owner: u32, hold_ms: u64) -> Self {
        Self {
            conn,
            keys,
            per_channel: per_channel.max(1),
            per_owner: per_owner.max(1),
            hold_ms: hold_ms.max(1),
            acquire: redis::Script::new(ACQUIRE),
            release: redis::Script::new(RELEASE),
        }
    }

    /// Takes a slot on `channel` (owned by `owner`) for `holder` (a notification id) unless the
    /// channel or the owner is at its limit. Taking it again while held renews the hold.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails.
    pub async fn try_acquire(
        &self,
        owner: Uuid,
        channel: Uuid,
        holder: Uuid,
    ) -> Result<Admission, StreamError> {
        let code: i64 = self
            .acquire
            .key(self.keys.in_flight_channel(owner, channel))
            .key(self.keys.in_flight_owner(owner))
            .arg(holder.to_string())
            .arg(self.hold_ms)
            .arg(self.per_channel)
            .arg(self.per_owner)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match code {
            0 => Admission::Admitted,
            1 => Admission::ChannelFull,
            _ => Admission::OwnerFull,
        })
    }

    /// Gives `holder`'s slot back.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the script or the connection fails (the slot
    /// then frees itself when its hold expires).
    pub async fn release(&self, owner: Uuid, channel: Uuid, holder: Uuid) -> Result<(), StreamError> {
        let _: i64 = self
            .release
            .key(self.keys.in_flight_channel(owner, channel))
            .key(self.keys.in_flight_owner(owner))
            .arg(holder.to_string())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
