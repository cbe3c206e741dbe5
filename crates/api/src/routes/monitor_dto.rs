//! The monitor routes' request and response bodies, and the view of a stored monitor.

use crate::json::present;
use crate::routes::monitor_rules::ChannelRuleBody;
use crate::routes::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use upcheck_domain::{CheckOutcome, ExpectedStatus, HttpMethod, MonitorKind, MonitorStatus};
use upcheck_store::monitors::Monitor;
use utoipa::ToSchema;
use uuid::Uuid;

/// A monitor's `config`, by its `kind` (documentation only: the API parses it by `kind`).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum MonitorConfig {
    /// `http`: assertions, redirects, degraded latency, certificate check.
    Http(upcheck_domain::probe_config::HttpConfig),
    /// `tcp`: host, port, optional send/expect.
    Tcp(upcheck_domain::probe_config::TcpConfig),
    /// `dns`: name, record type, resolver, expected values.
    Dns(upcheck_domain::probe_config::DnsConfig),
    /// `tls`: host, port, expiry warning.
    Tls(upcheck_domain::probe_config::TlsConfig),
    /// `heartbeat`: period and grace; pinged at the monitor's `heartbeat_url`.
    Heartbeat(upcheck_domain::probe_config::HeartbeatConfig),
}

/// A new monitor. `name` is required, and `url` for `http` monitors; other kinds name their
/// target in `config`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateMonitor {
    /// 1 to 200 characters.
    pub(crate) name: String,
    /// `http://` or `https://`; `http` monitors only.
    pub(crate) url: Option<String>,
    /// `http` (default), `tcp`, `dns`, `tls` or `heartbeat`.
    #[schema(value_type = Option<String>, example = "http")]
    pub(crate) kind: Option<MonitorKind>,
    /// The kind's settings: `HttpConfig` (optional), `TcpConfig`, `DnsConfig`, `TlsConfig` or `HeartbeatConfig`.
    #[schema(value_type = Option<MonitorConfig>, example = json!({"assertions": [{"type": "json", "pointer": "/status", "op": "equals", "value": "ok"}], "degraded_latency_ms": 800}))]
    pub(crate) config: Option<Value>,
    /// Seconds between checks, 1 to 86,400 (default 60).
    pub(crate) interval_seconds: Option<u32>,
    /// Probe timeout, 100 to 60,000 ms and below the interval (default 10,000, or the interval's 80 %).
    pub(crate) timeout_ms: Option<u32>,
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    #[schema(value_type = Option<String>, example = "GET")]
    pub(crate) method: Option<HttpMethod>,
    /// Extra request headers.
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// Request body.
    pub(crate) body: Option<String>,
    /// Accepted statuses: classes like `"2xx"` and codes like `301` (default `["2xx"]`).
    #[schema(example = json!(["2xx", 301]))]
    pub(crate) expected_status: Option<Vec<ExpectedStatus>>,
    /// Failed checks in a row before `down`, 1 to 20 (default 2).
    pub(crate) failure_threshold: Option<u16>,
    /// Successful checks in a row before `up` again, 1 to 20 (default 1).
    pub(crate) recovery_threshold: Option<u16>,
    /// Channels told about status changes (the caller's own), with the default rules. Not with
    /// `channels`.
    pub(crate) channel_ids: Option<Vec<Uuid>>,
    /// Channels told about status changes, each with its alert rules (events, delay, reminders,
    /// escalation). Not with `channel_ids`.
    pub(crate) channels: Option<Vec<ChannelRuleBody>>,
    /// Create paused (default false).
    pub(crate) paused: Option<bool>,
    /// Regions that probe it (default: every region with a monitoring replica; see `GET /regions`).
    pub(crate) regions: Option<Vec<String>>,
    /// Regions that must see it down before it is `down` (default: a majority of its regions).
    pub(crate) min_failed_regions: Option<u16>,
}

/// Changes to a monitor: any subset of the creation fields but `paused` (use pause/resume).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMonitor {
    pub(crate) name: Option<String>,
    pub(crate) url: Option<String>,
    #[schema(value_type = Option<String>)]
    pub(crate) kind: Option<MonitorKind>,
    /// Replaces the kind's settings (required when `kind` changes).
    #[schema(value_type = Option<MonitorConfig>)]
    pub(crate) config: Option<Value>,
    pub(crate) interval_seconds: Option<u32>,
    pub(crate) timeout_ms: Option<u32>,
    #[schema(value_type = Option<String>)]
    pub(crate) method: Option<HttpMethod>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// `null` removes the body.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) body: Option<Option<String>>,
    pub(crate) expected_status: Option<Vec<ExpectedStatus>>,
    pub(crate) failure_threshold: Option<u16>,
    pub(crate) recovery_threshold: Option<u16>,
    /// Replaces the links, each with the default rules.
    pub(crate) channel_ids: Option<Vec<Uuid>>,
    /// Replaces the links, each with its rules.
    pub(crate) channels: Option<Vec<ChannelRuleBody>>,
    /// Replaces the listed regions (`[]`: every region).
    pub(crate) regions: Option<Vec<String>>,
    /// `null` returns to a majority.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>)]
    pub(crate) min_failed_regions: Option<Option<u16>>,
}

