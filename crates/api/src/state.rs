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
    /// The Postgres pool.
    pub pool: Pool,
    /// Settings.
    pub settings: Arc<Settings>,
    /// HS256 signing key.
    pub encoding: Arc<EncodingKey>,
    /// HS256 verification key.
    pub decoding: Arc<DecodingKey>,
    redis: Arc<tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>>,
}

impl AppState {
    /// State for `settings`; nothing connects yet.
    ///
    /// # Errors
    /// When `JWT_SECRET` is missing or the pool cannot be built.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let secret = settings.require_jwt_secret()?.expose_secret().as_bytes().to_vec();
        let pool = upcheck_store::connect_pool(&settings.database)?;
        Ok(Self {
            pool,
            encoding: Arc::new(EncodingKey::from_secret(&secret)),
            decoding: Arc::new(DecodingKey::from_secret(&secret)),
            settings: Arc::new(settings),
            redis: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// A Redis connection, connecting on first use (the API starts, and answers what needs
    /// only Postgres, while Redis is down).
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when Redis does not answer within 2 s.
    pub async fn redis(&self) -> Result<redis::aio::ConnectionManager, ApiError> {
        let mut slot = self.redis.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let connected =
            tokio::time::timeout(Duration::from_secs(2), upcheck_streams::connect(&self.settings.redis))
                .await
                .map_err(|_| ApiError::Unavailable("redis"))?
                .map_err(|e| {
                    tracing::warn!(error = %e, "redis unavailable");
                    ApiError::Unavailable("redis")
                })?;
        *slot = Some(connected.commands.clone());
        Ok(connected.commands)
    }

    /// The schedule (sorted sets and spec hashes) in Redis.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when Redis does not answer.
    pub async fn schedule(&self) -> Result<Schedule, ApiError> {
        Ok(Schedule::new(
            self.redis().await?,
            Keys::new(&self.settings),
            self.settings.tunables.stream_maxlen,
        ))
    }
}
