//! Every Redis key name Upcheck uses, in one place.
//!
//! All keys but the three streams live under `REDIS_KEY_PREFIX`. Keys one Lua script touches
//! together share a Redis Cluster hash tag: shard `n`'s schedule, specs and monitoring stream
//! all carry `{n}`.

use upcheck_config::Settings;
use uuid::Uuid;

/// Key names derived from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    monitoring_stream: String,
    shards: u32,
}

impl Keys {
    /// Key names for `settings`.
    pub fn new(settings: &Settings) -> Self {
        Self {
            prefix: settings.redis.key_prefix.clone(),
            monitoring_stream: settings.streams.monitoring.clone(),
            shards: settings.tunables.schedule_shards,
        }
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
        format!("{}schedule:{{{shard}}}", self.prefix)
    }

    /// Hash of shard `n`: monitor id → probe spec JSON.
    pub fn specs(&self, shard: u32) -> String {
        format!("{}specs:{{{shard}}}", self.prefix)
    }

    /// Monitoring stream of shard `n`: `<MONITORING_STREAM>:{n}`.
    pub fn monitoring_stream(&self, shard: u32) -> String {
        format!("{}:{{{shard}}}", self.monitoring_stream)
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
    pub fn notification_retries(&self) -> String {
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

    /// The dead-letter stream of `stream`.
    pub fn dead_letter(stream: &str) -> String {
        format!("{stream}:dlq")
    }
}
