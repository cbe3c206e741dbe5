//! Redis connection resolution: `REDIS_CLUSTER_URLS` (a Redis Cluster's seed nodes) wins; else
//! `REDIS_URL` (`redis+cluster://` or `rediss+cluster://` also means a cluster, seeded by that one
//! node); else `REDIS_ADDR` with optional `REDIS_USERNAME`, `REDIS_PASSWORD` and `REDIS_TLS`.

use crate::ConfigError;
use crate::settings::RedisInputs;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

/// Resolved Redis settings.
#[derive(Clone)]
pub struct RedisSettings {
    /// The full connection URL (`redis://` or `rediss://`), credentials included. On a cluster,
    /// the first seed node.
    pub url: SecretString,
    /// A Redis Cluster's seed nodes (`redis://` or `rediss://` URLs, credentials included), from
    /// `REDIS_CLUSTER_URLS` or a `redis+cluster://` `REDIS_URL`; empty for a single Redis.
    pub cluster_urls: Vec<SecretString>,
    /// `REDIS_KEY_PREFIX` (default `upcheck:`): every key but the streams lives under it.
    pub key_prefix: String,
    /// `REDIS_CA_CERT`: PEM roots for `rediss://`; without it, the webpki roots.
    pub ca_cert: Option<PathBuf>,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("endpoint", &self.redacted_endpoint())
            .field("cluster", &self.is_cluster())
            .field("key_prefix", &self.key_prefix)
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

impl RedisSettings {
    pub(crate) fn resolve(i: &RedisInputs) -> Result<Self, ConfigError> {
        let cluster_urls = cluster_seeds(i)?;
        let url = match (&i.url, &i.addr) {
            _ if !cluster_urls.is_empty() => cluster_urls[0].clone(),
            (Some(url), _) => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| ConfigError::new("REDIS_URL", format!("not a valid URL ({e})")))?;
                if !matches!(parsed.scheme(), "redis" | "rediss") {
                    return Err(ConfigError::new("REDIS_URL", "must start with redis:// or rediss://"));
                }
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(ConfigError::new("REDIS_URL", "must name a host"));
                }
                url.clone()
            }
            (None, Some(addr)) => {
                let (host, port) = addr
                    .rsplit_once(':')
                    .ok_or_else(|| ConfigError::new("REDIS_ADDR", "expected host:port"))?;
                if host.is_empty() || port.parse::<u16>().is_err() {
                    return Err(ConfigError::new(
                        "REDIS_ADDR",
                        "expected host:port with a port from 0 to 65535",
                    ));
                }
                let scheme = if i.tls { "rediss" } else { "redis" };
                let mut u = url::Url::parse(&format!("{scheme}://{addr}"))
                    .map_err(|e| ConfigError::new("REDIS_ADDR", format!("not a valid address ({e})")))?;
                if let Some(user) = &i.username {
                    u.set_username(user)
                        .map_err(|()| ConfigError::new("REDIS_USERNAME", "cannot be used in a URL"))?;
                }
                if let Some(pass) = &i.password {
                    if i.username.is_none() {
                        u.set_username("default")
                            .map_err(|()| ConfigError::new("REDIS_ADDR", "cannot carry credentials"))?;
                    }
                    u.set_password(Some(pass))
                        .map_err(|()| ConfigError::new("REDIS_PASSWORD", "cannot be used in a URL"))?;
                }
                u.to_string()
            }
            (None, None) => "redis://127.0.0.1:6379".to_string(),
        };
        if i.key_prefix.is_empty() {
            return Err(ConfigError::new("REDIS_KEY_PREFIX", "must not be empty"));
        }
        if !cluster_urls.is_empty() && i.key_prefix.contains(['{', '}']) {
            // A tag in the prefix would put every key in one slot and break the tags Upcheck
            // gives keys that must share a stream's slot.
            return Err(ConfigError::new("REDIS_KEY_PREFIX", "must not contain { or } on a Redis Cluster"));
        }
        let ca_cert = i.ca_cert.as_ref().map(PathBuf::from);
        if let Some(p) = ca_cert.as_ref().filter(|p| !p.is_file()) {
            return Err(ConfigError::new("REDIS_CA_CERT", format!("no such file {}", p.display())));
        }
        Ok(Self {
            url: SecretString::from(url),
            cluster_urls: cluster_urls.into_iter().map(SecretString::from).collect(),
            key_prefix: i.key_prefix.clone(),
            ca_cert,
        })
    }

    /// Whether Upcheck talks to a Redis Cluster (`REDIS_CLUSTER_URLS` or `redis+cluster://`).
    pub fn is_cluster(&self) -> bool {
        !self.cluster_urls.is_empty()
    }

    /// `scheme://host:port/db` without credentials, safe to log.
    pub fn redacted_endpoint(&self) -> String {
        match url::Url::parse(self.url.expose_secret()) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            }
            Err(_) => "<unparseable>".into(),
        }
    }

    /// Whether the connection uses TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.url.expose_secret().starts_with("rediss://")
    }
}

/// The cluster's seed URLs (`redis://` or `rediss://`): from `REDIS_CLUSTER_URLS` (comma
/// separated, one TLS mode for all), else from a `redis+cluster://` / `rediss+cluster://`
/// `REDIS_URL`; empty for a single Redis.
fn cluster_seeds(i: &RedisInputs) -> Result<Vec<String>, ConfigError> {
    if let Some(list) = i.cluster_urls.as_deref().filter(|l| !l.trim().is_empty()) {
        let seeds = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| seed_url(s, "REDIS_CLUSTER_URLS", false))
            .collect::<Result<Vec<_>, _>>()?;
        if seeds.iter().any(|s| s.starts_with("rediss://") != seeds[0].starts_with("rediss://")) {
            return Err(ConfigError::new("REDIS_CLUSTER_URLS", "mixes redis:// and rediss:// nodes"));
        }
        return Ok(seeds);
    }
    match &i.url {
        Some(url) if url.starts_with("redis+cluster://") || url.starts_with("rediss+cluster://") => {
            Ok(vec![seed_url(url, "REDIS_URL", true)?])
        }
        _ => Ok(Vec::new()),
    }
}

/// One seed node's URL, checked and with a `+cluster` scheme turned into the plain one.
fn seed_url(raw: &str, var: &'static str, cluster_scheme: bool) -> Result<String, ConfigError> {
    let mut parsed =
        url::Url::parse(raw).map_err(|e| ConfigError::new(var, format!("not a valid URL ({e})")))?;
    let scheme = match (parsed.scheme(), cluster_scheme) {
        ("redis", false) | ("redis+cluster", true) => "redis",
        ("rediss", false) | ("rediss+cluster", true) => "rediss",
        _ if cluster_scheme => {
            return Err(ConfigError::new(var, "must start with redis+cluster:// or rediss+cluster://"));
        }
        _ => return Err(ConfigError::new(var, "each node must start with redis:// or rediss://")),
    };
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(var, "each node must name a host"));
    }
    if parsed.scheme() != scheme {
        // `redis+cluster` → `redis`: both schemes are not "special", so the URL crate allows it.
        parsed.set_scheme(scheme).map_err(|()| ConfigError::new(var, "cannot be turned into redis://"))?;
    }
    Ok(parsed.to_string())
}
