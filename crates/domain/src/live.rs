//! The live feed's message contract: what the workers and the API publish on the Redis pub/sub
//! channel `<REDIS_KEY_PREFIX>live`, and the API's `GET /api/v1/events` stream turns into
//! Server-Sent Events (one JSON message per publication, tagged by `type`).

use crate::{CheckOutcome, MonitorStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// One message on the live channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LiveMessage {
    /// A status event was applied (published by the status-change worker).
    #[serde(rename = "status")]
    Status(LiveStatus),
    /// An incident was acknowledged for the first time (published by the API).
    #[serde(rename = "incident.acknowledged")]
    Acknowledged(LiveAcknowledgement),
    /// One stored batch of check results (published by the monitoring worker, only while
    /// someone listens: see [`LIVE_CHECKS_LISTENERS_TTL_SECONDS`]).
    #[serde(rename = "checks")]
    Checks {
        /// The batch's checks, in the order they were stored.
        checks: Vec<LiveCheck>,
    },
}

/// A status event as applied: a status change, or a notice (certificate, slowness).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStatus {
    /// `status_events.seq`: the event's place in one global sequence, increasing per monitor;
    /// the feed's `id:`.
    pub seq: i64,
    /// The status event's id (`event_id` in webhooks).
    pub event_id: Uuid,
    /// The monitor's owner: the feed sends it to this user's streams only.
    pub owner_id: Uuid,
    /// The monitor.
    pub monitor_id: Uuid,
    /// The webhook type: `monitor.down`, `monitor.up`, `monitor.degraded`,
    /// `monitor.degraded.resolved` or `certificate.expiring`.
    pub event: String,
    /// Status after.
    pub status: MonitorStatus,
    /// Status before.
    pub previous_status: MonitorStatus,
    /// When the deciding check ran.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The incident the event opened, joined, resolved or names.
    pub incident_id: Option<Uuid>,
    /// `incident.opened` or `incident.resolved` when this event did that to `incident_id`.
    #[serde(default)]
    pub incident: Option<String>,
}

/// An incident's first acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAcknowledgement {
    /// `incidents.acknowledged_seq`, drawn from the same sequence as status events' `seq`.
    pub seq: i64,
    /// The monitor's owner.
    pub owner_id: Uuid,
    /// The monitor.
    pub monitor_id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub acknowledged_at: OffsetDateTime,
    /// Who (null once that user is deleted).
    pub acknowledged_by: Option<Uuid>,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCheck {
    /// The monitor probed.
    pub monitor_id: Uuid,
    /// The region that probed.
    pub region: String,
    /// When the probe finished.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// `up`, `down` or `degraded`.
    pub status: CheckOutcome,
    /// Time to the response, ms; null when no response came.
    pub latency_ms: Option<i32>,
    /// The response's status code, if any.
    pub http_status: Option<i16>,
    /// Why the check failed.
    pub error: Option<String>,
}

/// The API sets the key `<REDIS_KEY_PREFIX>live:checks` with this time to live (seconds) while
/// one of its streams asked for checks (`?checks=true`), refreshing it at a third of it; the
/// monitoring worker publishes check batches only while the key exists.
pub const LIVE_CHECKS_LISTENERS_TTL_SECONDS: u64 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_by_type_and_read_back() {
        let ack = LiveMessage::Acknowledged(LiveAcknowledgement {
            seq: 7,
            owner_id: Uuid::nil(),
            monitor_id: Uuid::nil(),
            incident_id: Uuid::nil(),
            acknowledged_at: OffsetDateTime::UNIX_EPOCH,
            acknowledged_by: None,
        });
        let text = serde_json::to_string(&ack).unwrap();
        assert!(text.starts_with(r#"{"type":"incident.acknowledged","seq":7"#), "{text}");
        assert_eq!(serde_json::from_str::<LiveMessage>(&text).unwrap(), ack);
        let checks: LiveMessage = serde_json::from_str(r#"{"type":"checks","checks":[]}"#).unwrap();
        assert_eq!(checks, LiveMessage::Checks { checks: vec![] });
    }
}
