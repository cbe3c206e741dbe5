//! The settings struct and its layered loading.

use crate::{
    ChannelSettings, ConfigError, DatabaseSettings, ProbeSettings, QuotaSettings, RedisSettings,
    SmtpSettings, jwt_secret,
};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::path::PathBuf;

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Stream, consumer-group and consumer names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// `MONITORING_STREAM`, default `upcheck:monitoring`. Shard `n` uses `<name>:{n}`.
    pub monitoring: String,
    /// `STATUS_CHANGE_STREAM`, default `upcheck:status-change`.
    pub status_change: String,
    /// `NOTIFICATION_STREAM`, default `upcheck:notification`; dead letters go to `<name>:dlq`.
    pub notification: String,
    /// `MONITORING_GROUP`, default `monitoring:<REGION>` (one group per region).
    pub monitoring_group: String,
    /// `STATUS_CHANGE_GROUP`, default `status-change`.
    pub status_change_group: String,
    /// `NOTIFICATION_GROUP`, default `notification`.
    pub notification_group: String,
    /// `CONSUMER_NAME`, default host name + `-` + process id (unique per replica).
    pub consumer: String,
}

/// Worker tunables; each has a safe default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunables {
    /// `RECLAIM_IDLE_MS` (default 30,000): pending entries idle longer are reclaimed.
    pub reclaim_idle_ms: u64,
    /// `MAX_DELIVERIES` (default 10): a message delivered this often goes to `<stream>:dlq`.
    pub max_deliveries: u64,
    /// `STREAM_MAXLEN` (default 100,000): approximate cap on the status-change and notification
    /// streams' length.
    pub stream_maxlen: u64,
    /// `MONITORING_STREAM_MAXLEN` (default 20,000): approximate cap on each monitoring stream's
    /// length. Check jobs carry their whole spec, and the scheduler stops claiming while a
    /// replica's runner is full, so the unread backlog stays near one tick's claims plus four
    /// times `MONITORING_CONCURRENCY` per replica; a job trimmed unread is one skipped check,
    /// claimed again at the monitor's next due time.
    pub monitoring_stream_maxlen: u64,
    /// `SCHEDULE_SHARDS` (default 1): sorted sets (and monitoring streams) the schedule is split into.
    pub schedule_shards: u32,
    /// `MONITORING_CONCURRENCY` (default 512): probes in flight per monitoring replica (its
    /// runner holds four times as many messages plus two `CHECK_BATCH_SIZE`s: jobs waiting for
    /// their due time or for their batch's commit hold no probe slot).
    pub monitoring_concurrency: usize,
    /// `WORKER_CONCURRENCY` (default 32): messages in flight per status-change or notification replica.
    pub worker_concurrency: usize,
    /// `CHECK_BATCH_SIZE` (default 1,000): most check results written in one transaction. A
    /// replica writes `CHECK_WRITERS` batches at a time, so this bounds its rate at about this
    /// many checks per commit time and writer (256 held one replica with one writer to ~17,000
    /// checks/s here; BENCHMARKS.md).
    pub check_batch_size: usize,
    /// `CHECK_WRITERS` (default 1, 1 to 16): check batches one monitoring replica writes at
    /// once, each in its own transaction and connection. Two batches holding the same monitor
    /// take its state row in turn, as two replicas' batches do; while one commits, the next
    /// is written. On this 2-core machine with Postgres local, 2 stored no more than 1 (14,616
    /// against 14,469 checks/s at 100,000 monitors, BENCHMARKS.md 2026-12-07): raise it when
    /// the database is far and round trips, not CPU, bound the writes.
    pub check_writers: usize,
    /// `CHECK_BATCH_MS` (default 20): longest a check result waits for its batch.
    pub check_batch_ms: u64,
    /// `SCHEDULER_TICK_MS` (default 100): how often a replica claims due monitors.
    pub scheduler_tick_ms: u64,
    /// `RECONCILE_INTERVAL_SECONDS` (default 60): how often Redis is repaired from Postgres.
    pub reconcile_interval_seconds: u64,
    /// `OUTBOX_RELAY_MS` (default 5,000): how often the relays look for work a crash or a Redis
    /// data loss left behind. The outbox relay runs every second (or this, if shorter) for
    /// status events unpublished for 2 s, and publishes again those published three times this
    /// ago, unapplied and gone from the stream; the notification sweep runs every this for
    /// notifications pending, not leased, with no creation, attempt or due retry for
    /// `WEBHOOK_TIMEOUT_MS` + 5 s. With the defaults, lost work is enqueued again within 20 s.
    pub outbox_relay_ms: u64,
    /// `WEBHOOK_TIMEOUT_MS` (default 10,000): one delivery attempt's timeout.
    pub webhook_timeout_ms: u64,
    /// `NOTIFICATION_MAX_ATTEMPTS` (default 8): delivery attempts before the dead letter.
    pub notification_max_attempts: u32,
    /// `NOTIFICATION_RETRY_BASE_MS` (default 1,000): first retry delay; doubles each attempt.
    pub notification_retry_base_ms: u64,
    /// `NOTIFICATION_RETRY_MAX_MS` (default 600,000): cap on one retry delay.
    pub notification_retry_max_ms: u64,
    /// `HANDLER_RETRY_BUDGET_MS` (default 60,000): how long one delivery of a stream entry is
    /// retried in-process after transient failures before it is left to the reclaim and
    /// `MAX_DELIVERIES` path.
    pub handler_retry_budget_ms: u64,
    /// `CONSUMER_IDLE_PRUNE_SECONDS` (default 3,600): a consumer with nothing pending and idle
    /// this long (a replica that restarted under a new name) is removed from its group.
    pub consumer_idle_prune_seconds: u64,
    /// `DEAD_LETTER_MAXLEN` (default 10,000): approximate cap on each dead-letter stream.
    pub dead_letter_maxlen: u64,
    /// `CHANNEL_MAX_IN_FLIGHT` (default 4): deliveries at once on one channel, across every
    /// notification replica; a notification over it waits in the retry queue (no attempt spent).
    pub channel_max_in_flight: u32,
    /// `NOTIFICATION_MAX_IN_FLIGHT_PER_OWNER` (default 16, half of one replica's default
    /// `WORKER_CONCURRENCY`): deliveries at once on all of one user's channels, across every
    /// replica, so one user's many slow receivers cannot hold every delivery slot.
    pub notification_max_in_flight_per_owner: u32,
    /// `FLAPPING_THRESHOLD` (default 5): a monitor whose status changes more than this many
    /// times within `FLAPPING_WINDOW_SECONDS` is flapping (one alert, none per change).
    pub flapping_threshold: u32,
    /// `FLAPPING_WINDOW_SECONDS` (default 600): the window flapping changes are counted in, and
    /// how long a flapping monitor's status must hold before it is stable again.
    pub flapping_window_seconds: u64,
    /// `STATUS_PAGE_CACHE_SECONDS` (default 60, 0 turns the cache off): how long an API process
    /// serves a public status page's (and a badge's) data from memory before reading Postgres
    /// again, so a page costs a bounded number of queries per interval whatever its visitors.
    pub status_page_cache_seconds: u64,
}

