//! Microsoft Teams Workflows webhooks carrying an Adaptive Card.

use crate::http::Http;
use crate::message::{Message, Severity};
use crate::{AttemptResult, Channel};
use serde_json::{Value, json};
use upcheck_domain::channel::TeamsConfig;
use uuid::Uuid;

/// Posts an Adaptive Card to a Teams Workflows webhook.
#[derive(Clone)]
pub struct TeamsChannel {
    http: Http,
}

impl TeamsChannel {
    /// A channel over the shared client.
    pub fn new(http: Http) -> Self {
        Self { http }
    }
}

/// A `message` with one Adaptive Card attachment, the shape Teams webhooks take
/// (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook);
/// the card (schema 1.4, https://adaptivecards.io/explorer/AdaptiveCard.html) holds a
/// `TextBlock` title coloured by severity, the intro, a `FactSet`
/// (https://adaptivecards.io/explorer/FactSet.html) and an `Action.OpenUrl` to the monitored URL.
pub(crate) fn payload(m: &Message) -> Value {
    let color = match m.severity {
        Severity::Critical => "Attention",
        Severity::Warning => "Warning",
        Severity::Resolved => "Good",
        Severity::Info => "Accent",
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true}),
    ];
    if !m.intro.is_empty() {
        body.push(json!({"type": "TextBlock", "text": m.intro, "wrap": true}));
    }
    let facts: Vec<Value> = m.facts.iter().map(|f| json!({"title": f.label, "value": f.value})).collect();
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(link) = &m.link {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open monitored URL", "url": link}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}],
    })
}

impl Channel for TeamsChannel {
    fn kind(&self) -> &'static str {
        "teams"
    }

    /// The span records the kind, the notification, the answer and the latency; never the URL.
    #[tracing::instrument(name = "channel_deliver", skip_all,
        fields(kind = "teams", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client"))]
    async fn deliver(&self, id: Uuid, config: &Value, payload: &Value) -> AttemptResult {
        let c = match TeamsConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        self.http.post_to_hook(&c.url, (&[], ""), &self::payload(&Message::render(payload))).await
    }
}
