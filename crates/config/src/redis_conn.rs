//! Redis connection resolution: `REDIS_URL` wins; else `REDIS_ADDR` with optional
//! `REDIS_USERNAME`, `REDIS_PASSWORD` and `REDIS_TLS`.

use crate::ConfigError;
use crate::settings::RedisInputs;
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;

/// Resolved Redis settings.
#[derive(Clone)]
pub struct RedisSettings {
    /// The full connection URL (`redis://` or `rediss://`), credentials included.
    pub url: SecretString,
    /// `REDIS_KEY_PREFIX` (default `upcheck:`): every key but the streams lives under it.
    pub key_prefix: String,
    /// `REDIS_CA_CERT`: PEM roots for `rediss://`; without it, the webpki roots.
    pub ca_cert: Option<PathBuf>,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("endpoint", &self.redacted_endpoint())
            .field("key_prefix", &self.key_prefix)
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

impl RedisSettings {
    pub(crate) fn resolve(i: &RedisInputs) -> Result<Self, ConfigError> {
        let url = match (&i.url, &i.addr) {
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
        let ca_cert = i.ca_cert.as_ref().map(PathBuf::from);
        if let Some(p) = ca_cert.as_ref().filter(|p| !p.is_file()) {
            return Err(ConfigError::new("REDIS_CA_CERT", format!("no such file {}", p.display())));
        }
        Ok(Self { url: SecretString::from(url), key_prefix: i.key_prefix.clone(), ca_cert })
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
