//! The one HTTP client every HTTP channel kind shares, and how an answer is classified.

use crate::{AttemptResult, root_cause};
use std::time::{Duration, Instant, SystemTime};
use upcheck_net::Outbound;

/// Most bytes of an error answer read for its description and `retry_after`.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// Most characters of a provider's error description kept in an attempt's error.
const MAX_DESCRIPTION: usize = 200;

/// A `reqwest::Client` built from [`Outbound`] (the network policy judged at connect time,
/// proxies off), with one attempt's timeout, no redirects and Upcheck's user agent. Cheap to
/// clone.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    outbound: Outbound,
}

/// One POST to send.
pub(crate) struct Post<'a> {
    /// Where to; never logged nor put in an error (it may hold a token).
    pub url: &'a str,
    /// The JSON body's bytes, sent as `application/json` ([`body`]).
    pub body: Vec<u8>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Strings never to repeat in an error (tokens, keys, the URL), besides the URL.
    pub secrets: Vec<&'a str>,
    /// Whether the provider's error description (`description`, `message`, `error`, `errors`
    /// of a JSON body) is added to the attempt's error.
    pub describe: bool,
}

impl Http {
    /// A client whose attempts time out after `timeout`, connecting through `outbound`.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised.
    pub fn new(timeout: Duration, outbound: Outbound) -> Result<Self, reqwest::Error> {
        let client = outbound
            .http_client()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Upcheck/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, outbound })
    }

    /// One attempt: the URL judged by the policy (a literal blocked address fails permanently
    /// without a connection), the answer classified ([`crate::is_final_refusal`], `Retry-After`
    /// on 429 and 503, or a JSON body's `parameters.retry_after` / `retry_after` seconds as
    /// Telegram and Discord send them).
    /// POSTs `body` as JSON to a user's incoming-webhook `url` (Slack, Discord, Teams): refused
    /// at once, permanently, when `hosts` (the operator's list in setting `hosts_var`) is not
    /// empty and does not name the URL's host; the provider's own answer is described.
    pub(crate) async fn post_to_hook(
        &self,
        url: &str,
        (hosts, hosts_var): (&[String], &str),
        body: &serde_json::Value,
    ) -> AttemptResult {
        if !upcheck_domain::channel::host_allowed(url, hosts) {
            return AttemptResult::failure(true, format!("config.url: host not allowed by {hosts_var}"));
        }
        self.post(Post {
            url,
            body: self::body(body),
            headers: Vec::new(),
            secrets: Vec::new(),
            describe: true,
        })
        .await
    }

    pub(crate) async fn post(&self, post: Post<'_>) -> AttemptResult {
        let parsed = match url::Url::parse(post.url) {
            Ok(u) => u,
            Err(e) => return AttemptResult::failure(true, format!("invalid url: {e}")),
        };
        if let Err(blocked) = self.outbound.check_url(&parsed) {
            return AttemptResult::failure(true, blocked.to_string());
        }
        let mut request = self.client.post(parsed).header("content-type", "application/json").body(post.body);
        for (name, value) in &post.headers {
            request = request.header(*name, value);
        }
        let start = Instant::now();
        let sent = request.send().await;
        let latency_ms = Some(i32::try_from(start.elapsed().as_millis()).unwrap_or(i32::MAX));
        let span = tracing::Span::current();
        span.record("latency_ms", latency_ms);
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                span.record("delivered", false);
                let e = e.without_url();
                let why = if let Some(refused) = Outbound::connect_error_in(&e) {
                    refused
                } else if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    format!("cannot connect: {}", root_cause(&e))
                } else {
                    root_cause(&e)
                };
                let mut secrets = post.secrets.clone();
                secrets.push(post.url);
                return AttemptResult { latency_ms, ..AttemptResult::failure(false, redact(&why, &secrets)) };
            }
        };
        let code = response.status().as_u16();
        let delivered = response.status().is_success();
        span.record("http_status", code);
        span.record("delivered", delivered);
        if delivered {
            return AttemptResult {
                delivered,
                permanent: false,
                http_status: Some(code),
                latency_ms,
                error: None,
                retry_after_ms: None,
            };
        }
        let header_retry = matches!(code, 429 | 503)
            .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry_after_ms(v, SystemTime::now()));
        let body = read_capped(response).await;
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let retry_after_ms = header_retry
            .or_else(|| (code == 429).then(|| json.as_ref().and_then(body_retry_after_ms)).flatten());
        let mut error = format!("receiver answered {code}");
        let described = match &json {
            Some(j) => description(j),
            None => plain_description(&body),
        };
        if post.describe
            && let Some(d) = described
        {
            let mut secrets = post.secrets.clone();
            secrets.push(post.url);
            error = format!("{error}: {}", redact(&truncate(&d, MAX_DESCRIPTION), &secrets));
        }
        AttemptResult {
            delivered: false,
            permanent: crate::is_final_refusal(code),
            http_status: Some(code),
            latency_ms,
            error: Some(error),
            retry_after_ms,
        }
    }
}

