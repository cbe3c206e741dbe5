//! What a published status page shows, as one value that renders both as JSON
//! (`/status/{slug}.json`) and as HTML (`/status/{slug}`), built from a bounded number of queries
//! (see [`upcheck_store::status_pages::public`]).

use crate::error::ApiError;
use crate::routes::rfc3339;
use serde::Serialize;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};
use upcheck_domain::{IncidentState, MonitorStatus};
use upcheck_store::Pool;
use upcheck_store::status_pages::public::{self, MonitorNow};
use utoipa::ToSchema;
use uuid::Uuid;

/// Days of uptime bars.
pub(crate) const DAYS: i64 = 90;
/// How far back resolved incidents are listed, days.
const INCIDENT_DAYS: i64 = 30;
/// Most incidents listed.
const MAX_INCIDENTS: i64 = 20;

/// A published status page as visitors see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"slug": "acme", "title": "Acme status", "description": "", "logo_url": null,
    "state": "partial_outage", "state_label": "Partial outage", "generated_at": "2026-12-06T12:00:00Z",
    "sections": [{"name": "Core", "monitors": [{"name": "API", "public_id": "9f1c0e6b2d7a4c3e8b5f1a2d3c4e5f60",
      "status": "down", "status_label": "Outage", "last_checked_at": "2026-12-06T11:59:58Z",
      "uptime_percent": {"24h": 98.5, "7d": 99.8, "30d": 99.95, "90d": 99.98},
      "days": [{"date": "2026-12-06", "checks": 1440, "failures": 21, "degraded": 0, "uptime_percent": 98.54}],
      "response_time_ms": [{"hour": "2026-12-06T11:00:00Z", "mean_ms": 84.2}]}]}],
    "incidents": [{"monitor": "API", "state": "open", "opened_at": "2026-12-06T11:40:00Z", "acknowledged_at": null,
      "resolved_at": null, "duration_seconds": null,
      "timeline": [{"at": "2026-12-06T11:40:00Z", "type": "incident.opened", "text": "API is down"}]}]}))]
pub(crate) struct PublicPage {
    pub(crate) slug: String,
    pub(crate) title: String,
    pub(crate) description: String,
    /// Rendered only as an `<img src>`.
    pub(crate) logo_url: Option<String>,
    /// `operational`, `degraded`, `partial_outage` (some monitors down), `major_outage` (every
    /// monitor with a status down) or `unknown` (no monitor checked yet).
    pub(crate) state: &'static str,
    /// `state` in words ("All systems operational").
    pub(crate) state_label: &'static str,
    /// When this data was read (it is served for up to `STATUS_PAGE_CACHE_SECONDS`).
    pub(crate) generated_at: String,
    pub(crate) sections: Vec<PublicSection>,
    /// Open incidents and those opened in the last 30 days, newest first, at most 20.
    pub(crate) incidents: Vec<PublicIncident>,
}

/// A section of a published page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PublicSection {
    pub(crate) name: String,
    pub(crate) monitors: Vec<PublicMonitor>,
}

/// A monitor as visitors see it: its display name, never its URL or internal id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PublicMonitor {
    pub(crate) name: String,
    /// For badges: `/badge/{public_id}/status.svg`.
    pub(crate) public_id: String,
    /// `up`, `degraded` (up, but confirmed slow), `down`, `pending` (not checked yet) or `paused`.
    pub(crate) status: &'static str,
    /// `status` in words ("Operational").
    pub(crate) status_label: &'static str,
    pub(crate) last_checked_at: Option<String>,
    /// Exact uptime over the last 24 hours and the last 7, 30 and 90 UTC days (today included):
    /// time not down ÷ time monitored × 100, from the monitor's status changes, leaving out
    /// paused time, maintenance windows and time before a first verdict; `null` without
    /// monitored time.
    #[schema(value_type = HashMap<String, Option<f64>>)]
    pub(crate) uptime_percent: UptimeWindows,
    /// The last 90 UTC days, oldest first (today last).
    pub(crate) days: Vec<PublicDay>,
    /// Mean response time per hour over the last 24 hours, oldest first.
    pub(crate) response_time_ms: Vec<HourPoint>,
}

