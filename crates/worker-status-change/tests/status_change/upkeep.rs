//! The worker's periodic step against real Postgres and Redis: an outage a maintenance window
//! held opens its incident through the status-change stream once the window ends, and a
//! flapping monitor's `monitor.stable` alert reaches the notification stream, each once.

use redis::AsyncCommands;
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::datetime;
use upcheck_domain::{CheckOutcome, MonitorStatus, StatusEvent, Thresholds};
use upcheck_store::checks::CheckRecord;
use upcheck_store::flapping::FlappingPolicy;
use upcheck_streams::{Handler, Keys, Lock, Producer, StreamMessage};
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::{count, user, webhook_channel};
use upcheck_worker_status_change::StatusChangeHandler;
use upcheck_worker_status_change::upkeep::Upkeep;
use uuid::Uuid;

const T: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn upkeep(env: &TestEnv) -> Upkeep {
    Upkeep {
        pool: env.pool.clone(),
        producer: Producer::new(env.redis.clone(), 1_000),
        lock: Lock::new(env.redis.clone(), Keys::new(&env.settings).status_upkeep_lock()),
        status_stream: env.settings.streams.status_change.clone(),
        notification_stream: env.settings.streams.notification.clone(),
    }
}

fn handler(env: &TestEnv) -> StatusChangeHandler {
    let keys = Keys::new(&env.settings);
    let timers = upcheck_worker_status_change::timers::Timers::new(
        env.pool.clone(),
        upcheck_streams::TimerSet::new(env.redis.clone(), keys.alert_timers()),
        Producer::new(env.redis.clone(), 1_000),
        env.settings.streams.notification.clone(),
        30_000,
    );
    StatusChangeHandler::new(
        env.pool.clone(),
        Producer::new(env.redis.clone(), 1_000),
        env.settings.streams.notification.clone(),
        keys.live_channel(),
        timers,
    )
    .with_flapping(FlappingPolicy { threshold: 5, window_seconds: 600 })
}

async fn handle(env: &TestEnv, event: &StatusEvent) {
    let message = StreamMessage {
        stream: env.settings.streams.status_change.clone(),
        id: "1-0".into(),
        payload: serde_json::to_string(event).unwrap(),
    };
    handler(env).handle(&message).await.unwrap();
}

async fn stream_len(env: &TestEnv, stream: &str) -> usize {
    env.redis.clone().xlen(stream).await.unwrap()
}

async fn monitor(env: &TestEnv) -> (Uuid, Uuid) {
    let owner = user(env).await;
    let spec = upcheck_testkit::fixtures::spec("http://127.0.0.1:1/");
    upcheck_testkit::fixtures::monitor(env, owner, &spec).await;
    webhook_channel(env, owner, spec.monitor_id, "http://127.0.0.1:1/hook").await;
    (owner, spec.monitor_id)
}

fn check(monitor_id: Uuid, at: OffsetDateTime, outcome: CheckOutcome) -> CheckRecord {
    let due_at_ms = upcheck_domain::clock::unix_ms(at);
    CheckRecord {
        monitor_id,
        job_id: format!("{due_at_ms}-0"),
        region: "local".into(),
        due_at_ms,
        checked_at: at,
        outcome,
        latency_ms: Some(3),
        http_status: Some(503),
        error: (outcome == CheckOutcome::Down).then(|| "expected 2xx, got 503".into()),
        thresholds: Thresholds { failure: 1, recovery: 1 },
        trace_parent: None,
        quorum: Default::default(),
        expiring_certificate: None,
        degraded_latency_ms: None,
    }
}

#[tokio::test]
async fn an_outage_still_on_when_its_window_ends_opens_its_incident_through_the_stream_once() {
    let env = TestEnv::new().await;
    let (owner, m) = monitor(&env).await;
    let schedule = upcheck_domain::maintenance::one_off(T, T + time::Duration::hours(1)).unwrap();
    let spec =
        upcheck_store::maintenance::WindowSpec { name: "deploy".into(), schedule, monitor_ids: vec![m] };
    upcheck_store::maintenance::create(&env.pool, owner, &spec).await.unwrap();
    let records = [
        check(m, T + time::Duration::minutes(1), CheckOutcome::Up),
        check(m, T + time::Duration::minutes(2), CheckOutcome::Down),
    ];
    for e in upcheck_store::checks::record_checks(&env.pool, &records).await.unwrap() {
        handle(&env, &e).await;
    }
    let notifications = env.settings.streams.notification.clone();
    assert_eq!(stream_len(&env, &notifications).await, 0, "inside the window: no alert");

    let during = upkeep(&env).once(T + time::Duration::minutes(30), Duration::from_millis(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let end = T + time::Duration::hours(1);
    let (a, b) = (upkeep(&env), upkeep(&env));
    let (ra, rb) = tokio::join!(a.once(end, Duration::from_millis(1)), b.once(end, Duration::from_millis(1)));

    assert_eq!(during.released, 0);
    assert_eq!(ra.unwrap().released + rb.unwrap().released, 1, "two replicas publish it once");
    let entries: redis::streams::StreamRangeReply =
        env.redis.clone().xrange_all(&env.settings.streams.status_change).await.unwrap();
    assert_eq!(entries.ids.len(), 1);
    let payload: String = entries.ids[0].get("m").unwrap();
    let event: StatusEvent = serde_json::from_str(&payload).unwrap();
    assert_eq!((event.from, event.to, event.occurred_at), (MonitorStatus::Down, MonitorStatus::Down, end));
    handle(&env, &event).await;
    assert_eq!(
        count(&env, "SELECT count(*) FROM incidents WHERE monitor_id = $1 AND state = 'open'", m).await,
        1
    );
    assert_eq!(stream_len(&env, &notifications).await, 1, "the down alert, at the window's end");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = upkeep(&env).once(end + time::Duration::minutes(5), Duration::from_millis(1)).await.unwrap();
    assert_eq!(later.released, 0);
}

#[tokio::test]
async fn a_flapping_monitor_alerts_once_then_once_more_when_stable() {
    let env = TestEnv::new().await;
    let (_, m) = monitor(&env).await;
    let mut at = T;
    let mut last = None;
    for i in 0..7 {
        let outcome = if i % 2 == 0 { CheckOutcome::Down } else { CheckOutcome::Up };
        at += time::Duration::seconds(30);
        let events = upcheck_store::checks::record_checks(&env.pool, &[check(m, at, outcome)]).await.unwrap();
        for e in &events {
            handle(&env, e).await;
        }
        last = events.last().cloned().or(last);
    }
    let notifications = env.settings.streams.notification.clone();
    // pending → down, then six changes: alerts for it and the first five, then monitor.flapping.
    assert_eq!(stream_len(&env, &notifications).await, 7);
    let last = last.unwrap().occurred_at;

    let early =
        upkeep(&env).once(last + time::Duration::seconds(599), Duration::from_millis(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let calm =
        upkeep(&env).once(last + time::Duration::seconds(600), Duration::from_millis(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again =
        upkeep(&env).once(last + time::Duration::seconds(900), Duration::from_millis(1)).await.unwrap();

    assert_eq!(
        (early.stable_notifications, calm.stable_notifications, again.stable_notifications),
        (0, 1, 0)
    );
    assert_eq!(stream_len(&env, &notifications).await, 8);
    let types: Vec<String> = env
        .db()
        .await
        .query("SELECT event_type FROM notifications WHERE monitor_id = $1 ORDER BY created_at, id", &[&m])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(types[6..], ["monitor.flapping", "monitor.stable"]);
}
