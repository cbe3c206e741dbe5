//! Monitors: their kinds, the probe specification a check job carries, and validation rules.

use crate::expected::ExpectedStatus;
use crate::probe_config::KindConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Smallest allowed check interval, in seconds.
pub const MIN_INTERVAL_SECONDS: u32 = 1;
/// Largest allowed check interval, in seconds (one day).
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
/// Smallest allowed probe timeout, in milliseconds.
pub const MIN_TIMEOUT_MS: u32 = 100;
/// Largest allowed probe timeout, in milliseconds.
pub const MAX_TIMEOUT_MS: u32 = 60_000;
/// Largest allowed consecutive-check threshold (failure or recovery).
pub const MAX_THRESHOLD: u16 = 20;
/// Most request headers a monitor may send.
pub const MAX_HEADERS: usize = 32;
/// Most regions a monitor may list.
pub const MAX_REGIONS: usize = 16;

/// A region name as `REGION` allows it: 1 to 64 letters, digits, `-` and `_`.
pub fn valid_region(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Default interval between checks, in seconds.
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
/// Default probe timeout, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

/// What a monitor probes; each kind has its own [`KindConfig`] and its own probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MonitorKind {
    /// An HTTP(S) request whose status code is compared with `expected_status` and whose
    /// response must satisfy the config's assertions.
    #[default]
    Http,
    /// A TCP connect, optionally with bytes sent and a banner expected.
    Tcp,
    /// A DNS lookup, optionally with expected answers.
    Dns,
    /// A TLS handshake: chain valid for the host, days to expiry.
    Tls,
    /// Pings pushed by the monitored job; silence is `down`.
    Heartbeat,
}

impl MonitorKind {
    /// Every kind.
    pub const ALL: [MonitorKind; 5] = [Self::Http, Self::Tcp, Self::Dns, Self::Tls, Self::Heartbeat];

    /// The lowercase name stored in Postgres and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Tcp => "tcp",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Heartbeat => "heartbeat",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The HTTP methods a probe may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET (the default).
    #[default]
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl HttpMethod {
    /// The method's upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }

    /// Parses an upper-case name as stored in Postgres.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_uppercase())).ok()
    }
}

/// Everything a probe and the status machine need about one monitor. The API writes it to the
/// Redis spec hash; the scheduler copies it into each check job, so the probe path reads nothing
/// from Postgres.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSpec {
    /// The monitor's id.
    pub monitor_id: Uuid,
    /// What kind of probe to run.
    pub kind: MonitorKind,
    /// The target: an `http://` or `https://` URL for `http`; for other kinds the target their
    /// config names, as [`KindConfig::target`] writes it (`tcp://db:5432`).
    pub url: String,
    /// The request method.
    pub method: HttpMethod,
    /// Extra request headers, name to value, in clear: as the API receives them, before
    /// [`ProbeSpec::seal_headers`] moves them into `sealed_headers` (empty in every spec
    /// stored or sent since; clear only in specs written before headers were sealed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The request headers sealed under `SECRETS_KEY`, bound to the monitor's id: what
    /// Postgres, the Redis spec and each check job hold; opened only by the probe
    /// ([`ProbeSpec::open_headers`]) and by the API to show them masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_headers: Option<upcheck_secrets::Sealed>,
    /// An optional request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Seconds between two checks.
    pub interval_seconds: u32,
    /// Probe timeout in milliseconds; always below the interval.
    pub timeout_ms: u32,
    /// Status codes that count as success.
    pub expected_status: Vec<ExpectedStatus>,
    /// Consecutive failures before `down`.
    pub failure_threshold: u16,
    /// Consecutive successes before `up` again.
    pub recovery_threshold: u16,
    /// The kind's own settings (absent in jobs written before kinds existed: an `http`
    /// monitor with no assertions).
    #[serde(default)]
    pub config: KindConfig,
    /// The monitor's owner, for fair probing (one user's probes cannot take every slot);
    /// absent in specs written before it was carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
    /// The regions that probe it (empty: every region that has a monitoring replica).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Regions that must see it down before it is `down` (`None`: a majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_failed_regions: Option<u16>,
}

/// A rejected field: `field` is the JSON name (dotted for nested ones), `message` says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The offending field's JSON name.
    pub field: String,
    /// A human-readable reason.
    pub message: String,
}