impl Default for Tunables {
    /// The built-in defaults, as documented on each field.
    fn default() -> Self {
        Self {
            reclaim_idle_ms: 30_000,
            max_deliveries: 10,
            stream_maxlen: 100_000,
            monitoring_stream_maxlen: 20_000,
            schedule_shards: 1,
            monitoring_concurrency: 512,
            worker_concurrency: 32,
            check_batch_size: 1_000,
            check_writers: 1,
            check_batch_ms: 20,
            scheduler_tick_ms: 100,
            reconcile_interval_seconds: 60,
            outbox_relay_ms: 5_000,
            webhook_timeout_ms: 10_000,
            notification_max_attempts: 8,
            notification_retry_base_ms: 1_000,
            notification_retry_max_ms: 600_000,
            handler_retry_budget_ms: 60_000,
            consumer_idle_prune_seconds: 3_600,
            dead_letter_maxlen: 10_000,
            channel_max_in_flight: 4,
            notification_max_in_flight_per_owner: 16,
            flapping_threshold: 5,
            flapping_window_seconds: 600,
            status_page_cache_seconds: 60,
        }
    }
}

/// The API's separate `/metrics` listener, kept off the public `PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `METRICS_PORT` (default 9090): the API's `/metrics` port; 0 picks a free one. Must
    /// differ from `PORT`.
    pub port: u16,
    /// `METRICS_BIND_ADDRESS` (default `127.0.0.1`): the interface `/metrics` listens on.
    /// Containers set `0.0.0.0` so Prometheus (or the host's loopback-only published port)
    /// can reach it.
    pub bind_address: String,
}

