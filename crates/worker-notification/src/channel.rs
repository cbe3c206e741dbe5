//! Delivery channels: one trait, one implementation per channel kind. Webhook is the first.

use std::future::Future;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
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
}

/// Delivers one notification over one kind of channel.
pub trait Channel: Send + Sync + 'static {
    /// The channel kind this implementation serves (`webhook`, …).
    fn kind(&self) -> &'static str;

    /// One attempt to deliver `payload` for notification `id` over a channel configured with `config`.
    fn deliver(
        &self,
        id: Uuid,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> impl Future<Output = AttemptResult> + Send;
}

/// Webhooks signed per Standard Webhooks: `webhook-id` (the notification id, stable across
/// retries so receivers can deduplicate), `webhook-timestamp` (Unix seconds),
/// `webhook-signature`. A 2xx answer is success; redirects are not followed.
#[derive(Clone)]
pub struct WebhookChannel {
    client: reqwest::Client,
}

impl WebhookChannel {
    /// A channel whose attempts time out after `timeout`.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Upcheck-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

fn failure(permanent: bool, error: String) -> AttemptResult {
    AttemptResult { delivered: false, permanent, http_status: None, latency_ms: None, error: Some(error) }
}

impl Channel for WebhookChannel {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn deliver(
        &self,
        id: Uuid,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> AttemptResult {
        let (Some(url), Some(secret)) = (config["url"].as_str(), config["secret"].as_str()) else {
            return failure(true, "channel config lacks url or secret".into());
        };
        let body = match serde_json::to_vec(payload) {
            Ok(b) => b,
            Err(e) => return failure(true, format!("payload does not encode: {e}")),
        };
        let msg_id = id.to_string();
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signature = match upcheck_domain::webhook::sign(secret, &msg_id, timestamp, &body) {
            Ok(s) => s,
            Err(e) => return failure(true, e.to_string()),
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
        match sent {
            Ok(response) => {
                let code = response.status().as_u16();
                let delivered = response.status().is_success();
                AttemptResult {
                    delivered,
                    permanent: false,
                    http_status: Some(code),
                    latency_ms,
                    error: (!delivered).then(|| format!("receiver answered {code}")),
                }
            }
            Err(e) => {
                let why = if e.is_timeout() {
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
                }
            }
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