impl ValidationError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl ProbeSpec {
    /// Checks every field against Upcheck's limits.
    ///
    /// # Errors
    /// The first offending field, as a [`ValidationError`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.config.kind() != self.kind {
            return Err(ValidationError::new("config", format!("is not a {} config", self.kind.as_str())));
        }
        if self.kind == MonitorKind::Http {
            validate_url(&self.url)?;
        }
        self.config.validate(self.timeout_ms)?;
        if !(MIN_INTERVAL_SECONDS..=MAX_INTERVAL_SECONDS).contains(&self.interval_seconds) {
            return Err(ValidationError::new(
                "interval_seconds",
                format!("must be between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS}"),
            ));
        }
        if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return Err(ValidationError::new(
                "timeout_ms",
                format!("must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}"),
            ));
        }
        if u64::from(self.timeout_ms) >= u64::from(self.interval_seconds) * 1000 {
            return Err(ValidationError::new("timeout_ms", "must be below interval_seconds × 1000"));
        }
        if self.expected_status.is_empty() {
            return Err(ValidationError::new("expected_status", "must not be empty"));
        }
        for (name, value) in
            [("failure_threshold", self.failure_threshold), ("recovery_threshold", self.recovery_threshold)]
        {
            if !(1..=MAX_THRESHOLD).contains(&value) {
                return Err(ValidationError::new(name, format!("must be between 1 and {MAX_THRESHOLD}")));
            }
        }
        if self.regions.len() > MAX_REGIONS
            || self.regions.iter().any(|r| !valid_region(r))
            || (1..self.regions.len()).any(|i| self.regions[..i].contains(&self.regions[i]))
        {
            return Err(ValidationError::new(
                "regions",
                format!("at most {MAX_REGIONS} distinct names of letters, digits, '-' and '_'"),
            ));
        }
        if let Some(n) = self.min_failed_regions {
            let most = if self.regions.is_empty() { MAX_REGIONS } else { self.regions.len() };
            if n == 0 || usize::from(n) > most {
                return Err(ValidationError::new(
                    "min_failed_regions",
                    format!("must be between 1 and {most} (the regions listed)"),
                ));
            }
        }
        if self.headers.len() > MAX_HEADERS {
            return Err(ValidationError::new("headers", format!("at most {MAX_HEADERS} headers")));
        }
        for (name, value) in &self.headers {
            let token = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token {
                return Err(ValidationError::new("headers", format!("invalid header name {name:?}")));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(ValidationError::new("headers", format!("invalid value for header {name:?}")));
            }
        }
        Ok(())
    }
}

/// Accepts absolute `http://` and `https://` URLs with a host.
///
/// # Errors
/// A [`ValidationError`] on field `url`.
pub fn validate_url(raw: &str) -> Result<url::Url, ValidationError> {
    let parsed =
        url::Url::parse(raw).map_err(|e| ValidationError::new("url", format!("not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ValidationError::new("url", "must use http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ValidationError::new("url", "must name a host"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ProbeSpec {
        ProbeSpec {
            monitor_id: Uuid::nil(),
            kind: MonitorKind::Http,
            url: "https://example.com/health".into(),
            method: HttpMethod::Get,
            headers: BTreeMap::new(),
            sealed_headers: None,
            body: None,
            interval_seconds: 60,
            timeout_ms: 5000,
            expected_status: ExpectedStatus::default_rules(),
            failure_threshold: 2,
            recovery_threshold: 1,
            config: KindConfig::default(),
            owner_id: None,
            regions: Vec::new(),
            min_failed_regions: None,
        }
    }

    fn field_of(s: ProbeSpec) -> String {
        s.validate().unwrap_err().field
    }

    #[test]
    fn a_sane_spec_passes() {
        assert_eq!(spec().validate(), Ok(()));
    }

    #[test]
    fn each_limit_names_its_field() {
        assert_eq!(field_of(ProbeSpec { url: "ftp://x".into(), ..spec() }), "url");
        assert_eq!(field_of(ProbeSpec { url: "not a url".into(), ..spec() }), "url");
        assert_eq!(field_of(ProbeSpec { interval_seconds: 0, ..spec() }), "interval_seconds");
        assert_eq!(field_of(ProbeSpec { interval_seconds: 86_401, ..spec() }), "interval_seconds");
        assert_eq!(field_of(ProbeSpec { timeout_ms: 99, ..spec() }), "timeout_ms");
        assert_eq!(field_of(ProbeSpec { timeout_ms: 60_001, interval_seconds: 120, ..spec() }), "timeout_ms");
        assert_eq!(field_of(ProbeSpec { interval_seconds: 1, timeout_ms: 1000, ..spec() }), "timeout_ms");
        assert_eq!(field_of(ProbeSpec { failure_threshold: 0, ..spec() }), "failure_threshold");
        assert_eq!(field_of(ProbeSpec { recovery_threshold: 21, ..spec() }), "recovery_threshold");
        assert_eq!(field_of(ProbeSpec { expected_status: vec![], ..spec() }), "expected_status");
        let mut bad = spec();
        bad.headers.insert("bad header".into(), "x".into());
        assert_eq!(field_of(bad), "headers");
        let mut bad = spec();
        bad.headers.insert("x-ok".into(), "a\r\nb".into());
        assert_eq!(field_of(bad), "headers");
    }

    #[test]
    fn boundaries_are_inclusive() {
        assert!(ProbeSpec { interval_seconds: 1, timeout_ms: 999, ..spec() }.validate().is_ok());
        assert!(ProbeSpec { interval_seconds: 86_400, timeout_ms: 60_000, ..spec() }.validate().is_ok());
        assert!(ProbeSpec { timeout_ms: 100, ..spec() }.validate().is_ok());
    }

    #[test]
    fn methods_parse_case_insensitively() {
        assert_eq!(HttpMethod::parse("post"), Some(HttpMethod::Post));
        assert_eq!(HttpMethod::parse("TRACE"), None);
    }
}
