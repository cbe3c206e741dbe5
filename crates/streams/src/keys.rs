//! Every Redis key name Upcheck uses, in one place.
//!
//! All keys but the streams and their dead-letter streams live under `REDIS_KEY_PREFIX`.
//!
//! On a Redis Cluster a Lua script, a pipeline and a `MULTI` may only touch keys of one hash
//! slot, so keys used together share a hash tag (`{…}`: only the tag is hashed). Each script's
//! slot:
//! - schedule claim and heartbeat ping (`schedule.rs`): shard `n`'s schedule, specs and
//!   monitoring stream, all tagged with [`Keys::shard_tag`];
//! - the retry pump (`delay.rs`): [`Keys::notification_retries`] is tagged with the
//!   notification stream's slot ([`same_slot_tag`]);
//! - dead-letter requeue and the runner's dead-letter `MULTI` (stream, `XACK`, its dead-letter
//!   stream): [`Keys::dead_letter`] shares its stream's slot;
//! - in-flight holds (`in_flight.rs`): both sets tagged `{owner}`;
//! - lock release, rate limit (GCRA), alert timers, live-feed leases: one key each.
//!
//! The same names serve a single Redis, where tags change nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use upcheck_config::Settings;
use uuid::Uuid;

/// Redis Cluster's hash slots (16,384).
pub const CLUSTER_SLOTS: u16 = 16_384;

/// The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of its hash tag (the text between the
/// first `{` and the next `}`, when not empty), else of the whole key, modulo 16,384 (the Redis
/// Cluster specification, "Keys distribution model").
pub fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = hash_tag(key).map_or(bytes, str::as_bytes);
    crc16::State::<crc16::XMODEM>::calculate(hashed) % CLUSTER_SLOTS
}

/// The hash tag of `key`, if it has one.
fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let close = key[open + 1..].find('}')?;
    Some(&key[open + 1..open + 1 + close]).filter(|t| !t.is_empty())
}

/// A hash tag's content that puts a key in the same slot as `key`: `key`'s own tag, or `key`
/// whole when it has none.
pub fn same_slot_tag(key: &str) -> &str {
    hash_tag(key).unwrap_or(key)
}

/// `key`, wrapped in braces unless it has a hash tag already: a prefix for keys that must share
/// its slot.
fn tagged(key: &str) -> String {
    if hash_tag(key).is_some() { key.to_string() } else { format!("{{{key}}}") }
}

/// Key names derived from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    monitoring_stream: String,
    notification_stream: String,
    shards: u32,
    tags: Arc<[String]>,
}

impl Keys {
    /// Key names for `settings`.
    pub fn new(settings: &Settings) -> Self {
        let shards = settings.tunables.schedule_shards.max(1);
        Self {
            prefix: settings.redis.key_prefix.clone(),
            monitoring_stream: settings.streams.monitoring.clone(),
            notification_stream: settings.streams.notification.clone(),
            shards,
            tags: shard_tags(shards),
        }
    }

    /// The hash tag (without braces) of shard `n`'s keys: `n` itself when its slot lies in the
    /// `n`-th of `SCHEDULE_SHARDS` equal parts of the slot space, else `n-k` with the smallest
    /// `k` that puts it there. A cluster whose masters own equal slot ranges (as
    /// `redis-cli --cluster create` and managed services lay them out) then carries shard `n`
    /// on master `n × masters / shards`: with as many shards as masters, one shard each. One
    /// shard keeps `{0}`.
    ///
    /// # Panics
    /// When `shard` is not below [`Self::shards`].
    pub fn shard_tag(&self, shard: u32) -> &str {
        &self.tags[shard as usize]
    }

    /// Number of schedule shards (`SCHEDULE_SHARDS`).
    pub fn shards(&self) -> u32 {
        self.shards
    }

    /// The shard a monitor belongs to: its id modulo the shard count.
    pub fn shard_of(&self, monitor_id: Uuid) -> u32 {
        (monitor_id.as_u128() % u128::from(self.shards)) as u32
    }

