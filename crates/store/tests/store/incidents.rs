//! Incidents and notification fan-out from status events.

use crate::helpers::*;
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, StatusEvent, notification_id};
use upcheck_store::incidents::{AppliedEvent, apply_status_event};
use upcheck_store::notifications::{Attempt, DeliveryState, load_delivery, record_attempt};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// Applies `event` and returns what it did for that event itself (the last one applied).
async fn apply(env: &TestEnv, event: &StatusEvent) -> AppliedEvent {
    let applied = apply_status_event(&env.pool, event).await.unwrap();
    let last = applied.last().expect("the event was applied").clone();
    assert_eq!(last.event.event_id, event.event_id);
    last
}

#[tokio::test]
async fn down_opens_an_incident_with_its_cause_and_one_notification_per_channel() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let (a, b) = (webhook_channel(&env, owner, m).await, webhook_channel(&env, owner, m).await);
    let down = outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await;

    let effects = apply(&env, &down).await;

    let incident = effects.incident_id.expect("an incident");
    let row = env
        .db()
        .await
        .query_one("SELECT state, cause, opened_event_id FROM incidents WHERE id = $1", &[&incident])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "open");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("connection refused"));
    assert_eq!(row.get::<_, Uuid>(2), down.event_id);
    let mut expected = vec![notification_id(down.event_id, a), notification_id(down.event_id, b)];
    expected.sort();
    assert_eq!(effects.pending_notifications, expected);
    let delivery = load_delivery(&env.pool, expected[0]).await.unwrap().unwrap();
    assert_eq!(delivery.payload["type"], "monitor.down");
    assert_eq!(delivery.payload["event_id"], down.event_id.to_string());
    assert_eq!(delivery.payload["incident"]["id"], incident.to_string());
}

#[tokio::test]
async fn a_redelivered_event_creates_no_second_incident_or_notification() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let down = outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await;
    let first = apply(&env, &down).await;

    let second = apply(&env, &down).await;

    assert_eq!(first, second, "same incident, same pending notifications");
    assert_eq!(count(&env, "SELECT count(*) FROM incidents WHERE monitor_id = $1", m).await, 1);
    assert_eq!(count(&env, "SELECT count(*) FROM notifications WHERE monitor_id = $1", m).await, 1);
}

#[tokio::test]
async fn up_resolves_the_open_incident_and_redelivery_finds_it_again() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let opened = apply(&env, &outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await).await;
    let up = outboxed(&env, event(m, MonitorStatus::Down, MonitorStatus::Up)).await;

    let resolved = apply(&env, &up).await;
    let again = apply(&env, &up).await;

    assert_eq!(resolved.incident_id, opened.incident_id);
    assert_eq!(again, resolved);
    let state: String = env
        .db()
        .await
        .query_one("SELECT state FROM incidents WHERE id = $1", &[&opened.incident_id.unwrap()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "resolved");
    let payload = load_delivery(&env.pool, resolved.pending_notifications[0]).await.unwrap().unwrap().payload;
    assert_eq!(payload["type"], "monitor.up");
    assert!(payload["incident"]["resolved_at"].is_string());
}

#[tokio::test]
async fn a_silent_event_creates_no_notification() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let first_up =
        outboxed(&env, StatusEvent { notify: false, ..event(m, MonitorStatus::Pending, MonitorStatus::Up) })
            .await;

    let effects = apply(&env, &first_up).await;

    assert_eq!((effects.incident_id, effects.pending_notifications), (None, vec![]));
    assert_eq!(count(&env, "SELECT count(*) FROM notifications WHERE monitor_id = $1", m).await, 0);
}

#[tokio::test]
async fn delivered_notifications_are_no_longer_pending() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let down = outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await;
    let effects = apply(&env, &down).await;
    let id = effects.pending_notifications[0];
    let attempt = |n| Attempt {
        attempt: n,
        attempted_at: OffsetDateTime::now_utc(),
        http_status: Some(200),
        latency_ms: Some(4),
        error: None,
    };

    record_attempt(&env.pool, id, &attempt(1), DeliveryState::Delivered).await.unwrap();
    // A late, stale attempt record must not reopen it.
    record_attempt(&env.pool, id, &attempt(1), DeliveryState::Pending).await.unwrap();

    let d = load_delivery(&env.pool, id).await.unwrap().unwrap();
    assert_eq!((d.state, d.attempts), (DeliveryState::Delivered, 1));
    assert!(apply(&env, &down).await.pending_notifications.is_empty());
}

#[tokio::test]
async fn an_event_published_but_never_applied_is_relayed_until_it_is_applied() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    let events = upcheck_store::checks::record_checks(
        &env.pool,
        &[crate::helpers::check(m, 1_000, upcheck_domain::CheckOutcome::Up)],
    )
    .await
    .unwrap();
    let id = events[0].event_id;
    upcheck_store::events::mark_published(&env.pool, &[id]).await.unwrap();
    // Published an hour ago, and the stream entry was lost with Redis's data.
    env.db()
        .await
        .execute("UPDATE status_events SET published_at = now() - interval '1 hour'", &[])
        .await
        .unwrap();

    let due = upcheck_store::events::to_relay(&env.pool, 60_000, 600_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|e| e.event_id).collect::<Vec<_>>(), vec![id]);

    apply(&env, &events[0]).await;
    assert!(upcheck_store::events::to_relay(&env.pool, 60_000, 600_000, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_pending_notification_idle_past_every_retry_is_orphaned_and_an_active_one_is_not() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let old = apply(&env, &outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await).await;
    let recent = apply(&env, &outboxed(&env, event(m, MonitorStatus::Down, MonitorStatus::Up)).await).await;
    let old_id = old.pending_notifications[0];
    env.db()
        .await
        .execute("UPDATE notifications SET created_at = now() - interval '1 hour' WHERE id = $1", &[&old_id])
        .await
        .unwrap();

    let orphaned = upcheck_store::notifications::orphaned(&env.pool, 600_000, 10).await.unwrap();

    assert_eq!(orphaned, vec![old_id]);
    assert!(!orphaned.contains(&recent.pending_notifications[0]));
    let attempt = Attempt {
        attempt: 1,
        attempted_at: OffsetDateTime::now_utc(),
        http_status: Some(500),
        latency_ms: Some(1),
        error: Some("x".into()),
    };
    record_attempt(&env.pool, old_id, &attempt, DeliveryState::Pending).await.unwrap();
    assert!(
        upcheck_store::notifications::orphaned(&env.pool, 600_000, 10).await.unwrap().is_empty(),
        "a recent attempt means it is alive"
    );
}
