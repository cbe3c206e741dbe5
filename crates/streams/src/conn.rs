//! Redis connections: one multiplexed connection for commands, one for blocking reads.

use crate::StreamError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;
use std::time::Duration;
use upcheck_config::{ConfigError, RedisSettings};

/// The two connections a process needs.
#[derive(Clone)]
pub struct RedisConns {
    /// Multiplexed, reconnecting; commands time out after 5 s.
    pub commands: ConnectionManager,
    /// For `XREADGROUP … BLOCK` (at most 2 s): a 30 s response timeout (the default 500 ms would
    /// cut
    /// blocking reads short).
    pub blocking: ConnectionManager,
}

/// A client for the Redis `settings` name (no I/O yet): `rediss://` verifies the server against
/// `REDIS_CA_CERT` when given, else the webpki roots.
///
/// # Errors
/// `REDIS_URL` when the URL is rejected by the driver, `REDIS_CA_CERT` when the CA file cannot
/// be read.
pub fn client(settings: &RedisSettings) -> Result<redis::Client, ConfigError> {
    let url = settings.url.expose_secret();
    match &settings.ca_cert {
        Some(path) if settings.is_tls() => {
            let pem = std::fs::read(path).map_err(|e| {
                ConfigError::new("REDIS_CA_CERT", format!("cannot read {}: {e}", path.display()))
            })?;
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates { client_tls: None, root_cert: Some(pem) },
            )
            .map_err(|e| ConfigError::new("REDIS_CA_CERT", e.to_string()))
        }
        _ => redis::Client::open(url).map_err(|e| ConfigError::new("REDIS_URL", format!("rejected: {e}"))),
    }
}

/// Connects both connections.
///
/// # Errors
/// [`StreamError`] when Redis cannot be reached or the settings are unusable.
pub async fn connect(settings: &RedisSettings) -> Result<RedisConns, StreamError> {
    let client = client(settings)?;
    let base = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    let commands = ConnectionManager::new_with_config(
        client.clone(),
        base.clone().set_response_timeout(Some(Duration::from_secs(5))),
    )
    .await?;
    let blocking =
        ConnectionManager::new_with_config(client, base.set_response_timeout(Some(Duration::from_secs(30))))
            .await?;
    Ok(RedisConns { commands, blocking })
}