/// A JSON value's bytes (a `Value` always encodes: its keys are strings).
pub(crate) fn body(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The body, at most [`MAX_ERROR_BODY`] bytes of it.
async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    out
}

/// Telegram's `parameters.retry_after` (https://core.telegram.org/bots/api#responseparameters,
/// whole seconds) or Discord's `retry_after` (https://discord.com/developers/docs/topics/rate-limits,
/// seconds with a fraction), as ms; at most an hour is believed.
pub(crate) fn body_retry_after_ms(body: &serde_json::Value) -> Option<u64> {
    let seconds = body.pointer("/parameters/retry_after").or_else(|| body.get("retry_after"))?.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds.min(3_600.0) * 1_000.0).ceil() as u64)
}

/// A provider's own words for a refusal: Telegram's `description`, Discord's and PagerDuty's
/// `message` (plus PagerDuty's `errors`), ntfy's `error`, Teams' (Power Automate's)
/// `error.message`.
fn description(body: &serde_json::Value) -> Option<String> {
    let text = ["description", "message", "error"]
        .iter()
        .find_map(|k| body.get(*k)?.as_str())
        .or_else(|| body.pointer("/error/message")?.as_str())?;
    let extra: Vec<&str> = body
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    Some(if extra.is_empty() { text.to_string() } else { format!("{text} ({})", extra.join("; ")) })
}

/// A short plain-text answer (Slack's `no_service`, `invalid_payload`,
/// https://api.slack.com/messaging/webhooks#handling_errors): one line of at most 200
/// printable characters, else nothing.
fn plain_description(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let ok = !text.is_empty() && text.len() <= MAX_DESCRIPTION && !text.chars().any(char::is_control);
    ok.then(|| text.to_string())
}

/// `text` with every non-empty secret replaced by `…`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "…");
    }
    out
}

/// `text` cut to at most `max` characters, `…` marking a cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_after_is_read_from_telegram_and_discord_bodies() {
        assert_eq!(body_retry_after_ms(&json!({"ok": false, "parameters": {"retry_after": 3}})), Some(3_000));
        assert_eq!(body_retry_after_ms(&json!({"retry_after": 0.25, "global": false})), Some(250));
        assert_eq!(body_retry_after_ms(&json!({"retry_after": 1e9})), Some(3_600_000));
        assert_eq!(body_retry_after_ms(&json!({"retry_after": -1})), None);
        assert_eq!(body_retry_after_ms(&json!({"message": "x"})), None);
    }

    #[test]
    fn descriptions_are_found_and_secrets_redacted() {
        let d = description(
            &json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["'routing_key' is invalid"]}),
        );
        assert_eq!(d.as_deref(), Some("Event object is invalid ('routing_key' is invalid)"));
        let teams =
            description(&json!({"error": {"code": "TriggerInputSchemaMismatch", "message": "bad input"}}));
        assert_eq!(teams.as_deref(), Some("bad input"));
        assert_eq!(plain_description(b"no_service\n").as_deref(), Some("no_service"));
        assert_eq!(plain_description(b"<html>\n<body>x</body>"), None);
        assert_eq!(redact("bad token 123:abcdef", &["123:abcdef", ""]), "bad token …");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
