//! Message contracts carried on the Redis streams and to webhook receivers.
//!
//! Each stream entry holds its message as JSON in one field (see `crates/streams`); these are
//! the shapes. Changing a field is a wire change between independently deployed workers, so
//! new fields get `#[serde(default)]`.

use crate::monitor::ProbeSpec;
use crate::status::MonitorStatus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A check job on the monitoring stream: the spec to probe and the time it was due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckJob {
    /// The monitor's probe spec, as the API last wrote it.
    pub spec: ProbeSpec,
    /// When the check was due, Unix ms; orders a monitor's checks and measures schedule lag.
    /// For a heartbeat ping, when the ping arrived.
    pub due_at_ms: i64,
    /// For heartbeat monitors: the ping this job records. A heartbeat job without one is its
    /// deadline passing with no ping (the scheduler claimed it): a failed check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<PingKind>,
}

/// A heartbeat ping that becomes a check (a `/start` only moves the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PingKind {
    /// `GET|POST /heartbeat/{token}`: the job ran; an `up` check.
    Success,
    /// `/heartbeat/{token}/fail`: the job reported a failure; a `down` check at once.
    Fail,
}

/// A status transition, written to the outbox with its check and published on the
/// status-change stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEvent {
    /// The event's id: the idempotency key for incidents, and `event_id` in webhooks.
    pub event_id: Uuid,
    /// The monitor that changed.
    pub monitor_id: Uuid,
    /// Status before.
    pub from: MonitorStatus,
    /// Status after.
    pub to: MonitorStatus,
    /// Whether channels are told (false for the first `pending → up`).
    pub notify: bool,
    /// When the deciding check ran.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The deciding check's error, for `down` events.
    #[serde(default)]
    pub cause: Option<String>,
    /// The event's place in the order the status machine produced events, from the outbox
    /// (`status_events.seq`): increasing per monitor, with gaps. `None` until the outbox has
    /// stored the event. Appliers order a monitor's events by it, never by arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// The trace context of the check that produced the event, when tracing is on, so the
    /// status-change worker and the deliveries continue that check's trace. Not part of the
    /// JSON: it travels as the stream entry's trace field (see `crates/streams`) and in the
    /// outbox (`status_events.trace_context`), so a relayed event keeps it too.
    #[serde(skip)]
    pub trace_parent: Option<crate::TraceParent>,
    /// Set for a `certificate.expiring` event (`from` and `to` are then both the monitor's
    /// current status, and no incident opens or resolves): the certificate that expires soon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<ExpiringCertificate>,
    /// Set for a slowness notice (`monitor.degraded` or `monitor.degraded.resolved`; `from` and
    /// `to` are then both `up`, and no incident opens or resolves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<DegradedChange>,
}

impl StatusEvent {
    /// The webhook `type`: `certificate.expiring` for a certificate notice,
    /// `monitor.degraded` / `monitor.degraded.resolved` for a slowness notice, else the
    /// transition's ([`webhook_type`]).
    pub fn webhook_type(&self) -> &'static str {
        match (&self.certificate, &self.degraded) {
            (Some(_), _) => CERTIFICATE_EXPIRING,
            (None, Some(d)) if d.degraded => MONITOR_DEGRADED,
            (None, Some(_)) => MONITOR_DEGRADED_RESOLVED,
            (None, None) => webhook_type(self.to),
        }
    }

    /// Whether it is a status transition (`from → to`), not a notice about an unchanged status
    /// (a certificate expiring, slowness starting or ending): only transitions open and resolve
    /// incidents, count towards flapping and end a maintenance hold.
    pub fn is_transition(&self) -> bool {
        self.certificate.is_none() && self.degraded.is_none()
    }
}

/// The webhook `type` of an up monitor whose slowness is confirmed: its checks took at least
/// its `degraded_latency_ms` `failure_threshold` times in a row.
pub const MONITOR_DEGRADED: &str = "monitor.degraded";
/// The webhook `type` of a degraded monitor that is fast again (`recovery_threshold` fast
/// checks in a row). Links that list `monitor.degraded` hear both.
pub const MONITOR_DEGRADED_RESOLVED: &str = "monitor.degraded.resolved";

/// A slowness notice: an up monitor became degraded, or stopped being.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DegradedChange {
    /// True when slowness starts (`monitor.degraded`), false when it ends.
    pub degraded: bool,
    /// The deciding check's latency, ms.
    pub latency_ms: Option<i32>,
    /// The monitor's `degraded_latency_ms` when the check ran.
    pub threshold_ms: Option<u32>,
    /// The regions whose checks are slow, sorted (empty once it ends).
    #[serde(default)]
    pub regions: Vec<String>,
}

/// The webhook `type` of a certificate notice.
pub const CERTIFICATE_EXPIRING: &str = "certificate.expiring";

/// A certificate within its monitor's `expiry_warning_days` of expiry: reported once per
/// certificate (fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringCertificate {
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// Its `notAfter`.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whole days left when the check saw it.
    pub days_left: i64,
}

/// A notification job on the notification stream: one per (status event, channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationJob {
    /// The notification's id, [`notification_id`] of its event and channel.
    pub notification_id: Uuid,
}

