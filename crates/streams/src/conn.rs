//! Redis connections: one multiplexed connection for commands, one for blocking reads, to a single
//! Redis or to a Redis Cluster (`REDIS_CLUSTER_URLS`, `redis+cluster://`), behind one type.

use crate::StreamError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use secrecy::ExposeSecret;
use std::time::Duration;
use upcheck_config::{ConfigError, RedisSettings};

/// A connection to a single Redis or to a Redis Cluster; every command, pipeline and script
/// goes through it ([`ConnectionLike`]), so no caller knows which.
///
/// On a cluster each command goes to the master owning its key's hash slot (redirections and
/// topology changes are followed by redis-rs); a pipeline or a script must touch keys of one
/// slot only (see [`crate::Keys`] for the hash tags that make them so). Both kinds reconnect by
/// themselves.
#[derive(Clone)]
pub enum RedisConn {
    /// One Redis (`REDIS_URL` / `REDIS_ADDR`): a reconnecting multiplexed connection.
    Single(ConnectionManager),
    /// A Redis Cluster: one multiplexed connection per node, routed by hash slot.
    Cluster(ClusterConnection),
}

impl RedisConn {
    /// Whether this is a Redis Cluster connection.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// The two connections a process needs.
#[derive(Clone)]
pub struct RedisConns {
    /// Multiplexed, reconnecting; commands time out after 5 s.
    pub commands: RedisConn,
    /// For `XREADGROUP … BLOCK` (at most 2 s): a 30 s response timeout (the default 500 ms would
    /// cut blocking reads short).
    pub blocking: RedisConn,
}

/// The CA roots for `rediss://` from `REDIS_CA_CERT`, if given.
fn ca_pem(settings: &RedisSettings) -> Result<Option<Vec<u8>>, ConfigError> {
    match &settings.ca_cert {
        Some(path) if settings.is_tls() => std::fs::read(path)
            .map(Some)
            .map_err(|e| ConfigError::new("REDIS_CA_CERT", format!("cannot read {}: {e}", path.display()))),
        _ => Ok(None),
    }
}

/// A client for one node at `url` (no I/O yet), verifying `rediss://` against `ca`.
fn node_client(url: &str, ca: Option<Vec<u8>>, var: &'static str) -> Result<redis::Client, ConfigError> {
    match ca {
        Some(pem) => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates { client_tls: None, root_cert: Some(pem) },
        )
        .map_err(|e| ConfigError::new("REDIS_CA_CERT", e.to_string())),
        None => redis::Client::open(url).map_err(|e| ConfigError::new(var, format!("rejected: {e}"))),
    }
}

/// A client for the Redis `settings` name (no I/O yet): `rediss://` verifies the server against
/// `REDIS_CA_CERT` when given, else the webpki roots. On a cluster, a client of the first seed
/// node (enough for pub/sub and node-local commands; use [`connect`] for keyed commands).
///
/// # Errors
/// `REDIS_URL` when the URL is rejected by the driver, `REDIS_CA_CERT` when the CA file cannot
/// be read.
pub fn client(settings: &RedisSettings) -> Result<redis::Client, ConfigError> {
    node_client(settings.url.expose_secret(), ca_pem(settings)?, "REDIS_URL")
}

/// A client of each cluster seed node, or of the one Redis (no I/O yet).
///
/// # Errors
/// As [`client`].
pub fn node_clients(settings: &RedisSettings) -> Result<Vec<redis::Client>, ConfigError> {
    if !settings.is_cluster() {
        return Ok(vec![client(settings)?]);
    }
    let ca = ca_pem(settings)?;
    settings
        .cluster_urls
        .iter()
        .map(|u| node_client(u.expose_secret(), ca.clone(), "REDIS_CLUSTER_URLS"))
        .collect()
}

/// A cluster client over the seed nodes with `response_timeout` per request.
fn cluster_client(
    settings: &RedisSettings,
    response_timeout: Duration,
) -> Result<ClusterClient, ConfigError> {
    let seeds: Vec<&str> = settings.cluster_urls.iter().map(|u| u.expose_secret()).collect();
    let mut builder = ClusterClientBuilder::new(seeds)
        .connection_timeout(Duration::from_secs(5))
        .response_timeout(response_timeout)
        .retries(3)
        .max_retry_wait(2_000);
    if let Some(pem) = ca_pem(settings)? {
        builder = builder.certs(redis::TlsCertificates { client_tls: None, root_cert: Some(pem) });
    }
    builder.build().map_err(|e| ConfigError::new("REDIS_CLUSTER_URLS", format!("rejected: {e}")))
}

/// Connects both connections, to the one Redis or to the cluster.
///
/// # Errors
/// [`StreamError`] when Redis cannot be reached or the settings are unusable.
pub async fn connect(settings: &RedisSettings) -> Result<RedisConns, StreamError> {
    if settings.is_cluster() {
        let commands = cluster_client(settings, Duration::from_secs(5))?.get_async_connection().await?;
        let blocking = cluster_client(settings, Duration::from_secs(30))?.get_async_connection().await?;
        return Ok(RedisConns {
            commands: RedisConn::Cluster(commands),
            blocking: RedisConn::Cluster(blocking),
        });
    }
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
    Ok(RedisConns { commands: RedisConn::Single(commands), blocking: RedisConn::Single(blocking) })
}

/// A pub/sub connection subscribed to `channel`. On a cluster, to the first seed node that
/// answers: a cluster forwards every `PUBLISH` to all its nodes, so one node hears the whole
/// channel whichever node the publisher reached.
///
/// # Errors
/// [`StreamError`] when no node answers within 5 s or the subscription is refused.
pub async fn subscribe(settings: &RedisSettings, channel: &str) -> Result<redis::aio::PubSub, StreamError> {
    let mut last = None;
    for client in node_clients(settings)? {
        match tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub()).await {
            Ok(Ok(mut pubsub)) => {
                pubsub.subscribe(channel).await?;
                return Ok(pubsub);
            }
            Ok(Err(e)) => last = Some(StreamError::from(e)),
            Err(_) => last = Some(StreamError::Reply("Redis did not answer within 5000 ms".into())),
        }
    }
    Err(last.unwrap_or_else(|| StreamError::Reply("no Redis node to subscribe on".into())))
}

/// Renames `old` to `new` on a single Redis when `old` exists and `new` does not (`RENAMENX`):
/// a key whose name gained a hash tag keeps its contents across the upgrade. Returns whether it
/// renamed. Nothing to do on a cluster (deployments there start with the tagged names).
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn adopt_legacy_key(conn: &RedisConn, old: &str, new: &str) -> Result<bool, StreamError> {
    if conn.is_cluster() || old == new {
        return Ok(false);
    }
    let renamed: Result<bool, redis::RedisError> =
        redis::cmd("RENAMENX").arg(old).arg(new).query_async(&mut conn.clone()).await;
    match renamed {
        Ok(done) => Ok(done),
        Err(e) if e.to_string().contains("no such key") => Ok(false),
        Err(e) => Err(e.into()),
    }
}