/// All of Upcheck's settings. Every binary loads the same struct and uses what it needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Postgres connection (`DATABASE_URL`, `DATABASE_CA_CERT`, `DATABASE_POOL_SIZE`).
    pub database: DatabaseSettings,
    /// `DATABASE_READ_URL` (optional): a read replica the API sends its heavy reads to, with
    /// the same CA, pool size, timeouts and TCP knobs as `DATABASE_URL`. `None` when unset:
    /// every read goes to `DATABASE_URL`.
    pub database_read: Option<DatabaseSettings>,
    /// Redis connection and key prefix.
    pub redis: RedisSettings,
    /// `PORT` (default 8080): the API's listen port.
    pub port: u16,
    /// `HEALTH_PORT` (default 8081): a worker's `/healthz` and `/readyz` port.
    pub health_port: u16,
    /// `BIND_ADDRESS` (default `0.0.0.0`).
    pub bind_address: String,
    /// `JWT_SECRET`, or else the contents of the file `JWT_SECRET_FILE` names: the API's token
    /// signing secret, judged by [`Settings::require_jwt_secret`]; unused by workers.
    pub jwt_secret: Option<SecretString>,
    /// `JWT_SECRET_FILE`, when the secret was read from it (`JWT_SECRET` was empty).
    pub jwt_secret_file: Option<PathBuf>,
    /// The API's `/metrics` listener (`METRICS_PORT`, `METRICS_BIND_ADDRESS`).
    pub metrics: MetricsSettings,
    /// `ACCESS_TOKEN_TTL_SECONDS` (default 900).
    pub access_token_ttl_seconds: u64,
    /// `REFRESH_TOKEN_TTL_SECONDS` (default 30 days).
    pub refresh_token_ttl_seconds: u64,
    /// `ADMIN_EMAIL`: this user is `admin`; without it, the first user to sign up is.
    pub admin_email: Option<String>,
    /// `REGION` (default `local`): the monitoring region this replica probes from.
    pub region: String,
    /// Stream and group names.
    pub streams: StreamSettings,
    /// Worker tunables.
    pub tunables: Tunables,
    /// `LOG_FORMAT` (`pretty` or `json`).
    pub log_format: LogFormat,
    /// What probes and deliveries may reach, and how names are resolved.
    pub probe: ProbeSettings,
    /// Per-user limits the API enforces.
    pub quotas: QuotaSettings,
    /// Channel providers' base URLs and allowed webhook hosts.
    pub channels: ChannelSettings,
    /// The operator's SMTP server for `email` channels (`SMTP_*`).
    pub smtp: SmtpSettings,
    /// `SECRETS_KEY` (32 bytes, base64) under id `SECRETS_KEY_ID` (default `k1`), with the old
    /// keys of `SECRETS_OLD_KEYS` (`id:base64,…`): what channel configs and monitor headers
    /// are sealed with. `None` when unset; [`Settings::require_keyring`] judges that.
    pub secrets: Option<upcheck_secrets::Keyring>,
    /// The API's defences against abuse: password hashing bound, rate limits, trusted proxies.
    pub abuse: crate::AbuseSettings,
    /// The live feed's limits and timings (`EVENTS_*`).
    pub events: crate::EventSettings,
    /// How long raw checks are kept (`RETENTION_RAW_DAYS`), and whether finished days' indexes
    /// are compacted (`PARTITION_COMPACTION_ENABLED`).
    pub raw_retention: crate::RawRetentionSettings,
    /// Retention of status events, notifications and ended sessions (`RETENTION_*`).
    pub housekeeping: crate::HousekeepingSettings,
    /// Rollup retention and the API's rollup cache (`RETENTION_ROLLUP_MINUTE_DAYS`,
    /// `ROLLUP_CACHE_MB`).
    pub rollups: crate::RollupSettings,
}

