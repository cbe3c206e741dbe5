//! Webhooks signed per Standard Webhooks (https://www.standardwebhooks.com).

use crate::{AttemptResult, Channel, root_cause};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::channel::WebhookConfig;
use upcheck_net::Outbound;
use uuid::Uuid;

/// Webhooks signed per Standard Webhooks: `webhook-id` (the notification id, stable across
/// retries so receivers can deduplicate), `webhook-timestamp` (Unix seconds),
/// `webhook-signature`. A 2xx answer is success; redirects are not followed. A 4xx other than
/// 408/409/425/429 is final ([`crate::is_final_refusal`]); a 429 or 503 may set when to try
/// again (`Retry-After`).
///
/// Deliveries obey the operator's network policy ([`Outbound`]): a literal blocked address in
/// the URL fails at once (permanently: retrying cannot help), a name is judged on the
/// addresses it resolves to, at connect time.
#[derive(Clone)]
pub struct WebhookChannel {
    client: reqwest::Client,
    outbound: Outbound,
}

impl WebhookChannel {
    /// A channel whose attempts time out after `timeout`, connecting through `outbound`.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised.
    pub fn new(timeout: Duration, outbound: Outbound) -> Result<Self, reqwest::Error> {
        let client = outbound
            .http_client()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Upcheck-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, outbound })
    }
}

impl Channel for WebhookChannel {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    /// The span records the kind, the notification, the receiver's status and the latency;
    /// never the URL, the secret or the headers.
    #[tracing::instrument(
        name = "channel_deliver",
        skip_all,
        fields(kind = "webhook", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client")
    )]
    async fn deliver(
        &self,
        id: Uuid,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> AttemptResult {
        let config = match WebhookConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        let (url, secret) = (config.url.as_str(), config.secret.as_str());
        match url::Url::parse(url) {
            Ok(parsed) => {
                if let Err(blocked) = self.outbound.check_url(&parsed) {
                    return AttemptResult::failure(true, blocked.to_string());
                }
            }
            Err(e) => return AttemptResult::failure(true, format!("invalid url: {e}")),
        }
        let body = match serde_json::to_vec(payload) {
            Ok(b) => b,
            Err(e) => return AttemptResult::failure(true, format!("payload does not encode: {e}")),
        };
        let msg_id = id.to_string();
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signature = match upcheck_domain::webhook::sign(secret, &msg_id, timestamp, &body) {
            Ok(s) => s,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        let start = Instant::now();
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let latency_ms = Some(i32::try_from(start.elapsed().as_millis()).unwrap_or(i32::MAX));
        let span = tracing::Span::current();
        span.record("latency_ms", latency_ms);
        match sent {
            Ok(response) => {
                let code = response.status().as_u16();
                let delivered = response.status().is_success();
                span.record("http_status", code);
                span.record("delivered", delivered);
                let retry_after_ms = matches!(code, 429 | 503)
                    .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
                    .flatten()
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| crate::retry_after_ms(v, std::time::SystemTime::now()));
                AttemptResult {
                    delivered,
                    permanent: !delivered && crate::is_final_refusal(code),
                    http_status: Some(code),
                    latency_ms,
                    error: (!delivered).then(|| format!("receiver answered {code}")),
                    retry_after_ms,
                }
            }
            Err(e) => {
                span.record("delivered", false);
                let why = if let Some(refused) = Outbound::connect_error_in(&e) {
                    refused
                } else if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    format!("cannot connect: {}", root_cause(&e))
                } else {
                    root_cause(&e)
                };
                AttemptResult {
                    delivered: false,
                    permanent: false,
                    http_status: None,
                    latency_ms,
                    error: Some(why),
                    retry_after_ms: None,
                }
            }
        }
    }
}
