//! Alert rules of one monitor–channel link: which events notify, a delay before alerting,
//! reminders while an incident stays open and unacknowledged, and escalation; plus the timers
//! that carry the delayed parts out and the message that fires them.
//!
//! A link is *first-tier* when `escalate_after_minutes` is unset and an *escalation target*
//! when it is set. A link is *engaged* with an incident once it has been alerted (at once, after
//! its delay, or at its escalation): only engaged links get reminders and the incident's
//! `monitor.up`.

use crate::monitor::ValidationError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The event names a link can list in `events`.
pub const ALERT_EVENTS: [&str; 4] =
    ["monitor.down", "monitor.up", "monitor.degraded", "certificate.expiring"];

/// The events a link lists when none are given.
pub const DEFAULT_EVENTS: [&str; 3] = ["monitor.down", "monitor.up", "certificate.expiring"];

/// Longest delay before alerting, minutes (one day).
pub const MAX_DELAY_MINUTES: u32 = 1_440;

/// Longest period between reminders, minutes (one week).
pub const MAX_REMINDER_MINUTES: u32 = 10_080;

/// Longest wait before escalating, minutes (one week).
pub const MAX_ESCALATE_AFTER_MINUTES: u32 = 10_080;

/// The rules of one monitor–channel link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRule {
    /// The linked channel.
    pub channel_id: Uuid,
    /// Which of [`ALERT_EVENTS`] notify this channel; other event types (none today) are not
    /// filtered.
    pub events: Vec<String>,
    /// Alert only if the incident is still open this many minutes after it opened (0: at once).
    /// A recovery before then sends this channel neither the down nor the up.
    pub delay_minutes: u32,
    /// While the incident is open and unacknowledged, remind every this many minutes.
    pub reminder_minutes: Option<u32>,
    /// Set: an escalation target, alerted only if the incident is still open and
    /// unacknowledged this many minutes after it opened.
    pub escalate_after_minutes: Option<u32>,
}

impl AlertRule {
    /// The default rules for `channel_id`: [`DEFAULT_EVENTS`], no delay, no reminders,
    /// first-tier. What `channel_ids` links get.
    pub fn default_for(channel_id: Uuid) -> Self {
        Self {
            channel_id,
            events: DEFAULT_EVENTS.iter().map(|e| (*e).to_string()).collect(),
            delay_minutes: 0,
            reminder_minutes: None,
            escalate_after_minutes: None,
        }
    }

    /// Whether an event of webhook type `event_type` notifies this link, by its `events` alone.
    /// `monitor.degraded.resolved` is heard with `monitor.degraded`; other types outside
    /// [`ALERT_EVENTS`] always are.
    pub fn listens_to(&self, event_type: &str) -> bool {
        let event_type =
            if event_type == crate::MONITOR_DEGRADED_RESOLVED { crate::MONITOR_DEGRADED } else { event_type };
        !ALERT_EVENTS.contains(&event_type) || self.events.iter().any(|e| e == event_type)
    }

    /// Whether this link hears a flapping monitor's `monitor.flapping` and `monitor.stable`:
    /// they stand in for the downs and ups the episode holds back, so a first-tier link that
    /// listens to either hears them; escalation targets hear only incidents that escalate.
    pub fn hears_flapping(&self) -> bool {
        !self.is_escalation() && (self.listens_to("monitor.down") || self.listens_to("monitor.up"))
    }

    /// Whether this link is an escalation target.
    pub fn is_escalation(&self) -> bool {
        self.escalate_after_minutes.is_some()
    }

    /// Checks this rule's fields; errors name them under `prefix` (e.g. `channels[1]`).
    ///
    /// # Errors
    /// The first offending field, as a [`ValidationError`].
    pub fn validate(&self, prefix: &str) -> Result<(), ValidationError> {
        let field = |name: &str| format!("{prefix}.{name}");
        if self.events.is_empty() {
            return Err(ValidationError::new(field("events"), "must list at least one event"));
        }
        for (i, e) in self.events.iter().enumerate() {
            if !ALERT_EVENTS.contains(&e.as_str()) {
                return Err(ValidationError::new(
                    format!("{prefix}.events[{i}]"),
                    format!("unknown event {e:?}; one of {}", ALERT_EVENTS.join(", ")),
                ));
            }
            if self.events[..i].contains(e) {
                return Err(ValidationError::new(
                    format!("{prefix}.events[{i}]"),
                    format!("{e} listed twice"),
                ));
            }
        }
        if self.delay_minutes > MAX_DELAY_MINUTES {
            return Err(ValidationError::new(
                field("delay_minutes"),
                format!("must be 0 to {MAX_DELAY_MINUTES}"),
            ));
        }
        if let Some(r) = self.reminder_minutes
            && !(1..=MAX_REMINDER_MINUTES).contains(&r)
        {
            return Err(ValidationError::new(
                field("reminder_minutes"),
                format!("must be 1 to {MAX_REMINDER_MINUTES}, or null for no reminders"),
            ));
        }
        if let Some(m) = self.escalate_after_minutes {
            if !(1..=MAX_ESCALATE_AFTER_MINUTES).contains(&m) {
                return Err(ValidationError::new(
                    field("escalate_after_minutes"),
                    format!("must be 1 to {MAX_ESCALATE_AFTER_MINUTES}, or null for a first-tier channel"),
                ));
            }
            if self.delay_minutes != 0 {
                return Err(ValidationError::new(
                    field("delay_minutes"),
                    "must be 0 on an escalation target (escalate_after_minutes is its delay)",
                ));
            }
        }
        Ok(())
    }
}