    /// Sorted set of shard `n`: member monitor id, score next due time (Unix ms).
    pub fn schedule(&self, shard: u32) -> String {
        format!("{}schedule:{{{}}}", self.prefix, self.shard_tag(shard))
    }

    /// Hash of shard `n`: monitor id → probe spec JSON.
    pub fn specs(&self, shard: u32) -> String {
        format!("{}specs:{{{}}}", self.prefix, self.shard_tag(shard))
    }

    /// Monitoring stream of shard `n`: `<MONITORING_STREAM>:{<tag>}` ([`Self::shard_tag`];
    /// `<MONITORING_STREAM>:{0}` with one shard).
    pub fn monitoring_stream(&self, shard: u32) -> String {
        format!("{}:{{{}}}", self.monitoring_stream, self.shard_tag(shard))
    }

    /// Sorted set of monitoring regions: member region, score its last report (Unix ms).
    pub fn regions(&self) -> String {
        format!("{}regions", self.prefix)
    }

    /// Marker set after a reconcile; its absence means Redis lost data and must be repaired.
    pub fn schedule_marker(&self) -> String {
        format!("{}schedule:reconciled", self.prefix)
    }

    /// A lock held while one replica reconciles.
    pub fn reconcile_lock(&self) -> String {
        format!("{}lock:reconcile", self.prefix)
    }

    /// A lock held by the status-change replica running the maintenance and flapping step.
    pub fn status_upkeep_lock(&self) -> String {
        format!("{}lock:status-upkeep", self.prefix)
    }

    /// Pub/sub channel for live status changes.
    pub fn live_channel(&self) -> String {
        format!("{}live", self.prefix)
    }

    /// Present while an API process has a live stream that wants check outcomes
    /// (`GET /api/v1/events?checks=true`): the monitoring worker publishes check batches on
    /// [`Self::live_channel`] only then.
    pub fn live_checks_listeners(&self) -> String {
        format!("{}live:checks", self.prefix)
    }

    /// Sorted set of notifications waiting for a retry: member notification id, score due ms.
    /// Tagged with the notification stream's slot: the retry pump's script moves due members
    /// into that stream (`<prefix>notification:retry:{upcheck:notification}` by default).
    pub fn notification_retries(&self) -> String {
        format!("{}notification:retry:{{{}}}", self.prefix, same_slot_tag(&self.notification_stream))
    }

    /// The retry set's name before it was tagged, adopted once on a single Redis
    /// ([`crate::adopt_legacy_key`]).
    pub fn legacy_notification_retries(&self) -> String {
        format!("{}notification:retry", self.prefix)
    }

    /// A lock held by the replica sweeping for notifications whose jobs were lost.
    pub fn notification_sweep_lock(&self) -> String {
        format!("{}lock:notification-sweep", self.prefix)
    }

    /// Sorted set of the deliveries in flight on `channel` (owned by `owner`): member the
    /// notification id, score when its hold expires (Unix ms). Tagged `{owner}` with
    /// [`Self::in_flight_owner`], which one script updates with it.
    pub fn in_flight_channel(&self, owner: Uuid, channel: Uuid) -> String {
        format!("{}inflight:{{{owner}}}:channel:{channel}", self.prefix)
    }

    /// Sorted set of the deliveries in flight on all of `owner`'s channels.
    pub fn in_flight_owner(&self, owner: Uuid) -> String {
        format!("{}inflight:{{{owner}}}:owner", self.prefix)
    }

    /// Sorted set of pending alert timers (delays, reminders, escalations): member the timer's
    /// JSON, score its due time or its claim's lease end (Unix ms).
    pub fn alert_timers(&self) -> String {
        format!("{}alert-timers", self.prefix)
    }

    /// Marker set after the alert timers were restored from Postgres; its absence means Redis
    /// lost data.
    pub fn alert_timers_marker(&self) -> String {
        format!("{}alert-timers:restored", self.prefix)
    }

    /// A lock held by the replica restoring alert timers.
    pub fn alert_timer_sweep_lock(&self) -> String {
        format!("{}lock:alert-timer-sweep", self.prefix)
    }

