//! Telegram bots: the Bot API's `sendMessage` with HTML formatting.

use crate::http::{Http, Post, truncate};
use crate::message::Message;
use crate::{AttemptResult, Channel};
use serde_json::{Value, json};
use upcheck_domain::channel::TelegramConfig;
use uuid::Uuid;

/// Sends through `<TELEGRAM_API_URL>/bot<token>/sendMessage`.
#[derive(Clone)]
pub struct TelegramChannel {
    http: Http,
    api_url: String,
}

impl TelegramChannel {
    /// A channel over the shared client, to the Bot API at `api_url` (no trailing `/`).
    pub fn new(http: Http, api_url: String) -> Self {
        Self { http, api_url }
    }
}

/// `&`, `<` and `>` as entities: all that HTML-mode text needs outside tags
/// (https://core.telegram.org/bots/api#html-style).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The `sendMessage` parameters (https://core.telegram.org/bots/api#sendmessage): `chat_id`,
/// `text` (at most 4,096 characters after entities are parsed: each fact is cut to 400) with
/// `parse_mode` `HTML`,
/// `message_thread_id` for a forum topic, and link previews off
/// (https://core.telegram.org/bots/api#linkpreviewoptions).
pub(crate) fn payload(m: &Message, config: &TelegramConfig) -> Value {
    let mut text = format!("<b>{}</b>", escape(&m.title));
    if !m.intro.is_empty() {
        text.push_str(&format!("\n{}", escape(&m.intro)));
    }
    text.push('\n');
    for f in &m.facts {
        text.push_str(&format!("\n<b>{}:</b> {}", escape(f.label), escape(&truncate(&f.value, 400))));
    }
    let mut body = json!({
        "chat_id": config.chat_id_json(),
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
    });
    if let Some(thread) = config.message_thread_id {
        body["message_thread_id"] = thread.into();
    }
    body
}

impl Channel for TelegramChannel {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    /// The span records the kind, the notification, the answer and the latency; never the
    /// token. A 429's `parameters.retry_after` is honoured
    /// (https://core.telegram.org/bots/api#responseparameters).
    #[tracing::instrument(name = "channel_deliver", skip_all,
        fields(kind = "telegram", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client"))]
    async fn deliver(&self, id: Uuid, config: &Value, payload: &Value) -> AttemptResult {
        let c = match TelegramConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        // https://core.telegram.org/bots/api#making-requests: https://api.telegram.org/bot<token>/METHOD_NAME
        let url = format!("{}/bot{}/sendMessage", self.api_url, c.bot_token);
        let body = self::payload(&Message::render(payload), &c);
        self.http
            .post(Post {
                url: &url,
                body: crate::http::body(&body),
                headers: Vec::new(),
                secrets: vec![&c.bot_token],
                describe: true,
            })
            .await
    }
}
