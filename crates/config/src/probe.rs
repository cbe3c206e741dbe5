//! Probe settings: the network policy outbound probes and deliveries obey, and name resolution.

use crate::ConfigError;
use crate::settings::Raw;
use std::net::SocketAddr;
use upcheck_domain::netpolicy::{NetworkPolicy, parse_networks};

/// What probes, webhook deliveries and channel test sends may reach, and how they resolve names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// `PROBE_ALLOW_PRIVATE` (default true), `PROBE_ALLOWED_NETWORKS`, `PROBE_BLOCKED_NETWORKS`
    /// (comma-separated CIDRs): see [`NetworkPolicy`] for the rules. Link-local and cloud
    /// metadata addresses are refused unless an allowed network names them.
    pub policy: NetworkPolicy,
    /// `PROBE_DNS_SERVERS` (default: the system's, from `/etc/resolv.conf`): name servers as
    /// `ip` or `ip:port`, comma-separated, asked over UDP then TCP.
    pub dns_servers: Vec<SocketAddr>,
    /// `PROBE_DNS_TIMEOUT_MS` (default 2,000): one DNS query's timeout; a lookup also ends with
    /// its probe's own timeout.
    pub dns_timeout_ms: u64,
    /// `PROBE_CA_CERT`: a PEM file of roots `https`, `tls` probes trust besides the public
    /// (webpki) ones, for services behind an internal CA.
    pub ca_cert: Option<std::path::PathBuf>,
    /// `PROBE_MAX_PER_HOST` (default 32): probes one monitoring replica runs at once against
    /// one target host.
    pub max_per_host: usize,
    /// `PROBE_MAX_PER_USER` (default: half of `MONITORING_CONCURRENCY`): probes one monitoring
    /// replica runs at once for one monitor owner.
    pub max_per_user: Option<usize>,
}

/// Per-user limits the API enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaSettings {
    /// `MAX_MONITORS_PER_USER` (default 10,000): monitors one member may own (admins are exempt);
    /// one more is a 409 naming the limit.
    pub max_monitors_per_user: u64,
    /// `MIN_INTERVAL_SECONDS` (default 1): the shortest `interval_seconds` a monitor may have; a
    /// shorter one is a 422 naming `interval_seconds`.
    pub min_interval_seconds: u32,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self { max_monitors_per_user: 10_000, min_interval_seconds: 1 }
    }
}

impl QuotaSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            max_monitors_per_user: raw.number(
                "MAX_MONITORS_PER_USER",
                d.max_monitors_per_user,
                0..=100_000_000,
            )?,
            min_interval_seconds: raw.number("MIN_INTERVAL_SECONDS", d.min_interval_seconds, 1..=86_400)?,
        })
    }
}

impl Default for ProbeSettings {
    /// The documented defaults.
    fn default() -> Self {
        Self {
            policy: NetworkPolicy::default(),
            dns_servers: Vec::new(),
            dns_timeout_ms: 2_000,
            ca_cert: None,
            max_per_host: 32,
            max_per_user: None,
        }
    }
}

impl ProbeSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        let networks = |var: &str| -> Result<_, ConfigError> {
            parse_networks(&raw.get(var)?.unwrap_or_default()).map_err(|e| ConfigError::new(var, e))
        };
        let policy = NetworkPolicy {
            allow_private: raw.boolean("PROBE_ALLOW_PRIVATE", d.policy.allow_private)?,
            allowed: networks("PROBE_ALLOWED_NETWORKS")?,
            blocked: networks("PROBE_BLOCKED_NETWORKS")?,
        };
        let dns_servers = raw
            .get("PROBE_DNS_SERVERS")?
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<SocketAddr>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| {
                        ConfigError::new(
                            "PROBE_DNS_SERVERS",
                            format!("{s:?} is not an address like 10.0.0.2 or 10.0.0.2:53"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        let ca_cert = raw.get("PROBE_CA_CERT")?.map(std::path::PathBuf::from);
        if let Some(path) = &ca_cert
            && !path.is_file()
        {
            return Err(ConfigError::new("PROBE_CA_CERT", format!("no such file {}", path.display())));
        }
        let max_per_user = match raw.get("PROBE_MAX_PER_USER")? {
            None => None,
            Some(_) => Some(raw.number("PROBE_MAX_PER_USER", 1, 1..=100_000)?),
        };
        Ok(Self {
            policy,
            dns_servers,
            ca_cert,
            max_per_host: raw.number("PROBE_MAX_PER_HOST", d.max_per_host, 1..=100_000)?,
            max_per_user,
            dns_timeout_ms: raw.number("PROBE_DNS_TIMEOUT_MS", d.dns_timeout_ms, 50..=30_000)?,
        })
    }
}
