//! Slack incoming webhooks with Block Kit blocks and a `text` fallback.

use crate::http::{Http, truncate};
use crate::message::Message;
use crate::{AttemptResult, Channel};
use serde_json::{Value, json};
use upcheck_domain::channel::SlackConfig;
use uuid::Uuid;

/// Posts to a Slack incoming webhook URL (`SLACK_WEBHOOK_HOSTS` may restrict its host).
#[derive(Clone)]
pub struct SlackChannel {
    http: Http,
    hosts: Vec<String>,
}

impl SlackChannel {
    /// A channel over the shared client; `hosts` empty allows every host.
    pub fn new(http: Http, hosts: Vec<String>) -> Self {
        Self { http, hosts }
    }
}

/// `&`, `<` and `>` escaped, as Slack's `mrkdwn` text requires
/// (https://api.slack.com/reference/surfaces/formatting#escaping).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The message body. Incoming webhooks take `text` (the notification fallback) and `blocks`
/// (https://api.slack.com/messaging/webhooks#advanced_message_formatting); the blocks are a
/// `header` (plain text, at most 150 characters), a `section` with the intro, a `section` of up
/// to 10 `fields` (2,000 characters each) and a `context` line
/// (https://api.slack.com/reference/block-kit/blocks).
pub(crate) fn payload(m: &Message) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&m.title, 150), "emoji": true}}),
    ];
    if !m.intro.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": escape(&m.intro)}}));
    }
    let fields: Vec<Value> = m
        .facts
        .iter()
        .filter(|f| f.key != "occurred_at")
        .take(10)
        .map(|f| json!({"type": "mrkdwn", "text": truncate(&format!("*{}*\n{}", f.label, escape(&f.value)), 2_000)}))
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let mut context = format!("Upcheck · {}", escape(&m.event_type));
    if let Some(at) = &m.occurred_at {
        context.push_str(&format!(" · {}", escape(at)));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({"text": escape(&m.title), "blocks": blocks})
}

impl Channel for SlackChannel {
    fn kind(&self) -> &'static str {
        "slack"
    }

    /// The span records the kind, the notification, the answer and the latency; never the URL.
    #[tracing::instrument(name = "channel_deliver", skip_all,
        fields(kind = "slack", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client"))]
    async fn deliver(&self, id: Uuid, config: &Value, payload: &Value) -> AttemptResult {
        let c = match SlackConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        self.http
            .post_to_hook(
                &c.url,
                (&self.hosts, "SLACK_WEBHOOK_HOSTS"),
                &self::payload(&Message::render(payload)),
            )
            .await
    }
}
