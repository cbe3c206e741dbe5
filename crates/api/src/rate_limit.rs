//! Rate limits across every API replica (state in Redis, [`upcheck_streams::RateLimiter`]):
//! log-in by account and by client address, sign-up by address, heartbeat pings by token, and
//! every other `/api/v1` request by user or API key when authenticated, else by address. A
//! request past a limit is a 429 `rate-limited` problem with `Retry-After` and `RateLimit`
//! headers. `RATE_LIMITS_ENABLED=false` turns them off.
//!
//! When Redis does not answer within [`CHECK_TIMEOUT`], the request is let through and a
//! warning logged (at most every 10 s): rate limiting fails open, so a Redis outage never takes
//! the API down with it (password hashing stays bounded by the `PasswordGate` regardless).
//!
//! The client address is the TCP peer unless the peer is one of `TRUSTED_PROXIES`: then it is
//! the rightmost `X-Forwarded-For` address that is not a trusted proxy (addresses to its left
//! were written by the client and prove nothing).

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Longest a rate-limit check may take before the request is let through.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(250);

/// What a limit counts, and the setting that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Log-in attempts on one account (`RATE_LIMIT_LOGIN_PER_MINUTE`).
    LoginAccount,
    /// Log-in attempts from one address (`RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE`).
    LoginAddress,
    /// Sign-ups from one address (`RATE_LIMIT_SIGNUP_PER_MINUTE`).
    Signup,
    /// Pings on one heartbeat token (`RATE_LIMIT_HEARTBEAT_PER_MINUTE`).
    Heartbeat,
    /// Other requests by one user or key, or one address (`RATE_LIMIT_API_PER_MINUTE`).
    Api,
}

impl Limit {
    fn scope(self) -> &'static str {
        match self {
            Self::LoginAccount => "login-account",
            Self::LoginAddress => "login-address",
            Self::Signup => "signup",
            Self::Heartbeat => "heartbeat",
            Self::Api => "api",
        }
    }

    fn counted_by(self) -> &'static str {
        match self {
            Self::LoginAccount => "account",
            Self::LoginAddress | Self::Signup => "address",
            Self::Heartbeat => "heartbeat",
            Self::Api => "user, key or address",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Self::LoginAccount => "RATE_LIMIT_LOGIN_PER_MINUTE",
            Self::LoginAddress => "RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE",
            Self::Signup => "RATE_LIMIT_SIGNUP_PER_MINUTE",
            Self::Heartbeat => "RATE_LIMIT_HEARTBEAT_PER_MINUTE",
            Self::Api => "RATE_LIMIT_API_PER_MINUTE",
        }
    }

    fn per_minute(self, s: &upcheck_config::RateLimitSettings) -> u32 {
        match self {
            Self::LoginAccount => s.login_per_minute,
            Self::LoginAddress => s.login_by_address_per_minute,
            Self::Signup => s.signup_per_minute,
            Self::Heartbeat => s.heartbeat_per_minute,
            Self::Api => s.api_per_minute,
        }
    }
}

/// A subject's id as it is kept in Redis: a hash, so that no e-mail address or token is
/// stored there and keys stay short.
pub fn hashed(subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts one request of `subject` against `limit`.
///
/// # Errors
/// [`ApiError::RateLimited`] past the limit. Never fails for Redis trouble (fails open).
pub async fn check(state: &AppState, limit: Limit, subject: &str) -> Result<(), ApiError> {
    let settings = &state.settings.abuse.rate_limits;
    if !settings.enabled {
        return Ok(());
    }
    let per_minute = limit.per_minute(settings);
    let verdict = tokio::time::timeout(CHECK_TIMEOUT, async {
        let limiter = state.rate_limiter().await?;
        limiter.check(limit.scope(), subject, per_minute).await.map_err(|e| ApiError::Internal(e.into()))
    })
    .await;
    match verdict {
        Ok(Ok(v)) if v.allowed => Ok(()),
        Ok(Ok(v)) => Err(ApiError::RateLimited {
            scope: limit.counted_by(),
            setting: limit.setting(),
            limit: per_minute,
            retry_after_seconds: v.retry_after_us.div_ceil(1_000_000).max(1),
        }),
        Ok(Err(e)) => {
            warn_fail_open(&e.to_string());
            Ok(())
        }
        Err(_) => {
            warn_fail_open("redis did not answer in time");
            Ok(())
        }
    }
}

/// Logs that a limit was not enforced, at most once every 10 s.
fn warn_fail_open(why: &str) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = upcheck_domain::clock::now_ms().max(0) as u64;
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 10_000
        && LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        tracing::warn!(error = why, "rate limits not enforced: redis unavailable (failing open)");
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the rightmost
/// `X-Forwarded-For` address that is not one. `None` only when the peer is unknown.
pub fn client_address(state: &AppState, req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let abuse = &state.settings.abuse;
    if !abuse.is_trusted_proxy(peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if abuse.is_trusted_proxy(ip) => client = ip,
            Some(ip) => return Some(ip),
            // Garbage a trusted proxy passed on: trust nothing further left.
            None => return Some(client),
        }
    }
    Some(client)
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The client address as a rate-limit subject (`unknown` when there is none).
pub fn address_subject(state: &AppState, req: &HttpRequest) -> String {
    client_address(state, req).map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}

/// Who a general request is counted against: the user (a valid access token), the API key
/// (`upk_…`, by its hash), or else the client address.
fn api_subject(state: &AppState, req: &HttpRequest) -> String {
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim);
    if let Some(token) = bearer {
        if token.starts_with("upk_") {
            return format!("key:{}", hashed(token));
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        if let Ok(data) = jsonwebtoken::decode::<crate::auth::Claims>(token, &state.decoding, &validation) {
            return format!("user:{}", data.claims.sub);
        }
    }
    format!("addr:{}", address_subject(state, req))
}

/// Paths with limits of their own, checked in their handlers (they need the body or token).
fn has_own_limit(path: &str) -> bool {
    path == "/api/v1/auth/login" || path == "/api/v1/auth/signup" || path.starts_with("/api/v1/heartbeat/")
}

/// Middleware for `/api/v1`: every request but log-in, sign-up and heartbeat pings counts
/// against `RATE_LIMIT_API_PER_MINUTE` for its user, key or address.
pub(crate) async fn limit_api(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    if !has_own_limit(req.path())
        && let Some(state) = req.app_data::<actix_web::web::Data<AppState>>().cloned()
        && state.settings.abuse.rate_limits.enabled
    {
        let subject = api_subject(&state, req.request());
        if let Err(e) = check(&state, Limit::Api, &subject).await {
            let response = actix_web::ResponseError::error_response(&e);
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
