//! Each monitor kind's own settings (`config` on `POST /monitors`), validated field by field.
//!
//! In the API and in Postgres (`monitors.config`) a config is the kind's plain object; on the
//! streams it travels inside the [`ProbeSpec`](crate::ProbeSpec) tagged by kind
//! (`{"tcp": {"host": …}}`), so the probe path reads nothing from Postgres.

use crate::assertions::Assertion;
use crate::monitor::{MonitorKind, ValidationError};
use serde::{Deserialize, Serialize};

/// Most assertions one HTTP monitor may carry.
pub const MAX_ASSERTIONS: usize = 20;
/// Most redirects a monitor may follow.
pub const MAX_REDIRECTS_LIMIT: u8 = 20;
/// Default redirects followed.
pub const DEFAULT_MAX_REDIRECTS: u8 = 10;
/// Default days before expiry that a certificate is reported as expiring.
pub const DEFAULT_EXPIRY_WARNING_DAYS: u16 = 14;
/// Most bytes a TCP monitor sends or expects.
pub const MAX_TCP_PAYLOAD: usize = 4_096;
/// Most expected values a DNS monitor may list.
pub const MAX_DNS_EXPECTED: usize = 32;

fn default_max_redirects() -> u8 {
    DEFAULT_MAX_REDIRECTS
}

fn default_expiry_warning_days() -> u16 {
    DEFAULT_EXPIRY_WARNING_DAYS
}

fn default_tls_port() -> u16 {
    443
}

/// `http`: assertions on the response, redirects, a degraded-latency mark and an optional
/// certificate check for `https` URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"assertions": [
    {"type": "body_contains", "value": "OK"},
    {"type": "json", "pointer": "/status", "op": "equals", "value": "ok"},
    {"type": "header", "name": "content-type", "op": "matches", "value": "^application/json"},
    {"type": "latency_below", "ms": 2000}],
    "max_redirects": 3, "degraded_latency_ms": 800, "certificate": {"expiry_warning_days": 14}}))]
pub struct HttpConfig {
    /// Every one must hold (besides `expected_status`); each failing one is named in the
    /// check's `error`. At most 20.
    #[serde(default)]
    pub assertions: Vec<Assertion>,
    /// Redirects followed, 0 to 20 (default 10); 0 refuses them: the 3xx answer itself is judged.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u8,
    /// A successful check slower than this many ms is `degraded`: up, shown and counted apart,
    /// never an incident. Below the monitor's `timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_latency_ms: Option<u32>,
    /// For `https` URLs: also check the certificate's days to expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateCheck>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            assertions: Vec::new(),
            max_redirects: DEFAULT_MAX_REDIRECTS,
            degraded_latency_ms: None,
            certificate: None,
        }
    }
}

/// The certificate check on an `https` monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateCheck {
    /// Days before `notAfter` from which the certificate is reported as expiring (default 14, 1 to 365).
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: u16,
}

/// `tcp`: connect to `host:port` within the timeout; optionally send bytes and expect the
/// answer to start with a banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"host": "bastion.example.com", "port": 22, "expect": "SSH-2.0"}))]
pub struct TcpConfig {
    /// A host name or IP address.
    pub host: String,
    /// 1 to 65,535.
    pub port: u16,
    /// Sent once connected (UTF-8, at most 4,096 bytes; `\r\n` as you need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// The first bytes received must start with this (at most 4,096 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// `tls`: a TLS handshake with `host:port`; the chain must be valid for the host name and the
/// certificate not expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"host": "example.com", "port": 443, "expiry_warning_days": 21}))]
pub struct TlsConfig {
    /// A host name (checked against the certificate) or an IP address.
    pub host: String,
    /// Default 443.
    #[serde(default = "default_tls_port")]
    pub port: u16,
    /// Days before `notAfter` from which the certificate is reported as expiring (default 14, 1 to 365).
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: u16,
}

/// The DNS record types a `dns` monitor can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordType {
    /// IPv4 addresses (the default).
    #[default]
    A,
    /// IPv6 addresses.
    Aaaa,
    /// A canonical name.
    Cname,
    /// Mail exchangers, as `preference exchange`.
    Mx,
    /// Text records (the strings of one record joined).
    Txt,
    /// Name servers.
    Ns,
}

impl DnsRecordType {
    /// The type's name (`A`, `AAAA`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Ns => "NS",
        }
    }
}

/// How a `dns` monitor's expected values are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DnsMatch {
    /// At least one expected value is among the answers (the default).
    #[default]
    Any,
    /// Every expected value is among the answers.
    All,
}

/// `dns`: resolve `name` through the system resolver or `resolver`; optionally expect values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "example.com", "record_type": "MX", "resolver": "9.9.9.9",
    "expected": ["10 mx1.example.com", "20 mx2.example.com"], "match": "all"}))]