/// Uptime per window, percent.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct UptimeWindows {
    #[serde(rename = "24h")]
    pub(crate) h24: Option<f64>,
    #[serde(rename = "7d")]
    pub(crate) d7: Option<f64>,
    #[serde(rename = "30d")]
    pub(crate) d30: Option<f64>,
    #[serde(rename = "90d")]
    pub(crate) d90: Option<f64>,
}

/// One UTC day of checks (from rollups); its `uptime_percent` is the share of its checks that
/// did not fail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PublicDay {
    /// `YYYY-MM-DD`.
    pub(crate) date: String,
    pub(crate) checks: i64,
    pub(crate) failures: i64,
    /// Slow checks (up, but over the monitor's threshold); not failures.
    pub(crate) degraded: i64,
    /// `null` on a day without checks.
    pub(crate) uptime_percent: Option<f64>,
}

/// Mean response time over one hour.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct HourPoint {
    /// The hour's start.
    pub(crate) hour: String,
    /// `null` when no check got a response that hour.
    pub(crate) mean_ms: Option<f64>,
}

/// An incident as visitors see it: when, not why (causes, channels and people stay private).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PublicIncident {
    /// The monitor's display name.
    pub(crate) monitor: String,
    /// `open` or `resolved`.
    pub(crate) state: &'static str,
    pub(crate) opened_at: String,
    pub(crate) acknowledged_at: Option<String>,
    pub(crate) resolved_at: Option<String>,
    pub(crate) duration_seconds: Option<i64>,
    /// Oldest first.
    pub(crate) timeline: Vec<TimelineEntry>,
}

/// One line of a public incident timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TimelineEntry {
    pub(crate) at: String,
    /// `incident.opened`, `incident.acknowledged` or `incident.resolved`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// In words ("API is down").
    pub(crate) text: String,
}

/// `part` of `whole` checks not failed, percent; `None` without checks.
pub(crate) fn uptime(checks: i64, failures: i64) -> Option<f64> {
    (checks > 0).then(|| (checks - failures) as f64 * 100.0 / checks as f64)
}

/// A monitor's public status and its words.
pub(crate) fn status_of(m: Option<&MonitorNow>) -> (&'static str, &'static str) {
    match m.map(|m| (m.status, m.degraded)) {
        Some((MonitorStatus::Down, _)) => ("down", "Outage"),
        Some((MonitorStatus::Up, true)) => ("degraded", "Degraded performance"),
        Some((MonitorStatus::Up, false)) => ("up", "Operational"),
        Some((MonitorStatus::Paused, _)) => ("paused", "Paused"),
        _ => ("pending", "No data yet"),
    }
}

/// The page's overall state from its monitors' public statuses.
pub(crate) fn overall(statuses: &[&str]) -> (&'static str, &'static str) {
    let active = statuses.iter().filter(|s| matches!(**s, "up" | "degraded" | "down")).count();
    let down = statuses.iter().filter(|s| **s == "down").count();
    if active == 0 {
        ("unknown", "No data yet")
    } else if down == active {
        ("major_outage", "Major outage")
    } else if down > 0 {
        ("partial_outage", "Partial outage")
    } else if statuses.contains(&"degraded") {
        ("degraded", "Degraded performance")
    } else {
        ("operational", "All systems operational")
    }
}

