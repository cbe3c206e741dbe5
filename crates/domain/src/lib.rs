//! Upcheck's pure domain: monitors, checks, the status machine and the message contracts
//! carried on the Redis streams. No I/O and no async live here.

pub mod assertions;
pub mod backoff;
pub mod channel;
pub mod clock;
pub mod expected;
pub mod kinds;
pub mod live;
pub mod maintenance;
pub mod messages;
pub mod monitor;
pub mod names;
pub mod netpolicy;
pub mod probe_config;
pub mod quorum;
pub mod rollup;
pub mod rules;
pub mod sealed_headers;
pub mod status;
pub mod trace;
pub mod uptime;
pub mod webhook;

pub use expected::{ExpectedStatus, ExpectedStatusError};
pub use kinds::{ChannelKind, IncidentState, Role};
pub use messages::{
    CheckJob, DegradedChange, ExpiringCertificate, FlappingSummary, MONITOR_DEGRADED,
    MONITOR_DEGRADED_RESOLVED, MONITOR_FLAPPING, MONITOR_STABLE, NotificationJob, PingKind, StatusEvent,
    WebhookIncident, WebhookMonitor, WebhookPayload, notification_id, webhook_type,
};
pub use monitor::{HttpMethod, MonitorKind, ProbeSpec, ValidationError};
pub use rules::{AlertRule, TimerDue, TimerKind};
pub use status::{CheckOutcome, MonitorState, MonitorStatus, Thresholds, Transition, apply_check};
pub use trace::TraceParent;
