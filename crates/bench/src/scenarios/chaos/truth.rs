//! The chaos scenario's verdict: what Upcheck recorded and delivered (incidents, status events,
//! webhooks) compared with the schedule the targets followed. Times are ms from the start of
//! the chaos window.

use super::plan::{Plan, Span};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// How much earlier than a span's start a record may be stamped (clock granularity), ms.
const EARLY_MS: i64 = 200;
/// A `down` is stamped at the failing check that confirmed it: inside the outage, plus the
/// time its answer took, ms.
const LATE_MS: i64 = 1_500;
/// Delays past these are listed with the findings, to be looked up in the logs:
/// interval × failure_threshold + 1.5 s, and interval × recovery_threshold + 1.5 s.
const SLOW_DOWN_MS: f64 = 3_500.0;
const SLOW_UP_MS: f64 = 2_500.0;

/// An incident as stored.
#[derive(Debug, Clone)]
pub(crate) struct Incident {
    pub(crate) id: Uuid,
    pub(crate) monitor: Uuid,
    pub(crate) opened_ms: i64,
    pub(crate) resolved_ms: Option<i64>,
}

/// A status event (`status_events`), `from → to` at `at_ms`.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) monitor: Uuid,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) at_ms: i64,
}

/// One webhook request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) webhook_id: String,
    pub(crate) event_id: String,
    pub(crate) kind: String,
    pub(crate) monitor: Uuid,
    /// The event's `occurred_at`, ms from the window's start.
    pub(crate) occurred_ms: i64,
    /// When the receiver got it, ms from the window's start.
    pub(crate) received_ms: f64,
}

/// What the comparison found.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub(crate) expected_transitions: usize,
    pub(crate) lost_transitions: usize,
    pub(crate) duplicate_incidents: usize,
    pub(crate) false_incidents_stable: usize,
    pub(crate) false_incidents_blip: usize,
    pub(crate) false_incidents_other: usize,
    pub(crate) alerts_expected: usize,
    pub(crate) alerts_delivered: usize,
    pub(crate) deliveries: usize,
    pub(crate) duplicate_deliveries: usize,
    pub(crate) events_under_two_ids: usize,
    pub(crate) unexpected_alerts: usize,
    /// Outage start → its `monitor.down` webhook, ms, sorted.
    pub(crate) detection_ms: Vec<f64>,
    /// Outage end → its `monitor.up` webhook, ms, sorted.
    pub(crate) recovery_ms: Vec<f64>,
    /// One line per finding, naming the monitor.
    pub(crate) anomalies: Vec<String>,
}

