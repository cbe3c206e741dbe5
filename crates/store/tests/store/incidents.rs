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
    let delivery = load_delivery(&env.pool, env.keys(), expected[0]).await.unwrap().unwrap();
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
    let payload = load_delivery(&env.pool, env.keys(), resolved.pending_notifications[0])
        .await
        .unwrap()
        .unwrap()
        .payload;
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
        retry_at: None,
    };

    record_attempt(&env.pool, id, &attempt(1), DeliveryState::Delivered).await.unwrap();
    // A late, stale attempt record must not reopen it.
    record_attempt(&env.pool, id, &attempt(1), DeliveryState::Pending).await.unwrap();

    let d = load_delivery(&env.pool, env.keys(), id).await.unwrap().unwrap();
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
    upcheck_store::events::mark_published(&env.pool, &[(id, "7-0".into())]).await.unwrap();
    // Published an hour ago, and the stream entry was lost with Redis's data.
    env.db()
        .await
        .execute("UPDATE status_events SET published_at = now() - interval '1 hour'", &[])
        .await
        .unwrap();

    let due = upcheck_store::events::unapplied(&env.pool, 600_000, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|(e, entry)| (e.event_id, entry.clone())).collect::<Vec<_>>(),
        vec![(id, Some("7-0".into()))]
    );
    assert!(upcheck_store::events::unapplied(&env.pool, 7_200_000, 10).await.unwrap().is_empty(), "not yet");

    apply(&env, &events[0]).await;
    assert!(upcheck_store::events::unapplied(&env.pool, 600_000, 10).await.unwrap().is_empty());
}

/// Moves every time of notification `id` (creation, re-enqueue, retry due, attempts) an hour back.
async fn age(env: &TestEnv, id: Uuid) {
    let db = env.db().await;
    db.execute(
        "UPDATE notifications SET created_at = created_at - interval '1 hour', \
           enqueued_at = enqueued_at - interval '1 hour', next_attempt_at = next_attempt_at - interval '1 hour' \
         WHERE id = $1",
        &[&id],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE notification_attempts SET attempted_at = attempted_at - interval '1 hour' WHERE notification_id = $1",
        &[&id],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_pending_notification_with_no_sign_of_life_is_orphaned_and_a_live_one_is_not() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let old = apply(&env, &outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await).await;
    let recent = apply(&env, &outboxed(&env, event(m, MonitorStatus::Down, MonitorStatus::Up)).await).await;
    let (old_id, recent_id) = (old.pending_notifications[0], recent.pending_notifications[0]);
    let orphaned = || async { upcheck_store::notifications::orphaned(&env.pool, 600_000, 10).await.unwrap() };
    age(&env, old_id).await;

    assert_eq!(orphaned().await, vec![old_id], "created an hour ago and never attempted");
    assert!(orphaned().await.is_empty(), "enqueued again just now");

    // Attempted, with a retry due in an hour: waiting for it, alive.
    age(&env, old_id).await;
    let attempt = Attempt {
        attempt: 1,
        attempted_at: OffsetDateTime::now_utc(),
        http_status: Some(500),
        latency_ms: Some(1),
        error: Some("x".into()),
        retry_at: Some(OffsetDateTime::now_utc() + time::Duration::hours(1)),
    };
    record_attempt(&env.pool, old_id, &attempt, DeliveryState::Pending).await.unwrap();
    age(&env, old_id).await;
    assert!(orphaned().await.is_empty(), "its retry is due in the future");
    // The retry was due an hour ago and nothing happened: its job was lost.
    age(&env, old_id).await;
    assert_eq!(orphaned().await, vec![old_id]);

    // A leased notification is being delivered, however old.
    age(&env, recent_id).await;
    let claim = upcheck_store::notifications::claim_delivery(&env.pool, env.keys(), recent_id, "9-0", 60_000)
        .await
        .unwrap();
    assert!(matches!(claim, upcheck_store::notifications::Claim::Claimed(_)));
    assert!(orphaned().await.is_empty(), "leased");
}

#[tokio::test]
async fn one_job_holds_a_notification_at_a_time_and_its_own_retry_may_take_it_again() {
    use upcheck_store::notifications::{Claim, claim_delivery};
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let id = apply(&env, &outboxed(&env, event(m, MonitorStatus::Up, MonitorStatus::Down)).await)
        .await
        .pending_notifications[0];

    assert!(matches!(
        claim_delivery(&env.pool, env.keys(), id, "1-0", 60_000).await.unwrap(),
        Claim::Claimed(_)
    ));
    assert_eq!(
        claim_delivery(&env.pool, env.keys(), id, "2-0", 60_000).await.unwrap(),
        Claim::Busy,
        "a duplicate job"
    );
    assert!(matches!(
        claim_delivery(&env.pool, env.keys(), id, "1-0", 60_000).await.unwrap(),
        Claim::Claimed(_)
    ));
    let delivered = Attempt {
        attempt: 1,
        attempted_at: OffsetDateTime::now_utc(),
        http_status: Some(200),
        latency_ms: Some(1),
        error: None,
        retry_at: None,
    };
    record_attempt(&env.pool, id, &delivered, DeliveryState::Delivered).await.unwrap();
    assert_eq!(claim_delivery(&env.pool, env.keys(), id, "2-0", 60_000).await.unwrap(), Claim::Finished);
    assert_eq!(
        claim_delivery(&env.pool, env.keys(), Uuid::now_v7(), "2-0", 60_000).await.unwrap(),
        Claim::Missing
    );
}

/// The plan of the applier's lookup of a monitor's earlier unapplied events, with every index
/// of `status_events` dropped but the primary key and the relay's `status_events_unapplied`, and
/// sequential scans priced out: the one plan that would read every waiting event is the relay
/// index's.
async fn lookup_plan(db: &tokio_postgres::Client) -> String {
    let sql = upcheck_store::incidents::earlier_unapplied_query();
    let rows = db
        .query(
            &format!(
                "EXPLAIN {}",
                sql.replace("$1", "'00000000-0000-0000-0000-000000000001'")
                    .replace("$2", "'00000000-0000-0000-0000-000000000002'")
            ),
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn the_relay_index_cannot_serve_the_lookup_of_a_monitors_unapplied_events() {
    // A burst of first events (100,000 new monitors) once made the status-change worker read
    // every waiting event per event applied: with no statistics yet the planner may pick a scan
    // of the relay's partial index for this lookup, and keeps that plan cached.
    let env = TestEnv::new().await;
    let db = env.db().await;
    db.batch_execute(
        "DROP INDEX status_events_monitor, status_events_monitor_seq, status_events_unapplied_by_monitor, \
                    status_events_unpublished, status_events_seq_key; \
         SET enable_seqscan = off;",
    )
    .await
    .unwrap();
    let plan = lookup_plan(&db).await;
    assert!(!plan.contains("status_events_unapplied"), "the relay index served the lookup:\n{plan}");
    // The same with the relay index as it was before V29: that plan is chosen, so the assertion
    // above is not vacuous.
    db.batch_execute(
        "DROP INDEX status_events_unapplied; \
         CREATE INDEX status_events_unapplied ON status_events (published_at) WHERE applied_at IS NULL;",
    )
    .await
    .unwrap();
    let plan = lookup_plan(&db).await;
    assert!(plan.contains("status_events_unapplied"), "expected the old relay index in:\n{plan}");
}
