//! An alert e-mail's subject, plain text and HTML, rendered from the stored notification payload
//! (the webhook body, [`upcheck_domain::WebhookPayload`]). The payload is read as JSON, not as
//! the typed struct, so event types added later (`monitor.flapping`, …) and test sends still
//! render: their type names the subject and their whole payload is shown.

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

/// The headline of an event type: `DOWN`, `UP`, `Certificate expiring`, or the type's last
/// part upper-cased for types this version does not know (`monitor.flapping` → `FLAPPING`).
fn headline(kind: &str, payload: &Value) -> (String, bool) {
    match kind {
        "monitor.down" => {
            let reminder = payload.pointer("/reminder").and_then(Value::as_u64);
            let escalated = payload.pointer("/escalation").and_then(Value::as_bool).unwrap_or(false);
            match (reminder, escalated) {
                (_, true) => ("ESCALATED: DOWN".into(), true),
                (Some(n), false) => (format!("STILL DOWN (reminder {n})"), true),
                (None, false) => ("DOWN".into(), true),
            }
        }
        "monitor.up" => ("UP".into(), true),
        "certificate.expiring" => {
            let days = payload.pointer("/certificate/days_left").and_then(Value::as_i64);
            let when = match days {
                Some(1) => " in 1 day".to_string(),
                Some(d) => format!(" in {d} days"),
                None => String::new(),
            };
            (format!("Certificate expiring{when}"), true)
        }
        other => {
            let last = other.rsplit('.').next().unwrap_or(other);
            let word: String = last
                .chars()
                .map(|c| if c.is_alphanumeric() { c.to_ascii_uppercase() } else { ' ' })
                .collect();
            let word = word.trim();
            (if word.is_empty() { "NOTICE".into() } else { word.to_string() }, false)
        }
    }
}

/// Renders the alert for notification `id` from `payload`.
pub(crate) fn render(id: Uuid, payload: &Value) -> Rendered {
    let s = |p: &str| payload.pointer(p).and_then(Value::as_str).map(one_line).filter(|v| !v.is_empty());
    let kind = s("/type").unwrap_or_else(|| "notice".into());
    let (head, known) = headline(&kind, payload);
    let name = s("/monitor/name");
    let url = s("/monitor/url");
    let mut subject = format!("[Upcheck] {head}");
    match (&name, &url) {
        (Some(n), Some(u)) => subject.push_str(&format!(": {n} ({u})")),
        (Some(n), None) => subject.push_str(&format!(": {n}")),
        (None, Some(u)) => subject.push_str(&format!(": {u}")),
        (None, None) => {}
    }
    let subject = truncate(&subject, MAX_SUBJECT_CHARS);

    // (label, value) lines, in the order people read them.
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let (Some(from), Some(to)) = (s("/previous_status"), s("/status")) {
        rows.push(("Status", format!("{from} → {to}")));
    } else if let Some(to) = s("/status") {
        rows.push(("Status", to));
    }
    if let Some(cause) = payload.pointer("/cause").and_then(Value::as_str).filter(|c| !c.is_empty()) {
        rows.push(("Cause", cause.to_string()));
    }
    if let Some(at) = s("/occurred_at") {
        rows.push(("When", at));
    }
    if let Some(not_after) = s("/certificate/not_after") {
        rows.push(("Certificate expires", not_after));
    }
    if let Some(fp) = s("/certificate/fingerprint") {
        rows.push(("Certificate SHA-256", fp));
    }
    if let Some(incident) = s("/incident/id") {
        let mut line = incident;
        if let Some(opened) = s("/incident/opened_at") {
            line.push_str(&format!(", opened {opened}"));
        }
        if let Some(resolved) = s("/incident/resolved_at") {
            line.push_str(&format!(", resolved {resolved}"));
        }
        rows.push(("Incident", line));
    }
    if let Some(event) = s("/event_id") {
        rows.push(("Event", event));
    }
    // What this version cannot lay out is shown whole, so a new event type loses nothing.
    let details = (!known).then(|| serde_json::to_string_pretty(payload).unwrap_or_default());

    let title = match &name {
        Some(n) => format!("{head}: {n}"),
        None => head.clone(),
    };
    Rendered {
        subject,
        text: text(&title, url.as_deref(), &rows, details.as_deref(), id),
        html: html_body(&title, url.as_deref(), &rows, details.as_deref(), id),
    }
}

