//! ntfy: a JSON message published to the server's root URL.

use crate::http::{Http, Post};
use crate::message::{Message, Severity};
use crate::{AttemptResult, Channel};
use serde_json::{Value, json};
use upcheck_domain::channel::NtfyConfig;
use uuid::Uuid;

/// Publishes to the channel's `server_url`, or `NTFY_DEFAULT_SERVER`.
#[derive(Clone)]
pub struct NtfyChannel {
    http: Http,
    default_server: String,
}

impl NtfyChannel {
    /// A channel over the shared client; `default_server` serves channels that name none.
    pub fn new(http: Http, default_server: String) -> Self {
        Self { http, default_server }
    }
}

/// "Publish as JSON" (https://docs.ntfy.sh/publish/#publish-as-json): `topic`, `title`,
/// `message`, `priority` (1 to 5, https://docs.ntfy.sh/publish/#message-priority), `tags`
/// (emoji short codes show as emojis, https://docs.ntfy.sh/publish/#tags-emojis) and `click`
/// (https://docs.ntfy.sh/publish/#click-action). The channel's own priority wins; else 5 for
/// critical, 4 for warnings, 3 otherwise.
pub(crate) fn payload(m: &Message, config: &NtfyConfig) -> Value {
    let (emoji, priority) = match m.severity {
        Severity::Critical => ("rotating_light", 5),
        Severity::Warning => ("warning", 4),
        Severity::Resolved => ("white_check_mark", 3),
        Severity::Info => ("information_source", 3),
    };
    let mut tags = vec![emoji.to_string()];
    tags.extend(config.tags.iter().cloned());
    let mut body = json!({
        "topic": config.topic,
        "title": m.title,
        "message": m.summary(),
        "priority": config.priority.unwrap_or(priority),
        "tags": tags,
    });
    if let Some(link) = &m.link {
        body["click"] = link.clone().into();
    }
    body
}

impl Channel for NtfyChannel {
    fn kind(&self) -> &'static str {
        "ntfy"
    }

    /// The span records the kind, the notification, the answer and the latency; never the
    /// token. A token goes as `Authorization: Bearer` (https://docs.ntfy.sh/publish/#access-tokens).
    #[tracing::instrument(name = "channel_deliver", skip_all,
        fields(kind = "ntfy", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client"))]
    async fn deliver(&self, id: Uuid, config: &Value, payload: &Value) -> AttemptResult {
        let c = match NtfyConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        let server = c.server_url.as_deref().unwrap_or(&self.default_server).trim_end_matches('/');
        let url = format!("{server}/");
        let body = self::payload(&Message::render(payload), &c);
        let mut headers = Vec::new();
        let mut secrets = Vec::new();
        if let Some(token) = &c.token {
            headers.push(("authorization", format!("Bearer {token}")));
            secrets.push(token.as_str());
        }
        self.http
            .post(Post { url: &url, body: crate::http::body(&body), headers, secrets, describe: true })
            .await
    }
}
