//! The one renderer every kind uses: a stored notification payload (the webhook body,
//! [`upcheck_domain::WebhookPayload`], or a test send's `{type: "test", …}`) as a title, an
//! intro line, labelled facts, a severity and a colour. Unknown `type`s (new events such as
//! `monitor.flapping` reaching an older worker) render from whatever fields they carry.

use serde_json::Value;

/// How bad the news is; each kind maps it to its own vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A monitor is down.
    Critical,
    /// Needs attention soon (a certificate expiring, flapping, degraded).
    Warning,
    /// Something is back to normal.
    Resolved,
    /// Informational (a test send, an unknown event).
    Info,
}

impl Severity {
    /// The colour as `0xRRGGBB`.
    pub fn color(self) -> u32 {
        match self {
            Self::Critical => 0xD9_2D_20,
            Self::Warning => 0xF7_90_09,
            Self::Resolved => 0x12_B7_6A,
            Self::Info => 0x2E_90_FA,
        }
    }
}

/// One labelled value: `key` for machine-readable details, `label` for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// snake_case name (PagerDuty's `custom_details`).
    pub key: &'static str,
    /// What a person reads.
    pub label: &'static str,
    /// The value, plain text.
    pub value: String,
}

/// A notification rendered for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The payload's `type` (`monitor.down`, …, `test`).
    pub event_type: String,
    /// One line: `api is down`.
    pub title: String,
    /// A sentence or empty.
    pub intro: String,
    /// Monitor, URL, status, cause, certificate, incident, time: those the payload has.
    pub facts: Vec<Fact>,
    /// How bad.
    pub severity: Severity,
    /// The monitor's id, if any.
    pub monitor_id: Option<String>,
    /// The monitored URL, only when it is `http(s)` (safe as a link).
    pub link: Option<String>,
    /// The incident's id, if any.
    pub incident_id: Option<String>,
    /// The status event's id, if any.
    pub event_id: Option<String>,
    /// When it happened (RFC 3339), if known.
    pub occurred_at: Option<String>,
    /// The certificate's fingerprint, for `certificate.expiring`.
    pub fingerprint: Option<String>,
}

/// Longest cause or other free text kept, characters.
const MAX_TEXT: usize = 500;