pub struct DnsConfig {
    /// The name to resolve.
    pub name: String,
    /// `A` (default), `AAAA`, `CNAME`, `MX`, `TXT` or `NS`.
    #[serde(default)]
    pub record_type: DnsRecordType,
    /// A name server, `ip` or `ip:port` (default: the probes' own resolver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// Values the answer must contain (addresses, names, `10 mx.example.com`, text); compared
    /// case-insensitively, names without the final dot. Empty: any answer is up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected: Vec<String>,
    /// `any` (default) or `all` of `expected`.
    #[serde(default, rename = "match")]
    pub match_: DnsMatch,
}

/// `heartbeat`: the monitored job pings Upcheck; silence longer than the period plus the grace
/// is `down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"period_seconds": 86400, "grace_seconds": 3600}))]
pub struct HeartbeatConfig {
    /// How often the job pings, 1 to 31,536,000 seconds (and at least `MIN_INTERVAL_SECONDS`).
    pub period_seconds: u32,
    /// How late a ping may be, 0 to 86,400 seconds (default 60); also how long a started run may take.
    #[serde(default = "default_grace")]
    pub grace_seconds: u32,
}

fn default_grace() -> u32 {
    60
}

impl HeartbeatConfig {
    /// How long after a ping the next one may arrive before the monitor is late, ms.
    pub fn window_ms(&self) -> i64 {
        (i64::from(self.period_seconds) + i64::from(self.grace_seconds)) * 1_000
    }

    /// The failed check's error when a deadline passes with no ping.
    pub fn missed(&self) -> String {
        format!(
            "no ping within {} s + {} s grace (or a started run did not finish within the grace)",
            self.period_seconds, self.grace_seconds
        )
    }
}

/// A monitor kind's settings, one variant per [`MonitorKind`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindConfig {
    /// See [`HttpConfig`].
    Http(HttpConfig),
    /// See [`TcpConfig`].
    Tcp(TcpConfig),
    /// See [`DnsConfig`].
    Dns(DnsConfig),
    /// See [`TlsConfig`].
    Tls(TlsConfig),
    /// See [`HeartbeatConfig`].
    Heartbeat(HeartbeatConfig),
}

impl Default for KindConfig {
    /// An `http` monitor with no assertions (what a job written before kinds existed meant).
    fn default() -> Self {
        Self::Http(HttpConfig::default())
    }
}

impl KindConfig {
    /// The kind this config belongs to.
    pub fn kind(&self) -> MonitorKind {
        match self {
            Self::Http(_) => MonitorKind::Http,
            Self::Tcp(_) => MonitorKind::Tcp,
            Self::Dns(_) => MonitorKind::Dns,
            Self::Tls(_) => MonitorKind::Tls,
            Self::Heartbeat(_) => MonitorKind::Heartbeat,
        }
    }

