//! A monitor's status events are applied in the order its status machine produced them,
//! whatever order their stream entries arrive in (DESIGN.md, "In order per monitor").

use crate::helpers::*;
use std::collections::{BTreeSet, HashMap};
use upcheck_domain::{CheckOutcome, MonitorStatus, StatusEvent};
use upcheck_store::checks::record_checks;
use upcheck_store::incidents::apply_status_event;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// The transitions one check produced (stored with the check, as the monitoring worker does).
async fn checked(env: &TestEnv, m: Uuid, due_ms: i64, outcome: CheckOutcome) -> Vec<StatusEvent> {
    record_checks(&env.pool, &[check(m, due_ms, outcome)]).await.unwrap()
}

/// (type, incident id) of every notification of `event`.
async fn notified(env: &TestEnv, event: Uuid) -> Vec<(String, Option<String>)> {
    env.db()
        .await
        .query(
            "SELECT payload->>'type', payload->'incident'->>'id' FROM notifications WHERE event_id = $1",
            &[&event],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The four steps of the chaos run that lost an outage: a `down → up` whose publication is
/// delayed past the next `up → down` must not resolve the newer incident, and the real recovery
/// must resolve it.
#[tokio::test]
async fn a_late_recovery_event_never_resolves_a_newer_incident() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    checked(&env, m, 1_000, CheckOutcome::Up).await;
    checked(&env, m, 2_000, CheckOutcome::Down).await;
    let first_down = checked(&env, m, 3_000, CheckOutcome::Down).await.remove(0);
    // Applying it applies the silent `pending → up` before it too.
    let opened = apply_status_event(&env.pool, &first_down).await.unwrap();
    assert_eq!(opened.len(), 2);
    let first_incident = opened[1].incident_id.expect("the first outage opens an incident");

    // 1. The recovery is committed, but its publication fails (Redis is down): not applied.
    let late_up = checked(&env, m, 4_000, CheckOutcome::Up).await.remove(0);
    assert_eq!((late_up.from, late_up.to), (MonitorStatus::Down, MonitorStatus::Up));
    // 2. The monitor goes down again; this event is published at once and applied first.
    checked(&env, m, 5_000, CheckOutcome::Down).await;
    let second_down = checked(&env, m, 6_000, CheckOutcome::Down).await.remove(0);
    let applied = apply_status_event(&env.pool, &second_down).await.unwrap();

    // The delayed recovery is applied before it, from the outbox: the first incident is
    // resolved, and the second outage opens an incident of its own.
    let order: Vec<Uuid> = applied.iter().map(|a| a.event.event_id).collect();
    assert_eq!(order, vec![late_up.event_id, second_down.event_id]);
    assert_eq!(applied[0].incident_id, Some(first_incident));
    let second_incident = applied[1].incident_id.expect("the second outage opens an incident");
    assert_ne!(second_incident, first_incident);

    // 3. The late recovery finally arrives: nothing changes, nothing is sent again.
    let late = apply_status_event(&env.pool, &late_up).await.unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].incident_id, Some(first_incident));
    let open: String = env
        .db()
        .await
        .query_one("SELECT state FROM incidents WHERE id = $1", &[&second_incident])
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, "open", "the late recovery left the newer incident open");

    // 4. The real recovery resolves the second incident.
    let real_up = checked(&env, m, 7_000, CheckOutcome::Up).await.remove(0);
    let resolved = apply_status_event(&env.pool, &real_up).await.unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].incident_id, Some(second_incident));

    // Every webhook told the truth: one per event, each naming its own incident.
    let (a, b) = (first_incident.to_string(), second_incident.to_string());
    assert_eq!(notified(&env, first_down.event_id).await, vec![("monitor.down".into(), Some(a.clone()))]);
    assert_eq!(notified(&env, late_up.event_id).await, vec![("monitor.up".into(), Some(a))]);
    assert_eq!(notified(&env, second_down.event_id).await, vec![("monitor.down".into(), Some(b.clone()))]);
    assert_eq!(notified(&env, real_up.event_id).await, vec![("monitor.up".into(), Some(b))]);
    let rows = env
        .db()
        .await
        .query(
            "SELECT opened_event_id, resolved_event_id, state FROM incidents WHERE monitor_id = $1 ORDER BY opened_at",
            &[&m],
        )
        .await
        .unwrap();
    let incidents: Vec<(Uuid, Option<Uuid>, String)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(
        incidents,
        vec![
            (first_down.event_id, Some(late_up.event_id), "resolved".to_string()),
            (second_down.event_id, Some(real_up.event_id), "resolved".to_string()),
        ]
    );
}