    /// A rate limit's state (GCRA: the theoretical arrival time, Unix µs) for `subject` under
    /// `scope` (`login-account`, `login-address`, `signup`, `heartbeat`, `api`).
    pub fn rate_limit(&self, scope: &str, subject: &str) -> String {
        format!("{}ratelimit:{scope}:{subject}", self.prefix)
    }

    /// Sorted set of the leases held on `subject`'s slots under `scope` (`feed-user`,
    /// `feed-address`): member the holder, score when its lease expires (Unix ms); see
    /// [`crate::Leases`].
    pub fn lease(&self, scope: &str, subject: &str) -> String {
        format!("{}lease:{scope}:{subject}", self.prefix)
    }

    /// The dead-letter stream of `stream`, in `stream`'s slot (the runner moves entries from one
    /// to the other in one `MULTI`, the replay in one script): `<stream>:dlq` when the stream
    /// name has a hash tag (a monitoring shard's), else `{<stream>}:dlq`.
    pub fn dead_letter(stream: &str) -> String {
        format!("{}:dlq", tagged(stream))
    }

    /// `<stream>:dlq`, the dead-letter stream's name before it was tagged, when it differs from
    /// [`Self::dead_letter`]: adopted once on a single Redis ([`crate::adopt_legacy_key`]).
    pub fn legacy_dead_letter(stream: &str) -> Option<String> {
        let old = format!("{stream}:dlq");
        (old != Self::dead_letter(stream)).then_some(old)
    }
}

/// The tags of `shards` shards (see [`Keys::shard_tag`]), computed once per count: a count of
/// 1,024 takes about a million hashes.
fn shard_tags(shards: u32) -> Arc<[String]> {
    static CACHE: OnceLock<Mutex<HashMap<u32, Arc<[String]>>>> = OnceLock::new();
    let mut cache =
        CACHE.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.entry(shards).or_insert_with(|| (0..shards).map(|n| shard_tag(n, shards)).collect()).clone()
}

/// Shard `n`'s tag: `n`, or `n-k` for the smallest `k` whose slot lies in part `n` of `shards`.
fn shard_tag(n: u32, shards: u32) -> String {
    let part = |tag: &str| u32::from(slot(tag)) * shards / u32::from(CLUSTER_SLOTS);
    let plain = n.to_string();
    if part(&plain) == n {
        return plain;
    }
    (1u32..).map(|k| format!("{n}-{k}")).find(|t| part(t) == n).unwrap_or(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_redis_cluster_specification() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(slot("123456789"), 12_739);
        assert_eq!(slot("foo"), 12_182);
        assert_eq!(slot("{user1000}.following"), slot("user1000"));
        assert_eq!(slot("foo{}{bar}"), slot("foo{}{bar}"));
        assert_ne!(slot("foo{}{bar}"), slot("bar"));
        assert_eq!(slot("foo{{bar}}zap"), slot("{bar"));
    }

    #[test]
    fn each_shard_tag_lands_in_its_own_part_of_the_slot_space() {
        assert_eq!(&*shard_tags(1), ["0"]);
        for shards in [2u32, 3, 5, 16, 100] {
            let tags = shard_tags(shards);
            assert_eq!(tags.len(), shards as usize);
            for (n, tag) in tags.iter().enumerate() {
                let part = u32::from(slot(tag)) * shards / 16_384;
                assert_eq!(part, n as u32, "{shards} shards: tag {tag} of shard {n}");
                assert!(tag == &n.to_string() || tag.starts_with(&format!("{n}-")));
            }
        }
    }

    #[test]
    fn companions_share_their_streams_slot() {
        for stream in ["upcheck:notification", "test:abc:status-change", "upcheck:monitoring:{2-1}"] {
            assert_eq!(slot(&Keys::dead_letter(stream)), slot(stream), "{stream}");
            assert_eq!(
                slot(&format!("upcheck:notification:retry:{{{}}}", same_slot_tag(stream))),
                slot(stream)
            );
        }
        assert_eq!(Keys::dead_letter("upcheck:notification"), "{upcheck:notification}:dlq");
        assert_eq!(Keys::dead_letter("m:{0}"), "m:{0}:dlq");
        assert_eq!(Keys::legacy_dead_letter("m:{0}"), None);
    }
}
