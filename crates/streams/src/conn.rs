//! Redis connections: one multiplexed connection for commands, one for blocking reads.

use crate::StreamError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use upcheck_config::RedisSettings;

/// The two connections a process needs.
#[derive(Clone)]
pub struct RedisConns {
    /// Multiplexed, reconnecting; commands time out after 5 s.
    pub commands: ConnectionManager,
    /// For `XREADGROUP … BLOCK` (at most 2 s): a 30 s response timeout (the default 500 ms would cut
    /// blocking reads short).
    pub blocking: ConnectionManager,
}

/// Connects both connections.
///
/// # Errors
/// [`StreamError`] when Redis cannot be reached or the settings are unusable.
pub async fn connect(settings: &RedisSettings) -> Result<RedisConns, StreamError> {
    let client = settings.client()?;
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