/// A monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MonitorView {
    id: Uuid,
    name: String,
    url: String,
    kind: String,
    /// The kind's settings, defaults filled in.
    #[schema(value_type = MonitorConfig)]
    config: Value,
    method: String,
    /// Request headers, every value masked (`••••` and, for values of 12 characters or more,
    /// their last four); send a masked value back unchanged to keep it.
    headers: BTreeMap<String, String>,
    body: Option<String>,
    interval_seconds: u32,
    timeout_ms: u32,
    expected_status: Vec<ExpectedStatus>,
    failure_threshold: u16,
    recovery_threshold: u16,
    channel_ids: Vec<Uuid>,
    /// Each link's alert rules, defaults filled in.
    channels: Vec<upcheck_domain::rules::AlertRule>,
    paused: bool,
    /// The regions listed to probe it (empty: every region).
    regions: Vec<String>,
    /// Regions that must see it down (null: a majority).
    min_failed_regions: Option<u16>,
    /// Each region's own status (its status machine over its own checks); the monitor's
    /// `status` is their quorum.
    region_status: Vec<RegionStatusView>,
    /// `pending`, `up`, `degraded` (up, but its latest check was slow), `down` or `paused`.
    status: String,
    /// RFC 3339, or null before the first check.
    last_checked_at: Option<String>,
    /// Changing status more than `FLAPPING_THRESHOLD` times in `FLAPPING_WINDOW_SECONDS`: one
    /// `monitor.flapping` alert went out, none per change until it holds (`monitor.stable`).
    flapping: bool,
    /// Heartbeat monitors: where the job pings (`GET` or `POST`; add `/start` or `/fail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat_url: Option<String>,
    created_at: String,
    updated_at: String,
}

impl MonitorView {
    /// The monitor as the API shows it: its request headers opened and masked.
    ///
    /// # Errors
    /// 500 when its sealed headers do not open under the API's keyring.
    pub(crate) fn shown(
        state: &crate::state::AppState,
        mut m: Monitor,
    ) -> Result<Self, crate::error::ApiError> {
        m.spec = crate::routes::secrets::masked_spec(state, m.spec)?;
        Ok(Self::from(m))
    }
}

impl From<Monitor> for MonitorView {
    fn from(m: Monitor) -> Self {
        let s = m.spec;
        Self {
            id: s.monitor_id,
            name: m.name,
            url: s.url,
            kind: s.kind.as_str().into(),
            config: s.config.to_json(),
            method: s.method.as_str().into(),
            headers: s.headers,
            body: s.body,
            interval_seconds: s.interval_seconds,
            timeout_ms: s.timeout_ms,
            expected_status: s.expected_status,
            failure_threshold: s.failure_threshold,
            recovery_threshold: s.recovery_threshold,
            channel_ids: m.channel_ids,
            channels: m.channels,
            paused: m.paused,
            regions: s.regions,
            min_failed_regions: s.min_failed_regions,
            region_status: m
                .regions
                .into_iter()
                .map(|r| RegionStatusView {
                    region: r.region,
                    status: r.status,
                    last_checked_at: r.last_checked_at.map(rfc3339),
                    error: r.error,
                })
                .collect(),
            status: match (m.paused, m.status, m.last_outcome) {
                (true, _, _) => "paused".into(),
                (false, MonitorStatus::Up, Some(CheckOutcome::Degraded)) => "degraded".into(),
                (false, status, _) => status.as_str().into(),
            },
            last_checked_at: m.last_checked_at.map(rfc3339),
            flapping: m.flapping,
            heartbeat_url: (s.kind == MonitorKind::Heartbeat)
                .then_some(m.heartbeat_token.as_ref())
                .flatten()
                .map(|t| format!("/api/v1/heartbeat/{t}")),
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// One region's view of a monitor.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegionStatusView {
    region: String,
    /// `pending`, `up` or `down`.
    status: String,
    last_checked_at: Option<String>,
    /// Its latest failed check's error.
    error: Option<String>,
}

/// A page of monitors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MonitorPage {
    pub(crate) items: Vec<MonitorView>,
    pub(crate) next_cursor: Option<String>,
}