impl Settings {
    /// Loads from the process environment and the optional `UPCHECK_CONFIG` TOML file.
    ///
    /// # Errors
    /// The first missing or malformed setting.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env_map(std::env::vars().collect())
    }

    /// Loads from the given environment (names as in the process environment) and the
    /// `UPCHECK_CONFIG` file it names, if any. File keys are the variable names in lower case.
    ///
    /// # Errors
    /// The first missing or malformed setting.
    pub fn from_env_map(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = env.get("UPCHECK_CONFIG").filter(|p| !p.is_empty()) {
            if !std::path::Path::new(path).is_file() {
                return Err(ConfigError::new("UPCHECK_CONFIG", format!("no such file {path}")));
            }
            builder = builder.add_source(config::File::with_name(path).format(config::FileFormat::Toml));
        }
        let env_lower: HashMap<String, String> =
            env.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        let layered = builder
            .add_source(config::Environment::default().source(Some(env_lower)).try_parsing(false))
            .build()
            .map_err(|e| ConfigError::new("UPCHECK_CONFIG", e.to_string()))?;
        let raw = Raw { layered };
        Self::from_raw(&raw)
    }

    fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let region = raw.string_or("REGION", "local")?;
        if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(ConfigError::new("REGION", "use letters, digits, '-' and '_' only"));
        }
        let (jwt_secret, jwt_secret_file) =
            jwt_secret::resolve(raw.get("JWT_SECRET")?, raw.get("JWT_SECRET_FILE")?)?;
        let log_format = match raw.string_or("LOG_FORMAT", "pretty")?.as_str() {
            "pretty" | "text" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected json or pretty, got {other:?}"),
                ));
            }
        };
        let streams = StreamSettings {
            monitoring: raw.string_or("MONITORING_STREAM", "upcheck:monitoring")?,
            status_change: raw.string_or("STATUS_CHANGE_STREAM", "upcheck:status-change")?,
            notification: raw.string_or("NOTIFICATION_STREAM", "upcheck:notification")?,
            monitoring_group: raw.string_or("MONITORING_GROUP", &format!("monitoring:{region}"))?,
            status_change_group: raw.string_or("STATUS_CHANGE_GROUP", "status-change")?,
            notification_group: raw.string_or("NOTIFICATION_GROUP", "notification")?,
            consumer: raw.string_or("CONSUMER_NAME", &default_consumer_name())?,
        };
        let d = Tunables::default();
        let tunables = Tunables {
            reclaim_idle_ms: raw.number("RECLAIM_IDLE_MS", d.reclaim_idle_ms, 1_000..=3_600_000)?,
            max_deliveries: raw.number("MAX_DELIVERIES", d.max_deliveries, 1..=1_000)?,
            stream_maxlen: raw.number("STREAM_MAXLEN", d.stream_maxlen, 1_000..=100_000_000)?,
            monitoring_stream_maxlen: raw.number(
                "MONITORING_STREAM_MAXLEN",
                d.monitoring_stream_maxlen,
                1_000..=100_000_000,
            )?,
            schedule_shards: raw.number("SCHEDULE_SHARDS", d.schedule_shards, 1..=1_024)?,
            monitoring_concurrency: raw.number(
                "MONITORING_CONCURRENCY",
                d.monitoring_concurrency,
                1..=100_000,
            )?,
            worker_concurrency: raw.number("WORKER_CONCURRENCY", d.worker_concurrency, 1..=10_000)?,
            check_batch_size: raw.number("CHECK_BATCH_SIZE", d.check_batch_size, 1..=10_000)?,
            check_writers: raw.number("CHECK_WRITERS", d.check_writers, 1..=16)?,
            check_batch_ms: raw.number("CHECK_BATCH_MS", d.check_batch_ms, 0..=10_000)?,
            scheduler_tick_ms: raw.number("SCHEDULER_TICK_MS", d.scheduler_tick_ms, 10..=10_000)?,
            reconcile_interval_seconds: raw.number(
                "RECONCILE_INTERVAL_SECONDS",
                d.reconcile_interval_seconds,
                1..=86_400,
            )?,
            outbox_relay_ms: raw.number("OUTBOX_RELAY_MS", d.outbox_relay_ms, 50..=600_000)?,
            webhook_timeout_ms: raw.number("WEBHOOK_TIMEOUT_MS", d.webhook_timeout_ms, 100..=120_000)?,
            notification_max_attempts: raw.number(
                "NOTIFICATION_MAX_ATTEMPTS",
                d.notification_max_attempts,
                1..=50,
            )?,
            notification_retry_base_ms: raw.number(
                "NOTIFICATION_RETRY_BASE_MS",
                d.notification_retry_base_ms,
                1..=3_600_000,
            )?,
            notification_retry_max_ms: raw.number(
                "NOTIFICATION_RETRY_MAX_MS",
                d.notification_retry_max_ms,
                1..=86_400_000,
            )?,
            handler_retry_budget_ms: raw.number(
                "HANDLER_RETRY_BUDGET_MS",
                d.handler_retry_budget_ms,
                0..=86_400_000,
            )?,
            consumer_idle_prune_seconds: raw.number(
                "CONSUMER_IDLE_PRUNE_SECONDS",
                d.consumer_idle_prune_seconds,
                60..=30 * 86_400,
            )?,
            dead_letter_maxlen: raw.number("DEAD_LETTER_MAXLEN", d.dead_letter_maxlen, 100..=100_000_000)?,
            channel_max_in_flight: raw.number(
                "CHANNEL_MAX_IN_FLIGHT",
                d.channel_max_in_flight,
                1..=10_000,
            )?,
            notification_max_in_flight_per_owner: raw.number(
                "NOTIFICATION_MAX_IN_FLIGHT_PER_OWNER",
                d.notification_max_in_flight_per_owner,
                1..=100_000,
            )?,
            flapping_threshold: raw.number("FLAPPING_THRESHOLD", d.flapping_threshold, 1..=1_000)?,
            flapping_window_seconds: raw.number(
                "FLAPPING_WINDOW_SECONDS",
                d.flapping_window_seconds,
                10..=86_400,
            )?,
            status_page_cache_seconds: raw.number(
                "STATUS_PAGE_CACHE_SECONDS",
                d.status_page_cache_seconds,
                0..=3_600,
            )?,
        };
        if tunables.reclaim_idle_ms <= tunables.webhook_timeout_ms {
            return Err(ConfigError::new(
                "RECLAIM_IDLE_MS",
                "must be above WEBHOOK_TIMEOUT_MS, or deliveries in flight would be reclaimed",
            ));
        }
        let smtp = SmtpSettings::from_raw(raw)?;
        if tunables.reclaim_idle_ms <= smtp.timeout_ms {
            return Err(ConfigError::new(
                "RECLAIM_IDLE_MS",
                "must be above SMTP_TIMEOUT_MS, or e-mails in flight would be reclaimed",
            ));
        }
        let port = raw.number("PORT", 8080, 0..=65_535)?;
        let metrics = MetricsSettings {
            port: raw.number("METRICS_PORT", 9090, 0..=65_535)?,
            bind_address: raw.string_or("METRICS_BIND_ADDRESS", "127.0.0.1")?,
        };
        if metrics.port != 0 && metrics.port == port {
            return Err(ConfigError::new("METRICS_PORT", format!("must differ from PORT ({port})")));
        }
        let mut database = DatabaseSettings::resolve(
            raw.get("DATABASE_URL")?,
            raw.get("DATABASE_CA_CERT")?,
            raw.number("DATABASE_POOL_SIZE", crate::database::DEFAULT_DATABASE_POOL_SIZE, 1..=1_000)?,
        )?;
        database.tune(raw)?;
        let database_read = match raw.get("DATABASE_READ_URL")? {
            None => None,
            Some(url) => Some(database.read_replica(url)?),
        };
        Ok(Self {
            database,
            database_read,
            redis: RedisSettings::resolve(&RedisInputs {
                url: raw.get("REDIS_URL")?,
                cluster_urls: raw.get("REDIS_CLUSTER_URLS")?,
                addr: raw.get("REDIS_ADDR")?,
                username: raw.get("REDIS_USERNAME")?,
                password: raw.get("REDIS_PASSWORD")?,
                tls: raw.boolean("REDIS_TLS", false)?,
                ca_cert: raw.get("REDIS_CA_CERT")?,
                key_prefix: raw.string_or("REDIS_KEY_PREFIX", "upcheck:")?,
            })?,
            port,
            health_port: raw.number("HEALTH_PORT", 8081, 0..=65_535)?,
            bind_address: raw.string_or("BIND_ADDRESS", "0.0.0.0")?,
            jwt_secret,
            jwt_secret_file,
            metrics,
            access_token_ttl_seconds: raw.number("ACCESS_TOKEN_TTL_SECONDS", 900, 10..=86_400)?,
            refresh_token_ttl_seconds: raw.number(
                "REFRESH_TOKEN_TTL_SECONDS",
                30 * 86_400,
                60..=365 * 86_400,
            )?,
            admin_email: raw.get("ADMIN_EMAIL")?.map(|e| e.trim().to_ascii_lowercase()),
            region,
            streams,
            tunables,
            log_format,
            probe: ProbeSettings::from_raw(raw)?,
            quotas: QuotaSettings::from_raw(raw)?,
            channels: ChannelSettings::from_raw(raw)?,
            smtp,
            secrets: crate::secrets_key::from_raw(raw)?,
            abuse: crate::AbuseSettings::from_raw(raw)?,
            events: crate::EventSettings::from_raw(raw)?,
            raw_retention: crate::RawRetentionSettings::from_raw(raw)?,
            housekeeping: crate::HousekeepingSettings::from_raw(raw)?,
            rollups: crate::RollupSettings::from_raw(raw)?,
        })
    }

    /// The JWT secret, for the API, once it is judged fit to sign tokens.
    ///
    /// # Errors
    /// Names `JWT_SECRET` (or `JWT_SECRET_FILE`, when the secret came from that file) when the
    /// secret is missing, shorter than 32 characters, a known placeholder (such as the one
    /// `.env.local` used to carry, or anything starting `change-me` or `secret`) or has fewer
    /// than 8 distinct characters. The message never contains the secret.
    pub fn require_jwt_secret(&self) -> Result<&SecretString, ConfigError> {
        let Some(secret) = self.jwt_secret.as_ref() else {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "required by upcheck-api: set it, or JWT_SECRET_FILE, to at least 32 random characters \
                 (e.g. `openssl rand -hex 32`)",
            ));
        };
        match (jwt_secret::check(secret.expose_secret()), &self.jwt_secret_file) {
            (None, _) => Ok(secret),
            (Some(why), None) => Err(ConfigError::new("JWT_SECRET", why)),
            (Some(why), Some(path)) => {
                Err(ConfigError::new("JWT_SECRET_FILE", format!("the secret in {}: {why}", path.display())))
            }
        }
    }
}