/// Compares the records with the plan. `flipping[i]` follows `plan.monitors[i]`; `stable`
/// never fail.
pub(crate) fn judge(
    plan: &Plan,
    flipping: &[Uuid],
    stable: &HashSet<Uuid>,
    incidents: &[Incident],
    events: &[Event],
    deliveries: &[Delivery],
) -> Verdict {
    let mut v = Verdict::default();
    let mut by_monitor: HashMap<Uuid, Vec<&Incident>> = HashMap::new();
    for i in incidents {
        by_monitor.entry(i.monitor).or_default().push(i);
    }
    let mut events_of: HashMap<Uuid, Vec<&Event>> = HashMap::new();
    for e in events {
        events_of.entry(e.monitor).or_default().push(e);
    }
    // Deliveries: the first of each webhook-id counts; later ones are duplicates.
    let mut unique: BTreeMap<&str, &Delivery> = BTreeMap::new();
    for d in deliveries {
        v.deliveries += 1;
        if unique.contains_key(d.webhook_id.as_str()) {
            v.duplicate_deliveries += 1;
        } else {
            unique.insert(&d.webhook_id, d);
        }
    }
    let mut ids_of_event: HashMap<&str, HashSet<&str>> = HashMap::new();
    for d in unique.values() {
        ids_of_event.entry(&d.event_id).or_default().insert(&d.webhook_id);
    }
    for (event, ids) in &ids_of_event {
        if ids.len() > 1 {
            v.events_under_two_ids += 1;
            v.anomalies.push(format!("event {event} delivered under {} webhook-ids: {ids:?}", ids.len()));
        }
    }
    let mut alerts_of: HashMap<Uuid, Vec<&Delivery>> = HashMap::new();
    for d in unique.values() {
        alerts_of.entry(d.monitor).or_default().push(d);
    }

    for id in stable {
        for i in by_monitor.get(id).into_iter().flatten() {
            v.false_incidents_stable += 1;
            v.anomalies.push(format!("false incident {} on stable monitor {id} at {} ms", i.id, i.opened_ms));
        }
        for d in alerts_of.get(id).into_iter().flatten() {
            v.unexpected_alerts += 1;
            v.anomalies.push(format!("{} webhook for stable monitor {id} (event {})", d.kind, d.event_id));
        }
    }

    for (index, id) in flipping.iter().enumerate() {
        let line = &plan.monitors[index];
        let windows: Vec<(Span, i64)> = line
            .outages
            .iter()
            .enumerate()
            .map(|(k, o)| (*o, line.outages.get(k + 1).map_or(i64::MAX, |n| n.start_ms as i64)))
            .collect();
        let down_window = |o: &Span| (o.start_ms as i64 - EARLY_MS, o.end_ms as i64 + LATE_MS);
        let in_outage =
            |at: i64| windows.iter().position(|(o, _)| (down_window(o).0..=down_window(o).1).contains(&at));
        let mut assigned: Vec<Vec<&Incident>> = vec![Vec::new(); windows.len()];
        for i in by_monitor.get(id).into_iter().flatten() {
            match in_outage(i.opened_ms) {
                Some(k) => assigned[k].push(i),
                None if line.blips.iter().any(|b| {
                    (b.start_ms as i64 - EARLY_MS..=b.end_ms as i64 + 2 * LATE_MS).contains(&i.opened_ms)
                }) =>
                {
                    v.false_incidents_blip += 1;
                    v.anomalies.push(format!(
                        "false incident {} on monitor {id} during a blip, at {} ms",
                        i.id, i.opened_ms
                    ));
                }
                None => {
                    v.false_incidents_other += 1;
                    v.anomalies.push(format!(
                        "false incident {} on monitor {id} at {} ms, outside every outage",
                        i.id, i.opened_ms
                    ));
                }
            }
        }
        let evs = events_of.get(id).map(Vec::as_slice).unwrap_or_default();
        let alerts = alerts_of.get(id).map(Vec::as_slice).unwrap_or_default();
        let mut used_alerts: HashSet<&str> = HashSet::new();
        for (k, (o, next)) in windows.iter().enumerate() {
            let (lo, hi) = down_window(o);
            let (s, e) = (o.start_ms as i64, o.end_ms as i64);
            v.expected_transitions += 2;
            v.alerts_expected += 2;
            let down_event = evs.iter().any(|x| x.to == "down" && (lo..=hi).contains(&x.at_ms));
            let up_event = evs
                .iter()
                .any(|x| x.from == "down" && x.to == "up" && (e - EARLY_MS..*next).contains(&x.at_ms));
            let opened = &assigned[k];
            if opened.len() > 1 {
                v.duplicate_incidents += opened.len() - 1;
                v.anomalies.push(format!(
                    "{} incidents for one outage of monitor {id} ({s}..{e} ms): {:?}",
                    opened.len(),
                    opened.iter().map(|i| i.id).collect::<Vec<_>>()
                ));
            }
            let resolved = opened
                .first()
                .and_then(|i| i.resolved_ms)
                .is_some_and(|r| (e - EARLY_MS..*next).contains(&r));
            if !down_event || opened.is_empty() {
                v.lost_transitions += 1;
                v.anomalies.push(format!(
                    "lost down of monitor {id} at {s}..{e} ms (status event: {down_event}, incident: {})",
                    !opened.is_empty()
                ));
            }
            if !up_event || !resolved {
                v.lost_transitions += 1;
                v.anomalies.push(format!("lost up of monitor {id} after {e} ms (status event: {up_event}, incident resolved in time: {resolved}; resolved at {:?})", opened.first().and_then(|i| i.resolved_ms)));
            }
            let down = alerts
                .iter()
                .filter(|d| d.kind == "monitor.down" && (lo..=hi).contains(&d.occurred_ms))
                .min_by(|a, b| a.received_ms.total_cmp(&b.received_ms));
            let up = alerts
                .iter()
                .filter(|d| d.kind == "monitor.up" && (e - EARLY_MS..*next).contains(&d.occurred_ms))
                .min_by(|a, b| a.received_ms.total_cmp(&b.received_ms));
            for (alert, from, what) in [(down, s, "down"), (up, e, "up")] {
                match alert {
                    Some(d) => {
                        v.alerts_delivered += 1;
                        used_alerts.insert(&d.webhook_id);
                        let delay = d.received_ms - from as f64;
                        let (delays, slow) = if what == "down" {
                            (&mut v.detection_ms, SLOW_DOWN_MS)
                        } else {
                            (&mut v.recovery_ms, SLOW_UP_MS)
                        };
                        delays.push(delay);
                        if delay > slow {
                            v.anomalies.push(format!(
                                "slow monitor.{what} of monitor {id}: outage {s}..{e} ms, event at {} ms, received at {:.0} ms ({delay:.0} ms)",
                                d.occurred_ms, d.received_ms
                            ));
                        }
                    }
                    None => v
                        .anomalies
                        .push(format!("no monitor.{what} webhook for monitor {id}'s outage {s}..{e} ms")),
                }
            }
        }
        for d in alerts {
            if !used_alerts.contains(d.webhook_id.as_str())
                && ids_of_event.get(d.event_id.as_str()).is_none_or(|ids| ids.len() == 1)
            {
                v.unexpected_alerts += 1;
                v.anomalies.push(format!(
                    "unexpected {} webhook for monitor {id}, event {} at {} ms",
                    d.kind, d.event_id, d.occurred_ms
                ));
            }
        }
    }
    v.detection_ms.sort_by(f64::total_cmp);
    v.recovery_ms.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::super::plan::Timeline;
    use super::*;

    fn plan() -> Plan {
        Plan {
            monitors: vec![Timeline {
                outages: vec![
                    Span { start_ms: 10_000, end_ms: 16_000 },
                    Span { start_ms: 40_000, end_ms: 45_000 },
                ],
                blips: vec![Span { start_ms: 25_000, end_ms: 25_400 }],
            }],
        }
    }

    fn delivery(
        id: &str,
        event: &str,
        kind: &str,
        monitor: Uuid,
        occurred_ms: i64,
        received_ms: f64,
    ) -> Delivery {
        Delivery {
            webhook_id: id.into(),
            event_id: event.into(),
            kind: kind.into(),
            monitor,
            occurred_ms,
            received_ms,
        }
    }

    fn event(monitor: Uuid, from: &str, to: &str, at_ms: i64) -> Event {
        Event { monitor, from: from.into(), to: to.into(), at_ms }
    }

    #[test]
    fn a_clean_run_has_no_finding_and_measures_the_delays() {
        let m = Uuid::now_v7();
        let incidents = vec![
            Incident { id: Uuid::now_v7(), monitor: m, opened_ms: 11_500, resolved_ms: Some(16_800) },
            Incident { id: Uuid::now_v7(), monitor: m, opened_ms: 41_200, resolved_ms: Some(45_300) },
        ];
        let events = vec![
            event(m, "up", "down", 11_500),
            event(m, "down", "up", 16_800),
            event(m, "up", "down", 41_200),
            event(m, "down", "up", 45_300),
        ];
        let deliveries = vec![
            delivery("w1", "e1", "monitor.down", m, 11_500, 11_600.0),
            delivery("w1", "e1", "monitor.down", m, 11_500, 11_900.0),
            delivery("w2", "e2", "monitor.up", m, 16_800, 16_900.0),
            delivery("w3", "e3", "monitor.down", m, 41_200, 41_300.0),
            delivery("w4", "e4", "monitor.up", m, 45_300, 45_400.0),
        ];
        let v = judge(&plan(), &[m], &HashSet::new(), &incidents, &events, &deliveries);
        assert!(v.anomalies.is_empty(), "{:?}", v.anomalies);
        assert_eq!((v.expected_transitions, v.lost_transitions, v.alerts_delivered), (4, 0, 4));
        assert_eq!((v.deliveries, v.duplicate_deliveries), (5, 1));
        assert_eq!(v.detection_ms, vec![1_300.0, 1_600.0]);
        assert_eq!(v.recovery_ms, vec![400.0, 900.0]);
    }

    #[test]
    fn lost_duplicate_and_false_records_are_counted() {
        let (m, s) = (Uuid::now_v7(), Uuid::now_v7());
        let incidents = vec![
            Incident { id: Uuid::now_v7(), monitor: m, opened_ms: 11_500, resolved_ms: None },
            Incident { id: Uuid::now_v7(), monitor: m, opened_ms: 12_500, resolved_ms: None },
            Incident { id: Uuid::now_v7(), monitor: m, opened_ms: 25_900, resolved_ms: Some(27_000) },
            Incident { id: Uuid::now_v7(), monitor: s, opened_ms: 5_000, resolved_ms: Some(6_000) },
        ];
        let events = vec![event(m, "up", "down", 11_500)];
        let deliveries = vec![
            delivery("w1", "e1", "monitor.down", m, 11_500, 11_600.0),
            delivery("w9", "e1", "monitor.down", m, 11_500, 11_700.0),
        ];
        let v = judge(&plan(), &[m], &HashSet::from([s]), &incidents, &events, &deliveries);
        assert_eq!(v.duplicate_incidents, 1);
        assert_eq!((v.false_incidents_blip, v.false_incidents_stable, v.false_incidents_other), (1, 1, 0));
        // First outage: its up lost; second: both lost.
        assert_eq!(v.lost_transitions, 3);
        assert_eq!((v.alerts_delivered, v.alerts_expected, v.events_under_two_ids), (1, 4, 1));
        assert_eq!(v.unexpected_alerts, 0, "the second webhook-id is counted as an event under two ids");
    }
}