impl Message {
    /// Renders `payload`.
    pub fn render(payload: &Value) -> Self {
        let s = |p: &str| payload.pointer(p).and_then(Value::as_str).map(str::to_string);
        let event_type = s("/type").unwrap_or_else(|| "notification".into());
        let name = s("/monitor/name").map(|n| crate::http::truncate(&n, 200));
        let url = s("/monitor/url");
        let (from, to) = (s("/previous_status"), s("/status"));
        let who = name.clone().unwrap_or_else(|| "A monitor".into());
        let days_left = payload.pointer("/certificate/days_left").and_then(Value::as_i64);
        let escalated = payload.pointer("/escalation").and_then(Value::as_bool).unwrap_or(false);
        let (title, severity, intro) = match event_type.as_str() {
            // Reminders and escalations (alert rules) repeat the down with a marker.
            "monitor.down" => match (payload.pointer("/reminder").and_then(Value::as_u64), escalated) {
                (_, true) => (
                    format!("Escalated: {who} is down"),
                    Severity::Critical,
                    "Nobody acknowledged the incident in time; it is escalated to you.".into(),
                ),
                (Some(n), false) => (
                    format!("Reminder {n}: {who} is still down"),
                    Severity::Critical,
                    "The incident is still open and nobody has acknowledged it.".into(),
                ),
                (None, false) => (format!("{who} is down"), Severity::Critical, String::new()),
            },
            "monitor.up" => (format!("{who} is up again"), Severity::Resolved, String::new()),
            "monitor.degraded" => (
                format!("{who} is degraded"),
                Severity::Warning,
                "It answers, but slower than its degraded latency.".into(),
            ),
            "monitor.degraded.resolved" => {
                (format!("{who} is no longer degraded"), Severity::Resolved, String::new())
            }
            "monitor.flapping" => (
                format!("{who} is flapping"),
                Severity::Warning,
                "It keeps changing state; alerts are held until it is stable.".into(),
            ),
            "monitor.stable" => (
                match &to {
                    Some(st) => format!("{who} is stable again ({st})"),
                    None => format!("{who} is stable again"),
                },
                if to.as_deref() == Some("down") { Severity::Critical } else { Severity::Resolved },
                String::new(),
            ),
            "certificate.expiring" => (
                match days_left {
                    Some(0) => format!("The certificate of {who} expires today"),
                    Some(1) => format!("The certificate of {who} expires in 1 day"),
                    Some(d) => format!("The certificate of {who} expires in {d} days"),
                    None => format!("The certificate of {who} expires soon"),
                },
                Severity::Warning,
                String::new(),
            ),
            "test" => (
                "Test notification from Upcheck".into(),
                Severity::Info,
                "If you can read this, the channel works.".into(),
            ),
            other => (
                match &name {
                    Some(n) => format!("{n}: {other}"),
                    None => format!("Upcheck: {other}"),
                },
                if to.as_deref() == Some("down") { Severity::Critical } else { Severity::Info },
                String::new(),
            ),
        };
        let mut facts = Vec::new();
        let mut fact = |key, label, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                facts.push(Fact { key, label, value: crate::http::truncate(&v, MAX_TEXT) });
            }
        };
        fact("monitor", "Monitor", name);
        fact("url", "URL", url.clone());
        fact(
            "status",
            "Status",
            match (&from, &to) {
                (Some(f), Some(t)) if f != t => Some(format!("{f} → {t}")),
                (_, t) => t.clone(),
            },
        );
        fact("cause", "Cause", s("/cause"));
        let latency = |p: &str| payload.pointer(p).and_then(Value::as_i64).map(|ms| format!("{ms} ms"));
        fact("latency", "Latency", latency("/degraded/latency_ms"));
        fact("degraded_latency", "Degraded from", latency("/degraded/threshold_ms"));
        let slow: Vec<&str> = payload
            .pointer("/degraded/regions")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        fact("slow_regions", "Slow in", (!slow.is_empty()).then(|| slow.join(", ")));
        fact("certificate_expires_at", "Certificate expires", s("/certificate/not_after"));
        fact("incident_id", "Incident", s("/incident/id"));
        fact("channel_id", "Channel", s("/channel_id"));
        fact("occurred_at", "At", s("/occurred_at"));
        Self {
            event_type,
            title,
            intro,
            facts,
            severity,
            monitor_id: s("/monitor/id"),
            link: url.filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            incident_id: s("/incident/id"),
            event_id: s("/event_id"),
            occurred_at: s("/occurred_at"),
            fingerprint: s("/certificate/fingerprint"),
        }
    }

    /// The intro and every fact as `Label: value` lines: the plain-text summary.
    pub fn summary(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        if !self.intro.is_empty() {
            lines.push(self.intro.clone());
        }
        lines.extend(self.facts.iter().map(|f| format!("{}: {}", f.label, f.value)));
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn down() -> Value {
        json!({"event_id": "e1", "type": "monitor.down", "monitor": {"id": "m1", "name": "api", "url": "https://api.example.com/health"},
            "incident": {"id": "i1", "opened_at": "2026-01-02T03:04:05Z", "resolved_at": null},
            "previous_status": "up", "status": "down", "occurred_at": "2026-01-02T03:04:05Z", "cause": "connection refused"})
    }

    #[test]
    fn a_down_event_is_critical_with_its_facts() {
        let m = Message::render(&down());
        assert_eq!((m.title.as_str(), m.severity), ("api is down", Severity::Critical));
        assert_eq!(
            m.summary(),
            "Monitor: api\nURL: https://api.example.com/health\nStatus: up → down\nCause: connection refused\nIncident: i1\nAt: 2026-01-02T03:04:05Z"
        );
        assert_eq!(m.link.as_deref(), Some("https://api.example.com/health"));
    }

    #[test]
    fn slowness_names_latency_threshold_and_regions_and_its_end_resolves() {
        let mut slow = down();
        slow["type"] = "monitor.degraded".into();
        (slow["previous_status"], slow["status"], slow["incident"]) = ("up".into(), "up".into(), Value::Null);
        slow["cause"] = "responses take 2300 ms (degraded from 800 ms)".into();
        slow["degraded"] =
            json!({"degraded": true, "latency_ms": 2300, "threshold_ms": 800, "regions": ["eu", "us"]});
        let m = Message::render(&slow);
        assert_eq!((m.title.as_str(), m.severity), ("api is degraded", Severity::Warning));
        assert!(
            m.summary().contains("Latency: 2300 ms\nDegraded from: 800 ms\nSlow in: eu, us"),
            "{}",
            m.summary()
        );
        assert!(m.summary().contains("Status: up\n"), "an unchanged status is shown once");
        slow["type"] = "monitor.degraded.resolved".into();
        slow["degraded"] = json!({"degraded": false, "latency_ms": 120, "threshold_ms": 800, "regions": []});
        let m = Message::render(&slow);
        assert_eq!((m.title.as_str(), m.severity), ("api is no longer degraded", Severity::Resolved));
        assert!(!m.summary().contains("Slow in"));
    }

    #[test]
    fn reminders_and_escalations_say_so_in_the_title() {
        let mut reminder = down();
        reminder["reminder"] = 2.into();
        assert_eq!(Message::render(&reminder).title, "Reminder 2: api is still down");
        let mut escalation = down();
        escalation["escalation"] = true.into();
        let m = Message::render(&escalation);
        assert_eq!((m.title.as_str(), m.severity), ("Escalated: api is down", Severity::Critical));
    }

    #[test]
    fn up_certificate_test_and_unknown_types_render() {
        let mut up = down();
        up["type"] = "monitor.up".into();
        (up["previous_status"], up["status"]) = ("down".into(), "up".into());
        assert_eq!(Message::render(&up).title, "api is up again");
        assert_eq!(Message::render(&up).severity, Severity::Resolved);
        let mut cert = down();
        cert["type"] = "certificate.expiring".into();
        cert["certificate"] =
            json!({"fingerprint": "ab", "not_after": "2026-01-05T00:00:00Z", "days_left": 3});
        let c = Message::render(&cert);
        assert_eq!(
            (c.title.as_str(), c.severity),
            ("The certificate of api expires in 3 days", Severity::Warning)
        );
        assert!(c.summary().contains("Certificate expires: 2026-01-05T00:00:00Z"));
        let t = Message::render(
            &json!({"type": "test", "channel_id": "c1", "occurred_at": "2026-01-02T03:04:05Z"}),
        );
        assert_eq!(
            t.summary(),
            "If you can read this, the channel works.\nChannel: c1\nAt: 2026-01-02T03:04:05Z"
        );
        let mut odd = down();
        odd["type"] = "monitor.rebooted".into();
        let o = Message::render(&odd);
        assert_eq!((o.title.as_str(), o.severity), ("api: monitor.rebooted", Severity::Critical));
        assert_eq!(Message::render(&json!({})).title, "Upcheck: notification");
    }

    #[test]
    fn links_are_only_http_and_long_causes_are_cut() {
        let mut p = down();
        p["monitor"]["url"] = "tcp://db:5432".into();
        p["cause"] = "x".repeat(2_000).into();
        let m = Message::render(&p);
        assert_eq!(m.link, None);
        assert_eq!(m.facts.iter().find(|f| f.key == "cause").unwrap().value.chars().count(), MAX_TEXT);
    }
}