impl Settings {
    /// The keyring, for the binaries that seal or open secrets (`binary` names the one asking,
    /// for the message).
    ///
    /// # Errors
    /// Names `SECRETS_KEY` when it is unset.
    pub fn require_keyring(&self, binary: &str) -> Result<&upcheck_secrets::Keyring, ConfigError> {
        self.secrets.as_ref().ok_or_else(|| crate::secrets_key::missing(binary))
    }
}

pub(crate) struct RedisInputs {
    pub(crate) url: Option<String>,
    pub(crate) cluster_urls: Option<String>,
    pub(crate) addr: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) tls: bool,
    pub(crate) ca_cert: Option<String>,
    pub(crate) key_prefix: String,
}

pub(crate) struct Raw {
    layered: config::Config,
}

impl Raw {
    /// The value of `var`, `None` when unset or empty.
    pub(crate) fn get(&self, var: &str) -> Result<Option<String>, ConfigError> {
        match self.layered.get_string(&var.to_ascii_lowercase()) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Ok(Some(v.trim().to_string())),
            Err(config::ConfigError::NotFound(_)) => Ok(None),
            Err(_) => Err(ConfigError::new(var, "must be a single text value")),
        }
    }

    pub(crate) fn string_or(&self, var: &str, default: &str) -> Result<String, ConfigError> {
        Ok(self.get(var)?.unwrap_or_else(|| default.to_string()))
    }

    pub(crate) fn number<T>(
        &self,
        var: &str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.get(var)? else { return Ok(default) };
        let value: T = text
            .replace('_', "")
            .parse()
            .map_err(|_| ConfigError::new(var, format!("expected a whole number, got {text:?}")))?;
        if !range.contains(&value) {
            return Err(ConfigError::new(
                var,
                format!("must be between {} and {}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    pub(crate) fn boolean(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var)?.map(|s| s.to_ascii_lowercase()) {
            None => Ok(default),
            Some(s) if matches!(s.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(s) if matches!(s.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(s) => Err(ConfigError::new(var, format!("expected true or false, got {s:?}"))),
        }
    }
}

fn default_consumer_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "upcheck".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