    /// Parses the kind's plain object (`null` or absent: that kind's defaults, where it has
    /// them). Errors name the field under `config` (`config.assertions[0].pointer`).
    ///
    /// # Errors
    /// A [`ValidationError`] naming the first bad field.
    pub fn from_json(kind: MonitorKind, value: &serde_json::Value) -> Result<Self, ValidationError> {
        fn parse<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, ValidationError> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { "config".to_string() } else { format!("config.{path}") };
                ValidationError::new(field, e.into_inner().to_string())
            })
        }
        let value = if value.is_null() { &serde_json::json!({}) } else { value };
        if !value.is_object() {
            return Err(ValidationError::new("config", "must be an object"));
        }
        Ok(match kind {
            MonitorKind::Http => Self::Http(parse(value)?),
            MonitorKind::Tcp => Self::Tcp(parse(value)?),
            MonitorKind::Dns => Self::Dns(parse(value)?),
            MonitorKind::Tls => Self::Tls(parse(value)?),
            MonitorKind::Heartbeat => Self::Heartbeat(parse(value)?),
        })
    }

    /// The kind's plain object, as the API shows it and Postgres stores it.
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Self::Http(c) => serde_json::to_value(c),
            Self::Tcp(c) => serde_json::to_value(c),
            Self::Dns(c) => serde_json::to_value(c),
            Self::Tls(c) => serde_json::to_value(c),
            Self::Heartbeat(c) => serde_json::to_value(c),
        };
        v.unwrap_or(serde_json::Value::Null)
    }

    /// What the monitor targets, shown as its `url` for kinds without one:
    /// `tcp://host:port`, `tls://host:port`, `dns://name/TYPE`, `heartbeat:`.
    pub fn target(&self) -> Option<String> {
        let host = |h: &str| if h.contains(':') { format!("[{h}]") } else { h.to_string() };
        match self {
            Self::Http(_) => None,
            Self::Tcp(c) => Some(format!("tcp://{}:{}", host(&c.host), c.port)),
            Self::Tls(c) => Some(format!("tls://{}:{}", host(&c.host), c.port)),
            Self::Dns(c) => Some(format!("dns://{}/{}", c.name, c.record_type.as_str())),
            Self::Heartbeat(_) => Some("heartbeat:".into()),
        }
    }

    /// Checks the kind's rules; `timeout_ms` is the monitor's probe timeout.
    ///
    /// # Errors
    /// The first offending field, named under `config`.
    pub fn validate(&self, timeout_ms: u32) -> Result<(), ValidationError> {
        match self {
            Self::Http(c) => {
                if c.assertions.len() > MAX_ASSERTIONS {
                    return Err(ValidationError::new(
                        "config.assertions",
                        format!("at most {MAX_ASSERTIONS}"),
                    ));
                }
                for (i, a) in c.assertions.iter().enumerate() {
                    a.validate()
                        .map_err(|(f, m)| ValidationError::new(format!("config.assertions[{i}].{f}"), m))?;
                }
                if c.max_redirects > MAX_REDIRECTS_LIMIT {
                    return Err(ValidationError::new(
                        "config.max_redirects",
                        format!("must be between 0 and {MAX_REDIRECTS_LIMIT}"),
                    ));
                }
                if let Some(ms) = c.degraded_latency_ms
                    && (ms == 0 || ms >= timeout_ms)
                {
                    return Err(ValidationError::new(
                        "config.degraded_latency_ms",
                        "must be above 0 and below timeout_ms",
                    ));
                }
                if let Some(cert) = c.certificate {
                    warning_days("config.certificate.expiry_warning_days", cert.expiry_warning_days)?;
                }
                Ok(())
            }
            Self::Tcp(c) => {
                host_field("config.host", &c.host)?;
                port_field("config.port", c.port)?;
                for (field, v) in [("config.send", &c.send), ("config.expect", &c.expect)] {
                    if v.as_ref().is_some_and(|s| s.is_empty() || s.len() > MAX_TCP_PAYLOAD) {
                        return Err(ValidationError::new(field, format!("1 to {MAX_TCP_PAYLOAD} bytes")));
                    }
                }
                Ok(())
            }
            Self::Tls(c) => {
                host_field("config.host", &c.host)?;
                port_field("config.port", c.port)?;
                warning_days("config.expiry_warning_days", c.expiry_warning_days)
            }
            Self::Dns(c) => {
                host_field("config.name", &c.name)?;
                if let Some(r) = &c.resolver {
                    parse_resolver(r).map_err(|m| ValidationError::new("config.resolver", m))?;
                }
                if c.expected.len() > MAX_DNS_EXPECTED
                    || c.expected.iter().any(|e| e.trim().is_empty() || e.len() > 1_024)
                {
                    return Err(ValidationError::new(
                        "config.expected",
                        format!("at most {MAX_DNS_EXPECTED} values of 1 to 1,024 characters"),
                    ));
                }
                Ok(())
            }
            Self::Heartbeat(c) => {
                if !(1..=31_536_000).contains(&c.period_seconds) {
                    return Err(ValidationError::new(
                        "config.period_seconds",
                        "must be between 1 and 31,536,000",
                    ));
                }
                if c.grace_seconds > 86_400 {
                    return Err(ValidationError::new("config.grace_seconds", "must be between 0 and 86,400"));
                }
                Ok(())
            }
        }
    }
}

/// Parses a `dns` monitor's `resolver`: `ip` or `ip:port` (port 53 by default).
///
/// # Errors
/// What is wrong with it.
pub fn parse_resolver(raw: &str) -> Result<std::net::SocketAddr, String> {
    raw.parse::<std::net::SocketAddr>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
        .map_err(|_| "must be an address like 9.9.9.9 or [2620:fe::fe]:53".to_string())
}

fn warning_days(field: &str, days: u16) -> Result<(), ValidationError> {
    if (1..=365).contains(&days) {
        Ok(())
    } else {
        Err(ValidationError::new(field, "must be between 1 and 365"))
    }
}

fn port_field(field: &str, port: u16) -> Result<(), ValidationError> {
    if port == 0 { Err(ValidationError::new(field, "must be between 1 and 65535")) } else { Ok(()) }
}

/// A host name (letters, digits, `-`, `_`, dots; at most 253 characters) or an IP address.
fn host_field(field: &str, host: &str) -> Result<(), ValidationError> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok { Ok(()) } else { Err(ValidationError::new(field, "must be a host name or an IP address")) }
}

/// The host of a kind's target as the network policy judges it (`None` for http, whose URL is
/// judged, and heartbeat, which connects nowhere): the tcp/tls host, a dns monitor's resolver.
pub fn policy_host(config: &KindConfig) -> Option<(&'static str, String)> {
    match config {
        KindConfig::Tcp(c) => Some(("config.host", c.host.clone())),
        KindConfig::Tls(c) => Some(("config.host", c.host.clone())),
        KindConfig::Dns(c) => c
            .resolver
            .as_deref()
            .and_then(|r| parse_resolver(r).ok())
            .map(|a| ("config.resolver", a.ip().to_string())),
        KindConfig::Http(_) | KindConfig::Heartbeat(_) => None,
    }
}

#[cfg(test)]
#[path = "probe_config_tests.rs"]
mod tests;