/// Checks every rule of a monitor (`channels[i].…`) and that no channel is listed twice.
///
/// # Errors
/// The first offending field, as a [`ValidationError`].
pub fn validate_rules(rules: &[AlertRule]) -> Result<(), ValidationError> {
    for (i, rule) in rules.iter().enumerate() {
        let prefix = format!("channels[{i}]");
        rule.validate(&prefix)?;
        if rules[..i].iter().any(|r| r.channel_id == rule.channel_id) {
            return Err(ValidationError::new(format!("{prefix}.channel_id"), "channel listed twice"));
        }
    }
    Ok(())
}

/// What an alert timer does when due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimerKind {
    /// A first-tier link's delayed alert: the down, if the incident is still open.
    Delayed,
    /// The `n`th reminder, if the incident is still open and unacknowledged.
    Reminder,
    /// An escalation target's alert, if the incident is still open and unacknowledged.
    Escalation,
}

impl TimerKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delayed => "delayed",
            Self::Reminder => "reminder",
            Self::Escalation => "escalation",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "delayed" => Self::Delayed,
            "reminder" => Self::Reminder,
            "escalation" => Self::Escalation,
            _ => return None,
        })
    }
}

/// An alert timer that is due: the message its due-time sorted set moves onto the timer stream
/// (`<STATUS_CHANGE_STREAM>:timers`). Identifies the timer; what it does is decided from
/// Postgres when it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimerDue {
    /// The incident.
    pub incident_id: Uuid,
    /// The channel.
    pub channel_id: Uuid,
    /// What it does.
    pub kind: TimerKind,
    /// Its sequence number: the reminder's number (1, 2, …), 0 for the others.
    pub n: i32,
}

impl TimerDue {
    /// The id of the notification this timer creates when it fires: a UUIDv5 named by channel,
    /// kind and number in the incident id's namespace, so a timer fired twice notifies once.
    pub fn notification_id(&self) -> Uuid {
        let name = format!("{}/{}/{}", self.channel_id, self.kind.as_str(), self.n);
        Uuid::new_v5(&self.incident_id, name.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> AlertRule {
        AlertRule::default_for(Uuid::now_v7())
    }

    #[test]
    fn defaults_listen_to_down_up_and_certificates() {
        let r = rule();
        assert!(r.listens_to("monitor.down") && r.listens_to("monitor.up"));
        assert!(r.listens_to("certificate.expiring"));
        assert!(!r.listens_to("monitor.degraded"));
        assert!(r.listens_to("monitor.flapping"), "types outside the list are not filtered");
        assert_eq!(r.validate("channels[0]"), Ok(()));
    }

    #[test]
    fn degraded_listeners_hear_its_end_too() {
        let r = AlertRule { events: vec!["monitor.degraded".into()], ..rule() };
        assert!(r.listens_to("monitor.degraded") && r.listens_to("monitor.degraded.resolved"));
        assert!(!rule().listens_to("monitor.degraded.resolved"), "nor its end without it");
    }

    #[test]
    fn flapping_reaches_first_tier_links_that_hear_downs_or_ups() {
        assert!(rule().hears_flapping());
        let ups = AlertRule { events: vec!["monitor.up".into()], ..rule() };
        assert!(ups.hears_flapping());
        let certs = AlertRule { events: vec!["certificate.expiring".into()], ..rule() };
        assert!(!certs.hears_flapping(), "a certificate-only link hears no flapping");
        let tier2 = AlertRule { escalate_after_minutes: Some(10), ..rule() };
        assert!(!tier2.hears_flapping(), "an escalation target hears only escalations");
    }

    #[test]
    fn each_field_is_named_when_invalid() {
        let cases: Vec<(AlertRule, &str)> = vec![
            (AlertRule { events: vec![], ..rule() }, "channels[1].events"),
            (
                AlertRule { events: vec!["monitor.down".into(), "x".into()], ..rule() },
                "channels[1].events[1]",
            ),
            (
                AlertRule { events: vec!["monitor.up".into(), "monitor.up".into()], ..rule() },
                "channels[1].events[1]",
            ),
            (AlertRule { delay_minutes: 1_441, ..rule() }, "channels[1].delay_minutes"),
            (AlertRule { reminder_minutes: Some(0), ..rule() }, "channels[1].reminder_minutes"),
            (AlertRule { reminder_minutes: Some(10_081), ..rule() }, "channels[1].reminder_minutes"),
            (AlertRule { escalate_after_minutes: Some(0), ..rule() }, "channels[1].escalate_after_minutes"),
            (
                AlertRule { escalate_after_minutes: Some(5), delay_minutes: 2, ..rule() },
                "channels[1].delay_minutes",
            ),
        ];
        for (r, field) in cases {
            assert_eq!(r.validate("channels[1]").unwrap_err().field, field, "{r:?}");
        }
    }

    #[test]
    fn a_channel_listed_twice_is_refused() {
        let a = rule();
        let err = validate_rules(&[a.clone(), rule(), a]).unwrap_err();
        assert_eq!(err.field, "channels[2].channel_id");
    }

    #[test]
    fn timer_notifications_are_distinct_per_reminder_and_stable() {
        let t = TimerDue {
            incident_id: Uuid::now_v7(),
            channel_id: Uuid::now_v7(),
            kind: TimerKind::Reminder,
            n: 1,
        };
        assert_eq!(t.notification_id(), t.notification_id());
        assert_ne!(t.notification_id(), TimerDue { n: 2, ..t }.notification_id());
        assert_ne!(
            t.notification_id(),
            TimerDue { kind: TimerKind::Escalation, n: 0, ..t }.notification_id()
        );
        let json = serde_json::to_value(t).unwrap();
        assert_eq!(json["kind"], "reminder");
    }
}