fn text(title: &str, url: Option<&str>, rows: &[(&str, String)], details: Option<&str>, id: Uuid) -> String {
    let mut out = format!("{title}\n");
    if let Some(u) = url {
        out.push_str(&format!("{u}\n"));
    }
    out.push('\n');
    for (label, value) in rows {
        out.push_str(&format!("{label}: {value}\n"));
    }
    if let Some(d) = details {
        out.push_str(&format!("\nDetails:\n{d}\n"));
    }
    out.push_str(&format!("\n-- \nSent by Upcheck (notification {id}).\n"));
    out
}

fn html_body(
    title: &str,
    url: Option<&str>,
    rows: &[(&str, String)],
    details: Option<&str>,
    id: Uuid,
) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family: sans-serif\">\n",
    );
    out.push_str(&format!("<h2>{}</h2>\n", html(title)));
    if let Some(u) = url {
        // Only web addresses become links; anything else (tcp://, dns://) stays text.
        if u.starts_with("https://") || u.starts_with("http://") {
            out.push_str(&format!("<p><a href=\"{}\">{}</a></p>\n", attr(u), html(u)));
        } else {
            out.push_str(&format!("<p>{}</p>\n", html(u)));
        }
    }
    out.push_str("<table>\n");
    for (label, value) in rows {
        out.push_str(&format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>\n", html(label), html(value)));
    }
    out.push_str("</table>\n");
    if let Some(d) = details {
        out.push_str(&format!("<h3>Details</h3>\n<pre>{}</pre>\n", html(d)));
    }
    out.push_str(&format!(
        "<p style=\"color: #666; font-size: small\">Sent by Upcheck (notification {id}).</p>\n</body></html>\n"
    ));
    out
}

/// `v` on one line: control characters (line breaks included) become spaces.
fn one_line(v: &str) -> String {
    v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
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
        assert!(render(Uuid::nil(), &reminder).subject.starts_with("[Upcheck] STILL DOWN (reminder 3): api"));
        let mut escalation = down();
        escalation["escalation"] = true.into();
        assert!(render(Uuid::nil(), &escalation).subject.starts_with("[Upcheck] ESCALATED: DOWN: api"));
    }

    #[test]
    fn a_down_alert_names_the_monitor_in_the_subject_and_escapes_the_html() {
        let r = render(Uuid::nil(), &down());
        assert_eq!(r.subject, "[Upcheck] DOWN: api (https://api.example.com/health?a=1&b=2)");
        assert!(r.text.contains("Status: up → down\nCause: expected 2xx, got 503 <script>\n"));
        assert!(r.html.contains("<td>expected 2xx, got 503 &lt;script&gt;</td>"), "{}", r.html);
        assert!(r.html.contains("href=\"https://api.example.com/health?a=1&amp;b=2\""), "{}", r.html);
        assert!(!r.text.contains("Details"), "a known type is laid out, not dumped");
    }

    #[test]
    fn certificate_and_unknown_types_render_sensibly() {
        let cert = json!({"type": "certificate.expiring", "monitor": {"name": "site", "url": "tls://site:443"},
                          "certificate": {"days_left": 3, "not_after": "2026-12-09T00:00:00Z", "fingerprint": "ab"}});
        let r = render(Uuid::nil(), &cert);
        assert_eq!(r.subject, "[Upcheck] Certificate expiring in 3 days: site (tls://site:443)");
        assert!(r.html.contains("<p>tls://site:443</p>"), "not a link");

        let flap = json!({"type": "monitor.flapping", "monitor": {"name": "api\r\nBcc: x@y", "url": "https://a"},
                          "summary": "6 changes in 10 minutes"});
        let r = render(Uuid::nil(), &flap);
        assert_eq!(
            r.subject, "[Upcheck] FLAPPING: api  Bcc: x@y (https://a)",
            "no line break reaches a header"
        );
        assert!(r.text.contains("6 changes in 10 minutes"), "an unknown type's payload is shown whole");

        let test = json!({"type": "test", "channel_id": Uuid::nil()});
        assert_eq!(render(Uuid::nil(), &test).subject, "[Upcheck] TEST");
        assert_eq!(render(Uuid::nil(), &json!({})).subject, "[Upcheck] NOTICE");
    }

    #[test]
    fn long_subjects_are_cut() {
        let long = json!({"type": "monitor.up", "monitor": {"name": "é".repeat(500), "url": "https://a"}});
        let subject = render(Uuid::nil(), &long).subject;
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS + 1);
        assert!(subject.ends_with('…'));
    }
}