/// Reads the published page at `slug`; `None` when there is none. A bounded number of queries
/// whatever the number of monitors.
///
/// # Errors
/// 503 when Postgres does not answer; 500 when a row does not decode.
pub(crate) async fn build(pool: &Pool, slug: &str) -> Result<Option<PublicPage>, ApiError> {
    let Some(found) = public::published(pool, slug).await? else { return Ok(None) };
    let now = OffsetDateTime::now_utc();
    let today = now.date();
    let first_day = today - Duration::days(DAYS - 1);
    let ids: Vec<Uuid> =
        found.page.sections.iter().flat_map(|s| s.monitors.iter().map(|e| e.monitor_id)).collect();
    let since_days = first_day.midnight().assume_utc();
    let since_hours = now
        .replace_minute(0)
        .unwrap_or(now)
        .replace_second(0)
        .unwrap_or(now)
        .replace_nanosecond(0)
        .unwrap_or(now)
        - Duration::hours(23);
    let windows = [
        now - Duration::hours(24),
        (today - Duration::days(6)).midnight().assume_utc(),
        (today - Duration::days(29)).midnight().assume_utc(),
        since_days,
    ];
    let (days, hours, incidents, uptimes) = futures::try_join!(
        public::daily_counts(pool, &ids, since_days, now),
        public::hourly_counts(pool, &ids, since_hours, now),
        public::incidents(pool, &ids, now - Duration::days(INCIDENT_DAYS), MAX_INCIDENTS),
        public::uptimes(pool, &ids, &windows, now),
    )?;
    let now_by_id: HashMap<Uuid, &MonitorNow> = found.monitors.iter().map(|m| (m.monitor_id, m)).collect();
    let mut days_by: HashMap<(Uuid, time::Date), (i64, i64, i64)> = HashMap::new();
    for d in &days {
        days_by.insert((d.monitor_id, d.day), (d.checks, d.failures, d.degraded));
    }
    let mut names: HashMap<Uuid, String> = HashMap::new();
    let mut statuses = Vec::new();
    let sections = found
        .page
        .sections
        .iter()
        .map(|s| PublicSection {
            name: s.name.clone(),
            monitors: s
                .monitors
                .iter()
                .map(|e| {
                    names.insert(e.monitor_id, e.display_name.clone());
                    let m = now_by_id.get(&e.monitor_id).copied();
                    let (status, status_label) = status_of(m);
                    statuses.push(status);
                    let series: Vec<PublicDay> = (0..DAYS)
                        .map(|k| {
                            let day = first_day + Duration::days(k);
                            let (checks, failures, degraded) =
                                days_by.get(&(e.monitor_id, day)).copied().unwrap_or_default();
                            PublicDay {
                                date: day.to_string(),
                                checks,
                                failures,
                                degraded,
                                uptime_percent: uptime(checks, failures),
                            }
                        })
                        .collect();
                    let mine: Vec<_> = hours.iter().filter(|h| h.monitor_id == e.monitor_id).collect();
                    let exact = |i: usize| {
                        uptimes.get(&e.monitor_id).and_then(|u| u.get(i)).and_then(|u| u.percent())
                    };
                    PublicMonitor {
                        name: e.display_name.clone(),
                        public_id: e.public_id.clone(),
                        status,
                        status_label,
                        last_checked_at: m.and_then(|m| m.last_checked_at).map(rfc3339),
                        uptime_percent: UptimeWindows {
                            h24: exact(0),
                            d7: exact(1),
                            d30: exact(2),
                            d90: exact(3),
                        },
                        days: series,
                        response_time_ms: (0..24)
                            .map(|k| {
                                let hour = since_hours + Duration::hours(k);
                                let mean_ms =
                                    mine.iter().find(|h| h.hour == hour).and_then(|h| h.mean_latency_ms);
                                HourPoint {
                                    hour: rfc3339(hour),
                                    mean_ms: mean_ms.map(|v| (v * 10.0).round() / 10.0),
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let (state, state_label) = overall(&statuses);
    let incidents = incidents
        .into_iter()
        .map(|i| {
            let name = names.get(&i.monitor_id).cloned().unwrap_or_default();
            let mut timeline = vec![TimelineEntry {
                at: rfc3339(i.opened_at),
                kind: "incident.opened",
                text: format!("{name} is down"),
            }];
            if let Some(at) = i.acknowledged_at {
                timeline.push(TimelineEntry {
                    at: rfc3339(at),
                    kind: "incident.acknowledged",
                    text: "We are investigating".into(),
                });
            }
            if let Some(at) = i.resolved_at {
                timeline.push(TimelineEntry {
                    at: rfc3339(at),
                    kind: "incident.resolved",
                    text: format!("{name} is back up"),
                });
            }
            PublicIncident {
                state: if i.state == IncidentState::Open { "open" } else { "resolved" },
                opened_at: rfc3339(i.opened_at),
                acknowledged_at: i.acknowledged_at.map(rfc3339),
                resolved_at: i.resolved_at.map(rfc3339),
                duration_seconds: i.duration_seconds(),
                monitor: name,
                timeline,
            }
        })
        .collect();
    let p = found.page;
    Ok(Some(PublicPage {
        slug: p.slug,
        title: p.title,
        description: p.description,
        logo_url: p.logo_url,
        state,
        state_label,
        generated_at: rfc3339(now),
        sections,
        incidents,
    }))
}