/// The idempotency key of the notification of `event_id` on `channel_id`: a UUIDv5 (RFC 9562
/// §5.5) named by the channel id in the event id's namespace, so a redelivered event maps to
/// the same notification.
pub fn notification_id(event_id: Uuid, channel_id: Uuid) -> Uuid {
    Uuid::new_v5(&event_id, channel_id.as_bytes())
}

/// The webhook body (DESIGN.md, "Webhook deliveries").
///
/// Reminders and escalations (alert rules, see [`crate::rules`]) reuse the `monitor.down` body
/// of the incident's opening event (same `type`, `event_id` and `incident`), marked by
/// `reminder` (the reminder's number, 1 for the first) or `escalation: true`; each has its own
/// notification id (`webhook-id`), so receivers deduplicate on that, not on `event_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The status event's id; the same for every channel the event reaches.
    pub event_id: Uuid,
    /// `monitor.down`, `monitor.up`, `monitor.degraded`, `monitor.degraded.resolved`,
    /// `certificate.expiring`, `monitor.flapping` or `monitor.stable`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The monitor.
    pub monitor: WebhookMonitor,
    /// The incident the event opened or resolved, if any.
    pub incident: Option<WebhookIncident>,
    /// Status before.
    pub previous_status: MonitorStatus,
    /// Status after.
    pub status: MonitorStatus,
    /// When the deciding check ran.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The failing check's error, for `monitor.down`; what expires, for `certificate.expiring`.
    pub cause: Option<String>,
    /// The certificate, for `certificate.expiring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<ExpiringCertificate>,
    /// Set on a reminder of a still open, unacknowledged incident: its number (1, 2, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder: Option<u32>,
    /// True on an escalation: the incident stayed open and unacknowledged past the channel's
    /// `escalate_after_minutes`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalation: bool,
    /// The flapping episode, for `monitor.flapping` and `monitor.stable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<FlappingSummary>,
    /// The slowness, for `monitor.degraded` and `monitor.degraded.resolved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<DegradedChange>,
}

/// The webhook `type` of the one alert a monitor sends when it starts flapping.
pub const MONITOR_FLAPPING: &str = "monitor.flapping";
/// The webhook `type` of the alert a flapping monitor sends once its status held for the window.
pub const MONITOR_STABLE: &str = "monitor.stable";

/// What a flapping monitor did: in `monitor.flapping`, the changes that crossed the threshold;
/// in `monitor.stable`, the whole episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlappingSummary {
    /// Status changes (up ⇄ down) counted: within `window_seconds` for `monitor.flapping`,
    /// from the episode's first counted change to its last for `monitor.stable`.
    pub changes: u32,
    /// The window the changes are counted in (`FLAPPING_WINDOW_SECONDS`).
    pub window_seconds: u64,
    /// More than this many changes in the window is flapping (`FLAPPING_THRESHOLD`).
    pub threshold: u32,
    /// When the episode's first counted change happened.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When the latest change happened (for `monitor.stable`: the status has held since).
    #[serde(with = "time::serde::rfc3339")]
    pub last_change_at: OffsetDateTime,
}

/// The monitor part of a webhook body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookMonitor {
    /// Monitor id.
    pub id: Uuid,
    /// Monitor name.
    pub name: String,
    /// Monitor URL.
    pub url: String,
}

/// The incident part of a webhook body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookIncident {
    /// Incident id.
    pub id: Uuid,
    /// When it opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// When it was resolved, if it was.
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// The webhook `type` for a transition to `to`.
pub fn webhook_type(to: MonitorStatus) -> &'static str {
    match to {
        MonitorStatus::Down => "monitor.down",
        _ => "monitor.up",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_ids_are_stable_and_distinct_per_channel() {
        let event = Uuid::now_v7();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(notification_id(event, a), notification_id(event, a));
        assert_ne!(notification_id(event, a), notification_id(event, b));
        assert_ne!(notification_id(event, a), notification_id(Uuid::now_v7(), a));
    }

    #[test]
    fn webhook_body_uses_the_documented_names() {
        let body = WebhookPayload {
            event_id: Uuid::nil(),
            kind: webhook_type(MonitorStatus::Down).into(),
            monitor: WebhookMonitor { id: Uuid::nil(), name: "api".into(), url: "https://x".into() },
            incident: None,
            previous_status: MonitorStatus::Up,
            status: MonitorStatus::Down,
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            cause: Some("expected 2xx, got 503".into()),
            certificate: None,
            reminder: None,
            escalation: false,
            flapping: None,
            degraded: None,
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["type"], "monitor.down");
        assert_eq!(v["previous_status"], "up");
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00Z");
        for key in ["event_id", "monitor", "incident", "status", "cause"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert!(v.get("reminder").is_none() && v.get("escalation").is_none(), "absent unless set");
        let reminder =
            serde_json::to_value(WebhookPayload { reminder: Some(2), escalation: true, ..body }).unwrap();
        assert_eq!((reminder["reminder"].as_u64(), reminder["escalation"].as_bool()), (Some(2), Some(true)));
        assert!(v.get("flapping").is_none(), "only flapping alerts carry the summary");
    }
}
