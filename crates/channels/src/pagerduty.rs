//! PagerDuty Events API v2: `trigger` on down, `resolve` on up, deduplicated by incident.

use crate::http::{Http, Post, truncate};
use crate::message::{Message, Severity};
use crate::{AttemptResult, Channel};
use serde_json::{Map, Value, json};
use upcheck_domain::channel::PagerDutyConfig;
use uuid::Uuid;

/// Enqueues events at `PAGERDUTY_EVENTS_URL`.
#[derive(Clone)]
pub struct PagerDutyChannel {
    http: Http,
    events_url: String,
}

impl PagerDutyChannel {
    /// A channel over the shared client, to the Events API v2 endpoint `events_url`.
    pub fn new(http: Http, events_url: String) -> Self {
        Self { http, events_url }
    }
}

/// The event for `m`: `resolve` for `monitor.up` (dedup key: the incident id) and
/// `monitor.stable` (the flapping key); `trigger` otherwise, deduplicated by the incident id
/// (`monitor.down`), by monitor and certificate fingerprint (`certificate.expiring`), by
/// monitor (`monitor.flapping`, `monitor.degraded`: resolved by `monitor.stable` and
/// `monitor.degraded.resolved`), else by the event (or the notification `id`).
pub(crate) fn payload(m: &Message, config: &PagerDutyConfig, id: Uuid) -> Value {
    let monitor = m.monitor_id.clone().unwrap_or_default();
    let fallback = m.event_id.clone().unwrap_or_else(|| id.to_string());
    let (action, dedup_key) = match m.event_type.as_str() {
        "monitor.down" | "monitor.up" => {
            let key = m.incident_id.clone().unwrap_or(fallback);
            (if m.event_type == "monitor.up" { "resolve" } else { "trigger" }, key)
        }
        "certificate.expiring" => {
            ("trigger", format!("certificate:{monitor}:{}", m.fingerprint.as_deref().unwrap_or("")))
        }
        "monitor.flapping" => ("trigger", format!("flapping:{monitor}")),
        "monitor.stable" => ("resolve", format!("flapping:{monitor}")),
        "monitor.degraded" => ("trigger", format!("degraded:{monitor}")),
        "monitor.degraded.resolved" => ("resolve", format!("degraded:{monitor}")),
        _ => ("trigger", fallback),
    };
    let dedup_key = truncate(&dedup_key, 255);
    if action == "resolve" {
        // https://developer.pagerduty.com/docs/events-api-v2/resolve-events/: the key and the
        // action are all a resolve needs.
        return json!({"routing_key": config.routing_key, "event_action": "resolve", "dedup_key": dedup_key});
    }
    // https://developer.pagerduty.com/docs/events-api-v2/trigger-events/: payload.summary (at
    // most 1,024 characters), source, severity (critical, error, warning or info), timestamp
    // (ISO 8601), component, class, custom_details; links and client beside it.
    let severity = match m.severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Resolved | Severity::Info => "info",
    };
    let mut details = Map::new();
    for f in &m.facts {
        details.insert(f.key.into(), f.value.clone().into());
    }
    for (key, value) in [("monitor_id", &m.monitor_id), ("event_id", &m.event_id)] {
        if let Some(v) = value {
            details.insert(key.into(), v.clone().into());
        }
    }
    let source = m
        .facts
        .iter()
        .find(|f| f.key == "url")
        .or_else(|| m.facts.iter().find(|f| f.key == "monitor"))
        .map_or_else(|| "upcheck".to_string(), |f| f.value.clone());
    let mut inner = json!({
        "summary": truncate(&m.title, 1_024),
        "source": truncate(&source, 255),
        "severity": severity,
        "class": m.event_type,
        "custom_details": details,
    });
    if let Some(at) = &m.occurred_at {
        inner["timestamp"] = at.clone().into();
    }
    if let Some(name) = m.facts.iter().find(|f| f.key == "monitor") {
        inner["component"] = name.value.clone().into();
    }
    let mut event = json!({
        "routing_key": config.routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": inner,
        "client": "Upcheck",
    });
    if let Some(link) = &m.link {
        event["links"] = json!([{"href": link, "text": "Monitored URL"}]);
    }
    event
}

impl Channel for PagerDutyChannel {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    /// The span records the kind, the notification, the answer and the latency; never the
    /// routing key. PagerDuty answers 202; 400 is final, 429 and 5xx are retried
    /// (https://developer.pagerduty.com/docs/events-api-v2/overview/#response-codes--retry-logic).
    #[tracing::instrument(name = "channel_deliver", skip_all,
        fields(kind = "pagerduty", notification_id = %id, http_status, latency_ms, delivered, otel.kind = "client"))]
    async fn deliver(&self, id: Uuid, config: &Value, payload: &Value) -> AttemptResult {
        let c = match PagerDutyConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        let body = self::payload(&Message::render(payload), &c, id);
        self.http
            .post(Post {
                url: &self.events_url,
                body: crate::http::body(&body),
                headers: Vec::new(),
                secrets: vec![&c.routing_key],
                describe: true,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, to: &str) -> Value {
        json!({"event_id": "e1", "type": kind, "monitor": {"id": "m1", "name": "api", "url": "tcp://db:5432"},
            "incident": null, "previous_status": "up", "status": to, "occurred_at": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn flapping_triggers_and_stable_resolves_one_key_per_monitor_and_other_types_key_by_event() {
        let config = PagerDutyConfig { routing_key: "k".repeat(32) };
        let id = Uuid::nil();
        let flapping = payload(&Message::render(&event("monitor.flapping", "down")), &config, id);
        let stable = payload(&Message::render(&event("monitor.stable", "up")), &config, id);
        let slow = payload(&Message::render(&event("monitor.degraded", "up")), &config, id);
        let fast = payload(&Message::render(&event("monitor.degraded.resolved", "up")), &config, id);
        assert_eq!((&slow["event_action"], &slow["dedup_key"]), (&json!("trigger"), &json!("degraded:m1")));
        assert_eq!(slow["payload"]["severity"], "warning");
        assert_eq!(
            fast,
            json!({"routing_key": config.routing_key, "event_action": "resolve", "dedup_key": "degraded:m1"})
        );
        let other = payload(&Message::render(&event("monitor.rebooted", "up")), &config, id);
        let test = payload(&Message::render(&json!({"type": "test", "channel_id": "c1"})), &config, id);

        assert_eq!(
            (&flapping["event_action"], &flapping["dedup_key"]),
            (&json!("trigger"), &json!("flapping:m1"))
        );
        assert_eq!(flapping["payload"]["severity"], "warning");
        assert_eq!(
            stable,
            json!({"routing_key": config.routing_key, "event_action": "resolve", "dedup_key": "flapping:m1"})
        );
        assert_eq!((&other["dedup_key"], &other["payload"]["severity"]), (&json!("e1"), &json!("info")));
        assert_eq!(other["payload"]["source"], "tcp://db:5432");
        assert!(other.get("links").is_none(), "only http(s) URLs become links");
        assert_eq!(
            (&test["dedup_key"], &test["payload"]["source"]),
            (&json!(id.to_string()), &json!("upcheck"))
        );
    }
}