/// Outages of one monitor as the outbox holds them: `down`, `up`, `down`, `up`, …
async fn outages(env: &TestEnv, m: Uuid, count: usize) -> Vec<StatusEvent> {
    let mut events = Vec::new();
    // An hour apart, so that no run of them counts as flapping.
    let at = |n: usize| time::OffsetDateTime::now_utc() - time::Duration::hours(24 - n as i64);
    for i in 0..count {
        let from = if i == 0 { MonitorStatus::Pending } else { MonitorStatus::Up };
        events.push(StatusEvent { occurred_at: at(2 * i), ..event(m, from, MonitorStatus::Down) });
        events.push(StatusEvent {
            occurred_at: at(2 * i + 1),
            ..event(m, MonitorStatus::Down, MonitorStatus::Up)
        });
    }
    upcheck_store::events::append(&env.pool, &mut events).await.unwrap();
    events
}

/// Delivers `events` in the order `deliveries` gives (indices; repeats are redeliveries) and
/// checks what a user relies on: events applied in production order, one incident per outage
/// opened and resolved by its own events, one notification per event naming its own incident.
async fn deliver_in_any_order(env: &TestEnv, owner: Uuid, outage_count: usize, deliveries: &[usize]) {
    let m = monitor(env, owner).await;
    webhook_channel(env, owner, m).await;
    let events = outages(env, m, outage_count).await;
    let mut applied_order = Vec::new();
    let mut seen = BTreeSet::new();
    let mut delivered = BTreeSet::new();
    for &i in deliveries {
        let e = &events[i % events.len()];
        delivered.insert(e.event_id);
        for a in apply_status_event(&env.pool, e).await.unwrap() {
            if seen.insert(a.event.event_id) {
                applied_order.push(a.event.seq.unwrap());
            }
        }
    }
    // The relay delivers whatever never arrived.
    for e in events.iter().filter(|e| !delivered.contains(&e.event_id)) {
        for a in apply_status_event(&env.pool, e).await.unwrap() {
            if seen.insert(a.event.event_id) {
                applied_order.push(a.event.seq.unwrap());
            }
        }
    }
    let produced: Vec<i64> = events.iter().map(|e| e.seq.unwrap()).collect();
    assert_eq!(applied_order, produced, "applied in the order produced");

    let rows = env
        .db()
        .await
        .query(
            "SELECT id, opened_event_id, resolved_event_id, state FROM incidents WHERE monitor_id = $1",
            &[&m],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), outage_count, "one incident per outage");
    let by_opener: HashMap<Uuid, (Uuid, Option<Uuid>, String)> =
        rows.iter().map(|r| (r.get(1), (r.get(0), r.get(2), r.get(3)))).collect();
    for pair in events.chunks(2) {
        let (incident, resolved_by, state) = by_opener.get(&pair[0].event_id).expect("opened by its down");
        assert_eq!((*resolved_by, state.as_str()), (Some(pair[1].event_id), "resolved"));
        let incident = incident.to_string();
        assert_eq!(
            notified(env, pair[0].event_id).await,
            vec![("monitor.down".into(), Some(incident.clone()))]
        );
        assert_eq!(notified(env, pair[1].event_id).await, vec![("monitor.up".into(), Some(incident))]);
    }
}

#[test]
fn any_interleaving_of_publish_delays_and_redeliveries_applies_events_in_production_order() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (env, owner) = rt.block_on(async {
        let env = TestEnv::new().await;
        let owner = user(&env).await;
        (env, owner)
    });
    let cases = (1usize..=4)
        .prop_flat_map(|outages| (Just(outages), prop::collection::vec(0..outages * 2, 0..outages * 4)));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&cases, |(outages, deliveries)| {
            rt.block_on(deliver_in_any_order(&env, owner, outages, &deliveries));
            Ok(())
        })
        .unwrap();
    drop(env);
}
