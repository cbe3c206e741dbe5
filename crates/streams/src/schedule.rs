//! The leaderless schedule: one sorted set per shard (member monitor id, score next due time in
//! Unix ms) and one hash of probe specs. Every monitoring replica runs the same claim loop; one
//! Lua script claims due monitors, re-scores them to their next due time and adds their check
//! jobs to the shard's monitoring stream atomically, so N replicas never schedule one check twice.

use crate::RedisConn;
use crate::{Keys, StreamError};
use std::collections::{HashMap, HashSet};
use upcheck_domain::ProbeSpec;
use uuid::Uuid;

/// KEYS: schedule, specs, stream. ARGV: now ms, most to claim, stream MAXLEN.
/// Returns how many jobs were added. A member without a spec (deleted monitor) is removed.
/// Missed slots are skipped, not replayed: the next due time keeps the monitor's phase.
const CLAIM_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
local added = 0
for i = 1, #due, 2 do
  local id = due[i]
  local score = tonumber(due[i + 1])
  local spec = redis.call('HGET', KEYS[2], id)
  if not spec then
    redis.call('ZREM', KEYS[1], id)
  else
    local interval = tonumber(string.match(spec, '"interval_seconds":(%d+)')) * 1000
    local nextdue = score + interval * (math.floor((now - score) / interval) + 1)
    redis.call('ZADD', KEYS[1], string.format('%d', nextdue), id)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'm',
      '{"due_at_ms":' .. string.format('%d', score) .. ',"spec":' .. spec .. '}')
    added = added + 1
  end
end
return added
"#;

/// KEYS: schedule, specs, stream. ARGV: monitor id, now ms, next deadline ms, ping (`success`,
/// `fail`, or empty for a `/start`), stream MAXLEN. Returns 0 when the monitor is not scheduled
/// (paused, deleted, or not yet restored after a Redis loss), else 1. A ping moves the
/// heartbeat's deadline (`ZADD XX`) and, unless it is a start, adds a job that records it with
/// the monitor's current spec, in one step, so a deadline claimed before the ping and the ping
/// are ordered by their times.
const PING_SCRIPT: &str = r#"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local spec = redis.call('HGET', KEYS[2], ARGV[1])
if not spec then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'm',
    '{"due_at_ms":' .. ARGV[2] .. ',"ping":"' .. ARGV[4] .. '","spec":' .. spec .. '}')
end
return 1
"#;

/// The schedule and spec store in Redis.
#[derive(Clone)]
pub struct Schedule {
    conn: RedisConn,
    keys: Keys,
    script: redis::Script,
    ping_script: redis::Script,
    maxlen: u64,
}

impl Schedule {
    /// A schedule using `keys`, adding jobs to streams trimmed to about `maxlen` entries.
    pub fn new(conn: RedisConn, keys: Keys, maxlen: u64) -> Self {
        Self {
            conn,
            keys,
            script: redis::Script::new(CLAIM_SCRIPT),
            ping_script: redis::Script::new(PING_SCRIPT),
            maxlen,
        }
    }

