//! Maintenance windows against real Postgres: suppressed incidents and alerts, the outage that
//! outlives its window, uptime without window time.

use crate::helpers::*;
use time::OffsetDateTime;
use time::macros::datetime;
use upcheck_domain::maintenance::{WindowSchedule, one_off};
use upcheck_domain::{CheckOutcome, StatusEvent};
use upcheck_store::incidents::apply_status_event;
use upcheck_store::maintenance::{WindowSpec, covered_between, create};
use upcheck_store::maintenance_hold::release_ended;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// The window's start: checks are placed around it.
const T: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn ms(t: OffsetDateTime) -> i64 {
    upcheck_domain::clock::unix_ms(t)
}

/// A one-hour window from [`T`] over `monitors`.
async fn window(env: &TestEnv, owner: Uuid, monitors: &[Uuid]) -> WindowSchedule {
    let schedule = one_off(T, T + time::Duration::hours(1)).unwrap();
    let spec =
        WindowSpec { name: "deploy".into(), schedule: schedule.clone(), monitor_ids: monitors.to_vec() };
    create(&env.pool, owner, &spec).await.unwrap();
    schedule
}

/// Stores checks of `m` at `at_ms` (each `outcome`) and applies every transition they cause.
async fn checks(env: &TestEnv, m: Uuid, at_ms: &[(i64, CheckOutcome)]) -> Vec<StatusEvent> {
    let records: Vec<_> = at_ms.iter().map(|(t, o)| check(m, *t, *o)).collect();
    let events = upcheck_store::checks::record_checks(&env.pool, &records).await.unwrap();
    for e in &events {
        apply_status_event(&env.pool, e).await.unwrap();
    }
    events
}

async fn goes_down_at(env: &TestEnv, m: Uuid, at: OffsetDateTime) -> StatusEvent {
    let at = ms(at);
    checks(env, m, &[(at - 60_000, CheckOutcome::Up)]).await;
    let events = checks(env, m, &[(at - 1_000, CheckOutcome::Down), (at, CheckOutcome::Down)]).await;
    assert_eq!(events.len(), 1, "up → down");
    events.into_iter().next().unwrap()
}

async fn notifications(env: &TestEnv, m: Uuid) -> i64 {
    count(env, "SELECT count(*) FROM notifications WHERE monitor_id = $1", m).await
}

async fn incidents(env: &TestEnv, m: Uuid) -> i64 {
    count(env, "SELECT count(*) FROM incidents WHERE monitor_id = $1", m).await
}

#[tokio::test]
async fn a_window_suppresses_the_incident_and_alert_of_its_monitor_but_not_of_another() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (inside, outside) = (monitor(&env, owner).await, monitor(&env, owner).await);
    webhook_channel(&env, owner, inside).await;
    webhook_channel(&env, owner, outside).await;
    window(&env, owner, &[inside]).await;

    let held = goes_down_at(&env, inside, T + time::Duration::minutes(10)).await;
    goes_down_at(&env, outside, T + time::Duration::minutes(10)).await;

    assert_eq!((incidents(&env, inside).await, notifications(&env, inside).await), (0, 0));
    assert_eq!((incidents(&env, outside).await, notifications(&env, outside).await), (1, 1));
    let row = env
        .db()
        .await
        .query_one(
            "SELECT suppressed_by, applied_at IS NOT NULL FROM status_events WHERE id = $1",
            &[&held.event_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("maintenance"));
    assert!(row.get::<_, bool>(1), "the event is applied and stored");
    assert_eq!(status(&env, inside).await, "down", "checks run and count as usual");
}

#[tokio::test]
async fn an_outage_still_on_when_the_window_ends_opens_its_incident_and_alerts_then_once() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    window(&env, owner, &[m]).await;
    goes_down_at(&env, m, T + time::Duration::minutes(10)).await;

    let early = release_ended(&env.pool, T + time::Duration::minutes(59), 100).await.unwrap();
    let end = T + time::Duration::minutes(60);
    let (first, second) =
        tokio::join!(release_ended(&env.pool, end, 100), release_ended(&env.pool, end, 100));
    let released: Vec<StatusEvent> = first.unwrap().into_iter().chain(second.unwrap()).collect();

    assert!(early.is_empty(), "the window is still on");
    assert_eq!(released.len(), 1, "two replicas release the outage once");
    let synthetic = &released[0];
    assert_eq!(synthetic.occurred_at, end);
    let applied = apply_status_event(&env.pool, synthetic).await.unwrap();
    let again = apply_status_event(&env.pool, synthetic).await.unwrap();
    assert_eq!(applied, again, "a redelivery adds nothing");
    assert!(applied[0].incident_id.is_some());
    assert_eq!((incidents(&env, m).await, notifications(&env, m).await), (1, 1));
    let payload = upcheck_store::notifications::load_delivery(
        &env.pool,
        env.keys(),
        applied[0].pending_notifications[0],
    )
    .await
    .unwrap()
    .unwrap()
    .payload;
    assert_eq!(payload["type"], "monitor.down");
    assert!(payload["cause"].as_str().unwrap().contains("maintenance"), "{payload}");
    assert!(release_ended(&env.pool, end + time::Duration::minutes(1), 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_outage_over_before_the_window_ends_opens_nothing_and_alerts_no_one() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    window(&env, owner, &[m]).await;
    goes_down_at(&env, m, T + time::Duration::minutes(10)).await;
    let up = checks(&env, m, &[(ms(T + time::Duration::minutes(20)), CheckOutcome::Up)]).await;

    let released = release_ended(&env.pool, T + time::Duration::hours(2), 100).await.unwrap();

    assert_eq!(up.len(), 1);
    assert!(released.is_empty());
    assert_eq!((incidents(&env, m).await, notifications(&env, m).await), (0, 0));
}

#[tokio::test]
async fn checks_inside_a_window_are_left_out_of_the_stats() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    window(&env, owner, &[m]).await;
    let before = ms(T - time::Duration::minutes(5));
    let inside = ms(T + time::Duration::minutes(5));
    checks(
        &env,
        m,
        &[
            (before, CheckOutcome::Up),
            (before + 1_000, CheckOutcome::Up),
            (inside, CheckOutcome::Down),
            (inside + 1_000, CheckOutcome::Down),
            (inside + 2_000, CheckOutcome::Down),
        ],
    )
    .await;
    let since = T - time::Duration::days(1);

    let held = covered_between(&env.pool, m, since, T + time::Duration::days(1)).await.unwrap();
    let until = T + time::Duration::days(1);
    let s = upcheck_store::rollups::window(&env.pool, m, since, until, &held, since).await.unwrap();
    let all = upcheck_store::rollups::window(&env.pool, m, since, until, &[], since).await.unwrap();

    assert_eq!((s.counted.checks, s.counted.failures, s.held.checks), (2, 0, 3));
    assert_eq!((all.counted.checks, all.counted.failures, all.held.checks), (5, 3, 0));
}
