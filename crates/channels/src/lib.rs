//! Notification channels: one [`Channel`] trait, one module per kind (webhook, slack,
//! discord, teams, telegram, pagerduty, ntfy, email), one renderer they share ([`message`]), one
//! HTTP client ([`Http`]) and the [`Channels`] dispatcher. The notification worker delivers
//! through it and the API uses it for test sends, so no crate depends on a worker crate for them.
//! Channel configs are the domain's typed configs ([`upcheck_domain::channel`]).

mod discord;
mod dispatch;
pub mod email;
mod email_render;
mod email_tls;
mod http;
pub mod message;
mod ntfy;
mod pagerduty;
mod slack;
mod teams;
mod telegram;
mod webhook;

pub use discord::DiscordChannel;
pub use dispatch::{Channels, ChannelsError};
pub use email::EmailChannel;
pub use http::Http;
pub use ntfy::NtfyChannel;
pub use pagerduty::PagerDutyChannel;
pub use slack::SlackChannel;
pub use teams::TeamsChannel;
pub use telegram::TelegramChannel;
pub use webhook::WebhookChannel;

use std::future::Future;
use uuid::Uuid;

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// Whether the receiver accepted it.
    pub delivered: bool,
    /// Whether trying again cannot help (a misconfigured channel).
    pub permanent: bool,
    /// The receiver's status code, if it answered.
    pub http_status: Option<u16>,
    /// Time to the answer, ms.
    pub latency_ms: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// The receiver's `Retry-After` on a 429 or 503 (RFC 9110 §10.2.3), ms from now: the next
    /// attempt waits at least this long.
    pub retry_after_ms: Option<u64>,
}

impl AttemptResult {
    /// A failed attempt that never reached the receiver.
    pub(crate) fn failure(permanent: bool, error: String) -> Self {
        Self {
            delivered: false,
            permanent,
            http_status: None,
            latency_ms: None,
            error: Some(error),
            retry_after_ms: None,
        }
    }
}

/// Delivers one notification over one kind of channel.
pub trait Channel: Send + Sync + 'static {
    /// The channel kind this implementation serves (`webhook`, …).
    fn kind(&self) -> &'static str;

    /// One attempt to deliver `payload` for notification `id` over a channel configured with
    /// `config` (the stored JSON; a config that does not parse is a permanent failure).
    fn deliver(
        &self,
        id: Uuid,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> impl Future<Output = AttemptResult> + Send;
}

/// Whether a receiver's answer `code` (not 2xx) is final: a 4xx other than 408 (timeout),
/// 409 (conflict), 425 (too early) and 429 (too many requests) says the request itself is
/// wrong, and sending it again cannot help; 5xx and those four are worth retrying.
pub fn is_final_refusal(code: u16) -> bool {
    (400..500).contains(&code) && !matches!(code, 408 | 409 | 425 | 429)
}

/// A `Retry-After` value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as ms from `now`.
pub fn retry_after_ms(value: &str, now: std::time::SystemTime) -> Option<u64> {
    let v = value.trim();
    if let Ok(seconds) = v.parse::<u64>() {
        return Some(seconds.saturating_mul(1_000));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
}

/// Longest error text kept from one attempt, characters: a receiver's answer is shown to the
/// channel's owner and stored, and a hostile server could make it arbitrarily long.
const MAX_ERROR_CHARS: usize = 500;

/// `error` cut to [`MAX_ERROR_CHARS`].
pub(crate) fn truncate_error(error: String) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        None => error,
        Some((at, _)) => format!("{}…", &error[..at]),
    }
}

/// The innermost cause of `e`: what a user can act on ("connection refused"), not the
/// wrapper ("error sending request").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 21 Oct 2015 07:28:00 GMT
        assert_eq!(retry_after_ms("120", now), Some(120_000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(30_000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(0));
        assert_eq!(retry_after_ms("soon", now), None);
    }

    #[test]
    fn only_the_four_retryable_4xx_are_retried() {
        for code in [400, 401, 403, 404, 410, 413, 422] {
            assert!(is_final_refusal(code), "{code}");
        }
        for code in [408, 409, 425, 429, 500, 502, 503, 504] {
            assert!(!is_final_refusal(code), "{code}");
        }
    }
}