    /// The key names in use.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Stores `spec` and schedules its next check at `due_at_ms` (Unix ms; now = probe at once).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn upsert(&self, spec: &ProbeSpec, due_at_ms: i64) -> Result<(), StreamError> {
        self.upsert_many(std::slice::from_ref(spec), due_at_ms, false).await
    }

    /// Stores many specs in one pipeline per shard. With `keep_due`, as the reconcile
    /// needs, monitors already scheduled keep their due time (`ZADD NX`) and the others are
    /// spread over one interval after `due_at_ms` by their id, so a Redis that lost its data
    /// does not bring every monitor due in the same instant (a burst per interval for ever).
    ///
    /// # Errors
    /// [`StreamError::Encode`] when a message does not serialise; [`StreamError::Redis`] when Redis
    /// refuses the command or the connection fails.
    pub async fn upsert_many(
        &self,
        specs: &[ProbeSpec],
        due_at_ms: i64,
        keep_due: bool,
    ) -> Result<(), StreamError> {
        if specs.is_empty() {
            return Ok(());
        }
        // One pipeline per shard: on a Redis Cluster a pipeline must stay in one hash slot.
        let mut pipes: HashMap<u32, redis::Pipeline> = HashMap::new();
        for spec in specs {
            let shard = self.keys.shard_of(spec.monitor_id);
            let pipe = pipes.entry(shard).or_default();
            let id = spec.monitor_id.to_string();
            pipe.cmd("HSET").arg(self.keys.specs(shard)).arg(&id).arg(serde_json::to_string(spec)?).ignore();
            let zadd = pipe.cmd("ZADD").arg(self.keys.schedule(shard));
            let due = match (&spec.config, keep_due) {
                // A heartbeat restored after a Redis loss gets a whole window from now: its
                // last ping is not known here, and an early deadline would be a false alarm.
                (upcheck_domain::probe_config::KindConfig::Heartbeat(beat), true) => {
                    zadd.arg("NX");
                    due_at_ms.saturating_add(beat.window_ms())
                }
                (_, true) => {
                    zadd.arg("NX");
                    due_at_ms.saturating_add(phase_ms(spec))
                }
                (_, false) => due_at_ms,
            };
            zadd.arg(due).arg(&id).ignore();
        }
        self.run_pipes(pipes.into_values()).await
    }

    /// Runs one pipeline per shard, concurrently.
    async fn run_pipes(&self, pipes: impl Iterator<Item = redis::Pipeline>) -> Result<(), StreamError> {
        futures::future::try_join_all(pipes.map(|pipe| {
            let mut conn = self.conn.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        }))
        .await?;
        Ok(())
    }

    /// Unschedules a monitor and forgets its spec (pause or delete).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn remove(&self, monitor_id: Uuid) -> Result<(), StreamError> {
        self.remove_many(&[monitor_id]).await
    }

    /// Unschedules several monitors.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn remove_many(&self, ids: &[Uuid]) -> Result<(), StreamError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipes: HashMap<u32, redis::Pipeline> = HashMap::new();
        for id in ids {
            let shard = self.keys.shard_of(*id);
            let pipe = pipes.entry(shard).or_default();
            let id = id.to_string();
            pipe.cmd("ZREM").arg(self.keys.schedule(shard)).arg(&id).ignore();
            pipe.cmd("HDEL").arg(self.keys.specs(shard)).arg(&id).ignore();
        }
        self.run_pipes(pipes.into_values()).await
    }

    /// Claims up to `limit` monitors of `shard` due at or before `now_ms` and adds their jobs
    /// to the shard's monitoring stream; returns how many were added.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn claim_due(&self, shard: u32, now_ms: i64, limit: usize) -> Result<usize, StreamError> {
        let added: usize = self
            .script
            .key(self.keys.schedule(shard))
            .key(self.keys.specs(shard))
            .key(self.keys.monitoring_stream(shard))
            .arg(now_ms)
            .arg(limit)
            .arg(self.maxlen)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(added)
    }

    /// Records a heartbeat ping of `monitor_id` at `now_ms`: its deadline moves to
    /// `next_deadline_ms`, and a `ping` (not a start, `None`) is added as a job for the
    /// monitoring workers to store. Returns whether the monitor is scheduled (a paused or deleted
    /// one is not, and nothing is recorded).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn ping(
        &self,
        monitor_id: Uuid,
        now_ms: i64,
        next_deadline_ms: i64,
        ping: Option<upcheck_domain::PingKind>,
    ) -> Result<bool, StreamError> {
        let shard = self.keys.shard_of(monitor_id);
        let kind = match ping {
            Some(upcheck_domain::PingKind::Success) => "success",
            Some(upcheck_domain::PingKind::Fail) => "fail",
            None => "",
        };
        let recorded: i64 = self
            .ping_script
            .key(self.keys.schedule(shard))
            .key(self.keys.specs(shard))
            .key(self.keys.monitoring_stream(shard))
            .arg(monitor_id.to_string())
            .arg(now_ms)
            .arg(next_deadline_ms)
            .arg(kind)
            .arg(self.maxlen)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(recorded == 1)
    }

    /// The due time (Unix ms) of a monitor, if it is scheduled.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn due_at(&self, monitor_id: Uuid) -> Result<Option<i64>, StreamError> {
        let shard = self.keys.shard_of(monitor_id);
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(self.keys.schedule(shard))
            .arg(monitor_id.to_string())
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(score.map(|s| s as i64))
    }

    /// Every scheduled monitor id across shards (for the reconcile).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails;
    /// [`StreamError::Reply`] when the schedule holds a member that is not a UUID.
    pub async fn scheduled_ids(&self) -> Result<HashSet<Uuid>, StreamError> {
        let mut out = HashSet::new();
        let mut conn = self.conn.clone();
        for shard in 0..self.keys.shards() {
            let mut cursor: u64 = 0;
            loop {
                let (next, members): (u64, Vec<String>) = redis::cmd("ZSCAN")
                    .arg(self.keys.schedule(shard))
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(1_000)
                    .query_async(&mut conn)
                    .await
                    .map(|(c, pairs): (u64, Vec<String>)| (c, pairs.into_iter().step_by(2).collect()))?;
                for m in members {
                    out.insert(m.parse().map_err(|_| StreamError::Reply(format!("schedule member {m:?}")))?);
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(out)
    }

    /// Sets the marker a reconcile leaves (`now_ms`, Unix ms): its absence means Redis lost
    /// data since.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn mark_reconciled(&self, now_ms: i64) -> Result<(), StreamError> {
        redis::cmd("SET")
            .arg(self.keys.schedule_marker())
            .arg(now_ms)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Whether the reconcile marker is there (Redis has not lost data since the last reconcile).
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn is_reconciled(&self) -> Result<bool, StreamError> {
        Ok(redis::cmd("EXISTS").arg(self.keys.schedule_marker()).query_async(&mut self.conn.clone()).await?)
    }
}

/// A stable offset in `[0, interval)` ms from the monitor's id (the random low bits of its
/// UUIDv7), to spread monitors scheduled together over one interval.
fn phase_ms(spec: &ProbeSpec) -> i64 {
    let interval_ms = u64::from(spec.interval_seconds).max(1) * 1_000;
    (spec.monitor_id.as_u128() as u64 % interval_ms) as i64
}
