//! What keeps the API up under abuse: the bound on password hashing at once, the rate limits
//! and the proxies whose `X-Forwarded-For` is believed.

use crate::ConfigError;
use crate::settings::Raw;
use ipnet::IpNet;
use std::net::IpAddr;

/// Password hashing bound (argon2id costs about 19 MiB and tens of ms of one core per run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHashSettings {
    /// `PASSWORD_HASH_CONCURRENCY` (default: the number of cores): argon2 hashes and
    /// verifications running at once in one API process.
    pub concurrency: usize,
    /// `PASSWORD_HASH_WAIT_MS` (default 2,000): how long a sign-up or log-in waits for a free
    /// slot before it is answered 503 with `Retry-After`.
    pub wait_ms: u64,
}

impl Default for PasswordHashSettings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self { concurrency: cores, wait_ms: 2_000 }
    }
}

/// Rate limits, shared by every API replica through Redis (GCRA: each limit allows a burst of
/// its whole per-minute count, then one request every `60 / count` seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `RATE_LIMITS_ENABLED` (default true): `false` turns every limit below off.
    pub enabled: bool,
    /// `RATE_LIMIT_LOGIN_PER_MINUTE` (default 10): log-in attempts on one account (its e-mail,
    /// trimmed and lower-cased), from anywhere.
    pub login_per_minute: u32,
    /// `RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE` (default 30): log-in attempts from one client
    /// address, whatever the account.
    pub login_by_address_per_minute: u32,
    /// `RATE_LIMIT_SIGNUP_PER_MINUTE` (default 10): sign-ups from one client address.
    pub signup_per_minute: u32,
    /// `RATE_LIMIT_HEARTBEAT_PER_MINUTE` (default 600): pings on one heartbeat token.
    pub heartbeat_per_minute: u32,
    /// `RATE_LIMIT_API_PER_MINUTE` (default 1,200): other `/api/v1` requests by one user or
    /// API key (authenticated), or else by one client address.
    pub api_per_minute: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            login_per_minute: 10,
            login_by_address_per_minute: 30,
            signup_per_minute: 10,
            heartbeat_per_minute: 600,
            api_per_minute: 1_200,
        }
    }
}

/// The API's defences against abuse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AbuseSettings {
    /// The bound on password hashing at once.
    pub password_hash: PasswordHashSettings,
    /// Rate limits.
    pub rate_limits: RateLimitSettings,
    /// `TRUSTED_PROXIES` (default empty): comma-separated CIDRs (or single addresses) of the
    /// reverse proxies in front of the API. Only when the connecting peer is one of them is
    /// `X-Forwarded-For` believed: the client is then its rightmost address that is not a
    /// trusted proxy. Otherwise the client is the peer.
    pub trusted_proxies: Vec<IpNet>,
}

impl AbuseSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        let (h, r) = (&d.password_hash, &d.rate_limits);
        let per_minute = 1..=1_000_000;
        Ok(Self {
            password_hash: PasswordHashSettings {
                concurrency: raw.number("PASSWORD_HASH_CONCURRENCY", h.concurrency, 1..=1_024)?,
                wait_ms: raw.number("PASSWORD_HASH_WAIT_MS", h.wait_ms, 0..=60_000)?,
            },
            rate_limits: RateLimitSettings {
                enabled: raw.boolean("RATE_LIMITS_ENABLED", r.enabled)?,
                login_per_minute: raw.number(
                    "RATE_LIMIT_LOGIN_PER_MINUTE",
                    r.login_per_minute,
                    per_minute.clone(),
                )?,
                login_by_address_per_minute: raw.number(
                    "RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE",
                    r.login_by_address_per_minute,
                    per_minute.clone(),
                )?,
                signup_per_minute: raw.number(
                    "RATE_LIMIT_SIGNUP_PER_MINUTE",
                    r.signup_per_minute,
                    per_minute.clone(),
                )?,
                heartbeat_per_minute: raw.number(
                    "RATE_LIMIT_HEARTBEAT_PER_MINUTE",
                    r.heartbeat_per_minute,
                    per_minute.clone(),
                )?,
                api_per_minute: raw.number("RATE_LIMIT_API_PER_MINUTE", r.api_per_minute, per_minute)?,
            },
            trusted_proxies: parse_networks(raw.get("TRUSTED_PROXIES")?.as_deref().unwrap_or(""))
                .map_err(|m| ConfigError::new("TRUSTED_PROXIES", m))?,
        })
    }

    /// Whether `peer` is one of [`AbuseSettings::trusted_proxies`].
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }
}

/// `10.0.0.0/8, 192.168.1.10, ::1`: CIDRs or single addresses, comma-separated.
fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("expected CIDRs like 10.0.0.0/8 or addresses, got {s:?}"))
        })
        .collect()
}
