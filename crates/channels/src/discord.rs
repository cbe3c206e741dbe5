//! Discord webhooks carrying one embed.

use crate::http::{Http, truncate};
use crate::message::Message;
use crate::{AttemptResult, Channel};
use serde_json::{Value, json};
use upcheck_domain::channel::DiscordConfig;
use uuid::Uuid;

/// Executes a Discord webhook (`DISCORD_WEBHOOK_HOSTS` may restrict its host).
#[derive(Clone)]
pub struct DiscordChannel {
    http: Http,
    hosts: Vec<String>,
}

impl DiscordChannel {
    /// A channel over the shared client; `hosts` empty allows every host.
    pub fn new(http: Http, hosts: Vec<String>) -> Self {
        Self { http, hosts }
    }
}

/// The "Execute Webhook" body (https://discord.com/developers/docs/resources/webhook#execute-webhook):
/// one embed (https://discord.com/developers/docs/resources/message#embed-object) with a title
/// (256 characters), a description (4,096), the colour as an integer, up to 25 fields (name
/// 256, value 1,024) and an ISO 8601 timestamp, within the embed limits
/// (https://discord.com/developers/docs/resources/message#embed-object-embed-limits);
/// `allowed_mentions` with no `parse` so a monitor's name or cause can never ping anyone
/// (https://discord.com/developers/docs/resources/message#allowed-mentions-object).
pub(crate) fn payload(m: &Message) -> Value {
    let fields: Vec<Value> = m
        .facts
        .iter()
        .filter(|f| f.key != "occurred_at")
        .map(|f| json!({"name": f.label, "value": truncate(&f.value, 1_024), "inline": f.value.len() <= 40}))
        .collect();
    let mut embed = json!({
        "title": truncate(&m.title, 256),
        "color": m.severity.color(),
        "fields": fields,
        "footer": {"text": format!("Upcheck · {}", m.event_type)},
    });
    if !m.intro.is_empty() {
        embed["description"] = truncate(&m.intro, 4_096).into();
    }
    if let Some(at) = &m.occurred_at {
        embed["timestamp"] = at.clone().into();
    }
    if let Some(link) = &m.link {
        embed["url"] = link.clone().into();
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

impl Channel for DiscordChannel {
    fn kind(&self) -> &'static str {
        "discord"
    }

    /// The span records the kind, the notification, the answer and the latency; never the URL.
    #[tracing::instrument(name = "channel_deliver", skip_all,
        fields(kind = "discord", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client"))]
    async fn deliver(&self, id: Uuid, config: &Value, payload: &Value) -> AttemptResult {
        let c = match DiscordConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        self.http
            .post_to_hook(
                &c.url,
                (&self.hosts, "DISCORD_WEBHOOK_HOSTS"),
                &self::payload(&Message::render(payload)),
            )
            .await
    }
}
