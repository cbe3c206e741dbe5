//! Upcheck's settings: built-in defaults < optional `UPCHECK_CONFIG` file < environment, and
//! the resolution of `DATABASE_URL` (with `sslmode`) and the Redis connection.
//!
//! Every variable is read as text and converted here, so that a missing or malformed one stops
//! start-up with one line naming it ([`ConfigError`]). Secrets are [`secrecy::SecretString`]s
//! and never appear in `Debug` output.

mod abuse;
mod channels;
mod database;
mod events;
mod housekeeping;
mod jwt_secret;
mod probe;
mod redis_conn;
mod retention;
mod rollups;
mod secrets_key;
mod settings;
mod smtp;

pub use abuse::{AbuseSettings, PasswordHashSettings, RateLimitSettings};
pub use channels::ChannelSettings;
pub use database::{DEFAULT_DATABASE_POOL_SIZE, DatabaseNet, DatabaseSettings, PgSslMode};
pub use events::EventSettings;
pub use housekeeping::HousekeepingSettings;
pub use probe::{ProbeSettings, QuotaSettings};
pub use redis_conn::RedisSettings;
pub use retention::RawRetentionSettings;
pub use rollups::RollupSettings;
pub use secrets_key::DEFAULT_KEY_ID as DEFAULT_SECRETS_KEY_ID;
pub use settings::{LogFormat, MetricsSettings, Settings, StreamSettings, Tunables};
pub use smtp::SmtpSettings;

/// A setting that is missing or malformed. Displays as one line: `VARIABLE: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable (or file key, upper-cased) at fault.
    pub variable: String,
    /// What is wrong with it; never contains the value of a secret.
    pub message: String,
}

impl ConfigError {
    /// An error naming `variable` (for the crates that act on settings: the store's TLS, the
    /// Redis client).
    pub fn new(variable: &str, message: impl Into<String>) -> Self {
        Self { variable: variable.to_string(), message: message.into() }
    }
}

/// Installs aws-lc-rs as the process-wide rustls crypto provider. Call once at start-up: two
/// providers end up linked (reqwest brings ring), and rustls then refuses to pick one itself.
/// Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
