//! Webhooks signed per Standard Webhooks (https://www.standardwebhooks.com).

use crate::http::{Http, Post};
use crate::{AttemptResult, Channel};
use std::time::Duration;
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
    http: Http,
}

impl WebhookChannel {
    /// A channel with its own client whose attempts time out after `timeout`, connecting
    /// through `outbound`.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised.
    pub fn new(timeout: Duration, outbound: Outbound) -> Result<Self, reqwest::Error> {
        Ok(Self::with_http(Http::new(timeout, outbound)?))
    }

    /// A channel over a shared client.
    pub fn with_http(http: Http) -> Self {
        Self { http }
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
        let body = crate::http::body(payload);
        let msg_id = id.to_string();
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signature = match upcheck_domain::webhook::sign(&config.secret, &msg_id, timestamp, &body) {
            Ok(s) => s,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        self.http
            .post(Post {
                url: &config.url,
                body,
                headers: vec![
                    ("webhook-id", msg_id),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", signature),
                ],
                secrets: vec![&config.secret],
                describe: false,
            })
            .await
    }
}
