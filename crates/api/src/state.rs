//! Shared application state: the pool, a lazily (re)connecting Redis, JWT keys and settings.

use crate::error::ApiError;
use jsonwebtoken::{DecodingKey, EncodingKey};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use upcheck_config::Settings;
use upcheck_store::Pool;
use upcheck_streams::{Keys, Schedule};

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The Postgres pool on `DATABASE_URL` (the primary): every write, and every read that
    /// must see a write just made (see `read_pool`).
    pub pool: Pool,
    /// The pool for reads that tolerate replication lag: on `DATABASE_READ_URL` when set, else
    /// the same pool as `pool`. The rule: a read goes here only when it is a history or a list
    /// (checks, stats, a monitor's incidents and deliveries, `GET /incidents`, an incident's
    /// timeline, and the paginated lists of monitors, channels, status pages, maintenance
    /// windows, API keys and users) and nothing in the same request wrote before it.
    /// Authentication (users, API keys, sessions), ownership checks (a monitor created a moment
    /// ago must not be 404), single-object reads (a client reads back what it created by id),
    /// anything in a write path, the live feed (its replay cursor must not pass events the
    /// replica has not got yet) and the public status pages and badges (their cache is emptied
    /// when a status changes and refilled at once: a lagging replica would pin the old status
    /// for `STATUS_PAGE_CACHE_SECONDS`; the cache already bounds their cost) stay on `pool`.
    pub read_pool: Pool,
    /// Settings.
    pub settings: Arc<Settings>,
    /// HS256 signing key.
    pub encoding: Arc<EncodingKey>,
    /// HS256 verification key.
    pub decoding: Arc<DecodingKey>,
    /// Every channel kind, for test sends, under the operator's network policy.
    pub channels: upcheck_channels::Channels,
    /// The keys channel configs and monitor headers are sealed with (`SECRETS_KEY`, …).
    pub secrets: Arc<upcheck_secrets::Keyring>,
    /// Heartbeat pings' rate limiter and token cache.
    pub(crate) pings: Arc<crate::routes::heartbeat::Pings>,
    /// The bound on argon2 runs at once (`PASSWORD_HASH_CONCURRENCY`).
    pub password_gate: crate::password_gate::PasswordGate,
    /// Sums of closed rollup ranges `/stats` and the latency series have read
    /// (`ROLLUP_CACHE_MB`; `None` when 0).
    pub(crate) rollup_cache: Option<upcheck_store::rollups::RollupCache>,
    /// Public status pages' and badges' data, kept for `STATUS_PAGE_CACHE_SECONDS`.
    pub(crate) public_cache: Arc<crate::routes::public::PublicCache>,
    /// The live feed's hub channel and open streams.
    pub(crate) feed: Arc<crate::feed::Feed>,
    redis: Arc<tokio::sync::Mutex<RedisSlot>>,
}

/// The lazily made Redis connection, and when the last attempt to make it failed.
#[derive(Default)]
struct RedisSlot {
    conn: Option<upcheck_streams::RedisConn>,
    failed_at: Option<std::time::Instant>,
}

/// After a failed connect, requests get a 503 at once for this long instead of each waiting.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);

impl AppState {
    /// State for `settings`; nothing connects yet.
    ///
    /// # Errors
    /// When `JWT_SECRET` or `SECRETS_KEY` is missing, the pool cannot be built or no resolver
    /// is configured.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let secret = settings.require_jwt_secret()?.expose_secret().as_bytes().to_vec();
        let secrets = Arc::new(settings.require_keyring("upcheck-api")?.clone());
        let pool = upcheck_store::connect_pool(&settings.database)?;
        let read_pool = match &settings.database_read {
            Some(replica) => upcheck_store::connect_pool(replica)?,
            None => pool.clone(),
        };
        let outbound = upcheck_net::Outbound::new(&settings.probe)?;
        let channels = upcheck_channels::Channels::new(
            &settings.channels,
            &settings.smtp,
            Duration::from_millis(settings.tunables.webhook_timeout_ms),
            outbound,
        )?;
        Ok(Self {
            pool,
            read_pool,
            channels,
            secrets,
            pings: Arc::default(),
            password_gate: crate::password_gate::PasswordGate::new(
                settings.abuse.password_hash.concurrency,
                settings.abuse.password_hash.wait_ms,
            ),
            public_cache: Arc::new(crate::routes::public::PublicCache::new(Duration::from_secs(
                settings.tunables.status_page_cache_seconds,
            ))),
            feed: Arc::default(),
            rollup_cache: upcheck_store::rollups::RollupCache::new(settings.rollups.cache_mb << 20),
            encoding: Arc::new(EncodingKey::from_secret(&secret)),
            decoding: Arc::new(DecodingKey::from_secret(&secret)),
            settings: Arc::new(settings),
            redis: Arc::new(tokio::sync::Mutex::new(RedisSlot::default())),
        })
    }

    /// A Redis connection, connecting on first use (the API starts, and answers what needs
    /// only Postgres, while Redis is down). Once made, the connection reconnects by itself.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when Redis does not answer within 2 s.
    pub async fn redis(&self) -> Result<upcheck_streams::RedisConn, ApiError> {
        let mut slot = self.redis.lock().await;
        if let Some(conn) = &slot.conn {
            return Ok(conn.clone());
        }
        if slot.failed_at.is_some_and(|t| t.elapsed() < REDIS_RETRY_AFTER) {
            return Err(ApiError::Unavailable("redis"));
        }
        let connected =
            tokio::time::timeout(Duration::from_secs(2), upcheck_streams::connect(&self.settings.redis))
                .await;
        match connected {
            Ok(Ok(c)) => {
                slot.conn = Some(c.commands.clone());
                slot.failed_at = None;
                Ok(c.commands)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis unavailable");
                slot.failed_at = Some(std::time::Instant::now());
                Err(ApiError::Unavailable("redis"))
            }
            Err(_) => {
                tracing::warn!("redis did not answer within 2000 ms");
                slot.failed_at = Some(std::time::Instant::now());
                Err(ApiError::Unavailable("redis"))
            }
        }
    }

    /// The rate limiter, on the shared Redis connection.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when Redis does not answer.
    pub async fn rate_limiter(&self) -> Result<upcheck_streams::RateLimiter, ApiError> {
        Ok(upcheck_streams::RateLimiter::new(self.redis().await?, Keys::new(&self.settings)))
    }

    /// The schedule (sorted sets and spec hashes) in Redis.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when Redis does not answer.
    pub async fn schedule(&self) -> Result<Schedule, ApiError> {
        Ok(Schedule::new(
            self.redis().await?,
            Keys::new(&self.settings),
            self.settings.tunables.monitoring_stream_maxlen,
        ))
    }
}
