//! A dispatcher pointed at local fake providers, and the stored payloads the tests deliver.

use serde_json::{Value, json};
use std::time::Duration;
use upcheck_channels::Channels;
use upcheck_config::{ChannelSettings, ProbeSettings};
use upcheck_net::Outbound;

pub(crate) const MONITOR: &str = "01938f4e-0000-7000-8000-000000000001";
pub(crate) const INCIDENT: &str = "01938f4e-0000-7000-8000-000000000002";
pub(crate) const EVENT: &str = "01938f4e-0000-7000-8000-000000000003";
pub(crate) const AT: &str = "2026-12-06T18:00:00Z";
pub(crate) const URL: &str = "https://api.example.com/health";
pub(crate) const CAUSE: &str = "expected 2xx, got 503 <html>";

/// Every kind over one client (2 s attempts), provider URLs from `settings`. Names resolve
/// nowhere: the fake providers are literal loopback addresses.
pub(crate) fn channels(settings: ChannelSettings) -> Channels {
    upcheck_config::install_crypto_provider();
    let outbound = Outbound::new(&ProbeSettings {
        dns_servers: vec!["127.0.0.1:9".parse().unwrap()],
        dns_timeout_ms: 200,
        ..ProbeSettings::default()
    })
    .unwrap();
    Channels::new(&settings, &upcheck_config::SmtpSettings::default(), Duration::from_secs(2), outbound)
        .unwrap()
}

/// The stored payload of a `monitor.down` event (the webhook body).
pub(crate) fn down() -> Value {
    json!({
        "event_id": EVENT, "type": "monitor.down",
        "monitor": {"id": MONITOR, "name": "api", "url": URL},
        "incident": {"id": INCIDENT, "opened_at": AT, "resolved_at": null},
        "previous_status": "up", "status": "down", "occurred_at": AT, "cause": CAUSE,
    })
}

/// The `monitor.up` that resolves [`down`]'s incident.
pub(crate) fn up() -> Value {
    json!({
        "event_id": EVENT, "type": "monitor.up",
        "monitor": {"id": MONITOR, "name": "api", "url": URL},
        "incident": {"id": INCIDENT, "opened_at": AT, "resolved_at": AT},
        "previous_status": "down", "status": "up", "occurred_at": AT, "cause": null,
    })
}

/// A `certificate.expiring` notice: no incident, a fingerprint.
pub(crate) fn expiring() -> Value {
    json!({
        "event_id": EVENT, "type": "certificate.expiring",
        "monitor": {"id": MONITOR, "name": "api", "url": URL}, "incident": null,
        "previous_status": "up", "status": "up", "occurred_at": AT,
        "cause": "certificate expires in 3 days",
        "certificate": {"fingerprint": "ab12", "not_after": "2026-12-09T18:00:00Z", "days_left": 3},
    })
}
