//! An alert e-mail's subject, plain text and HTML, laid out from the one renderer every kind
//! uses ([`crate::message::Message`]): the same title, intro and facts as a Slack or Teams
//! message, so a new event type reads the same in every channel.

use crate::message::Message;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as html};
use serde_json::Value;
use uuid::Uuid;

/// Longest subject, characters (RFC 5322 §2.1.1 recommends lines under 78; mail clients cut
/// long subjects anyway).
const MAX_SUBJECT_CHARS: usize = 200;

/// One rendered alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

/// Renders the alert for notification `id` from `payload` (a stored notification payload: the
/// webhook body, or a test send's).
pub(crate) fn render(id: Uuid, payload: &Value) -> Rendered {
    let m = Message::render(payload);
    let url = m.facts.iter().find(|f| f.key == "url").map(|f| one_line(&f.value));
    let subject = match &url {
        Some(u) => format!("[Upcheck] {} ({u})", one_line(&m.title)),
        None => format!("[Upcheck] {}", one_line(&m.title)),
    };
    // (label, value) lines, in the order people read them; the URL is under the title.
    let mut rows: Vec<(&str, String)> =
        m.facts.iter().filter(|f| f.key != "url").map(|f| (f.label, f.value.clone())).collect();
    if let Some(event) = &m.event_id {
        rows.push(("Event", event.clone()));
    }
    Rendered {
        subject: crate::http::truncate(&subject, MAX_SUBJECT_CHARS + 1),
        text: text(&m, url.as_deref(), &rows, id),
        html: html_body(&m, url.as_deref(), &rows, id),
    }
}

fn text(m: &Message, url: Option<&str>, rows: &[(&str, String)], id: Uuid) -> String {
    let mut out = format!("{}\n", m.title);
    if let Some(u) = url {
        out.push_str(&format!("{u}\n"));
    }
    if !m.intro.is_empty() {
        out.push_str(&format!("\n{}\n", m.intro));
    }
    out.push('\n');
    for (label, value) in rows {
        out.push_str(&format!("{label}: {value}\n"));
    }
    out.push_str(&format!("\n-- \nSent by Upcheck (notification {id}).\n"));
    out
}

fn html_body(m: &Message, url: Option<&str>, rows: &[(&str, String)], id: Uuid) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif\">\n",
    );
    out.push_str(&format!("<h2 style=\"color: #{:06x}\">{}</h2>\n", m.severity.color(), html(&m.title)));
    if let Some(u) = url {
        // Only web addresses become links (`Message::link`); anything else (tcp://, dns://)
        // stays text.
        match &m.link {
            Some(link) => out.push_str(&format!("<p><a href=\"{}\">{}</a></p>\n", attr(link), html(u))),
            None => out.push_str(&format!("<p>{}</p>\n", html(u))),
        }
    }
    if !m.intro.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", html(&m.intro)));
    }
    out.push_str("<table>\n");
    for (label, value) in rows {
        out.push_str(&format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>\n", html(label), html(value)));
    }
    out.push_str("</table>\n");
    out.push_str(&format!(
        "<p style=\"color: #666; font-size: small\">Sent by Upcheck (notification {id}).</p>\n</body></html>\n"
    ));
    out
}

/// `v` on one line: control characters (line breaks included) become spaces.
fn one_line(v: &str) -> String {
    v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn down() -> Value {
        json!({"event_id": "0193a5c0-0000-7000-8000-000000000001", "type": "monitor.down",
               "monitor": {"id": Uuid::nil(), "name": "api", "url": "https://api.example.com/health?a=1&b=2"},
               "incident": {"id": "0193a5c0-0000-7000-8000-000000000002", "opened_at": "2026-12-06T18:00:00Z", "resolved_at": null},
               "previous_status": "up", "status": "down", "occurred_at": "2026-12-06T18:00:00Z",
               "cause": "expected 2xx, got 503 <script>"})
    }

    #[test]
    fn reminders_and_escalations_say_so_in_the_subject() {
        let mut reminder = down();
        reminder["reminder"] = 3.into();
        let subject = render(Uuid::nil(), &reminder).subject;
        assert!(subject.starts_with("[Upcheck] Reminder 3: api is still down"), "{subject}");
        let mut escalation = down();
        escalation["escalation"] = true.into();
        assert!(render(Uuid::nil(), &escalation).subject.starts_with("[Upcheck] Escalated: api is down"));
    }

    #[test]
    fn a_down_alert_names_the_monitor_in_the_subject_and_escapes_the_html() {
        let r = render(Uuid::nil(), &down());
        assert_eq!(r.subject, "[Upcheck] api is down (https://api.example.com/health?a=1&b=2)");
        assert!(r.text.contains("Status: up → down\nCause: expected 2xx, got 503 <script>\n"), "{}", r.text);
        assert!(r.html.contains("<td>expected 2xx, got 503 &lt;script&gt;</td>"), "{}", r.html);
        assert!(r.html.contains("href=\"https://api.example.com/health?a=1&amp;b=2\""), "{}", r.html);
        assert!(r.text.contains("Event: 0193a5c0-0000-7000-8000-000000000001\n"));
    }

    #[test]
    fn certificate_slowness_flapping_and_unknown_types_render_sensibly() {
        let cert = json!({"type": "certificate.expiring", "monitor": {"name": "site", "url": "tls://site:443"},
                          "certificate": {"days_left": 3, "not_after": "2026-12-09T00:00:00Z", "fingerprint": "ab"}});
        let r = render(Uuid::nil(), &cert);
        assert_eq!(r.subject, "[Upcheck] The certificate of site expires in 3 days (tls://site:443)");
        assert!(r.html.contains("<p>tls://site:443</p>"), "not a link");

        let slow = json!({"type": "monitor.degraded", "monitor": {"name": "api", "url": "https://a"},
                          "previous_status": "up", "status": "up",
                          "degraded": {"degraded": true, "latency_ms": 900, "threshold_ms": 500, "regions": ["eu"]}});
        let r = render(Uuid::nil(), &slow);
        assert_eq!(r.subject, "[Upcheck] api is degraded (https://a)");
        assert!(r.text.contains("Latency: 900 ms\nDegraded from: 500 ms\nSlow in: eu\n"), "{}", r.text);

        let flap =
            json!({"type": "monitor.flapping", "monitor": {"name": "api\r\nBcc: x@y", "url": "https://a"}});
        let r = render(Uuid::nil(), &flap);
        assert_eq!(
            r.subject, "[Upcheck] api  Bcc: x@y is flapping (https://a)",
            "no line break reaches a header"
        );
        assert!(r.text.contains("alerts are held until it is stable"), "{}", r.text);

        let odd = json!({"type": "monitor.rebooted", "monitor": {"name": "api"}});
        assert_eq!(render(Uuid::nil(), &odd).subject, "[Upcheck] api: monitor.rebooted");
        let test = json!({"type": "test", "channel_id": Uuid::nil()});
        assert_eq!(render(Uuid::nil(), &test).subject, "[Upcheck] Test notification from Upcheck");
    }

    #[test]
    fn long_subjects_are_cut() {
        let long = json!({"type": "monitor.up", "monitor": {"name": "é".repeat(500), "url": "https://a"}});
        let subject = render(Uuid::nil(), &long).subject;
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS + 1);
        assert!(subject.ends_with('…'));
    }
}
