//! Checks, the status machine and the outbox in one transaction.

use crate::helpers::*;
use upcheck_domain::CheckOutcome::{Down, Up};
use upcheck_domain::MonitorStatus;
use upcheck_store::checks::record_checks;
use upcheck_testkit::TestEnv;

const CHECKS: &str = "SELECT count(*) FROM check_results WHERE monitor_id = $1";
const EVENTS: &str = "SELECT count(*) FROM status_events WHERE monitor_id = $1";

#[tokio::test]
async fn a_monitor_goes_down_after_threshold_failures_with_the_event_in_the_outbox() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;

    let first = record_checks(&env.pool, &[check(m, 1_000, Up)]).await.unwrap();
    let one_failure = record_checks(&env.pool, &[check(m, 2_000, Down)]).await.unwrap();
    let two_failures = record_checks(&env.pool, &[check(m, 3_000, Down)]).await.unwrap();

    assert_eq!(first.len(), 1, "pending → up is an event");
    assert!(!first[0].notify, "the first pending → up notifies no one");
    assert!(one_failure.is_empty());
    assert_eq!(two_failures.len(), 1);
    let down = &two_failures[0];
    assert_eq!((down.from, down.to, down.notify), (MonitorStatus::Up, MonitorStatus::Down, true));
    assert_eq!(down.cause.as_deref(), Some("expected 2xx, got 503"));
    assert_eq!(status(&env, m).await, "down");
    assert_eq!(count(&env, CHECKS, m).await, 3);
    assert_eq!(count(&env, EVENTS, m).await, 2);
    let unpublished = upcheck_store::events::unpublished(&env.pool, 0, 10).await.unwrap();
    assert_eq!(unpublished.len(), 2, "written to the outbox, not yet published");
}

#[tokio::test]
async fn a_redelivered_check_changes_nothing() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    record_checks(&env.pool, &[check(m, 1_000, Down)]).await.unwrap();
    let down = record_checks(&env.pool, &[check(m, 2_000, Down)]).await.unwrap();
    assert_eq!(down.len(), 1);

    let again = record_checks(&env.pool, &[check(m, 2_000, Down), check(m, 1_000, Down)]).await.unwrap();

    assert!(again.is_empty());
    assert_eq!(count(&env, CHECKS, m).await, 2);
    assert_eq!(count(&env, EVENTS, m).await, 1);
}

#[tokio::test]
async fn an_older_check_arriving_late_cannot_undo_a_newer_one() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    record_checks(&env.pool, &[check(m, 1_000, Down), check(m, 2_000, Down)]).await.unwrap();
    let up = record_checks(&env.pool, &[check(m, 4_000, Up)]).await.unwrap();
    assert_eq!(up[0].to, MonitorStatus::Up);

    // A replica that probed the check due at 3,000 finishes last, with a failure.
    let late = record_checks(&env.pool, &[check(m, 3_000, Down)]).await.unwrap();

    assert!(late.is_empty());
    assert_eq!(status(&env, m).await, "up");
    assert_eq!(count(&env, CHECKS, m).await, 4, "the late check is still stored");
}

#[tokio::test]
async fn checks_within_one_batch_apply_in_due_order() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;

    let events =
        record_checks(&env.pool, &[check(m, 3_000, Up), check(m, 1_000, Down), check(m, 2_000, Down)])
            .await
            .unwrap();

    let path: Vec<_> = events.iter().map(|e| e.to).collect();
    assert_eq!(path, vec![MonitorStatus::Down, MonitorStatus::Up]);
    assert_eq!(status(&env, m).await, "up");
}

/// A batch holding a check stored before, new checks, a new monitor's first check and a deleted
/// monitor's check, due at `base_ms` on: only the new ones are stored and applied, once.
async fn mixed_redelivery(base_ms: i64) {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (a, b, deleted) =
        (monitor(&env, owner).await, monitor(&env, owner).await, monitor(&env, owner).await);
    env.db().await.execute("DELETE FROM monitors WHERE id = $1", &[&deleted]).await.unwrap();
    assert!(record_checks(&env.pool, &[check(a, base_ms, Down)]).await.unwrap().is_empty());

    let batch = [
        check(a, base_ms, Down),
        check(a, base_ms + 1_000, Down),
        check(b, base_ms, Up),
        check(deleted, base_ms, Up),
    ];
    let events = record_checks(&env.pool, &batch).await.unwrap();

    let mut to: Vec<_> = events.iter().map(|e| (e.monitor_id, e.to)).collect();
    to.sort_by_key(|t| t.0);
    let mut expected = [(a, MonitorStatus::Down), (b, MonitorStatus::Up)];
    expected.sort_by_key(|t| t.0);
    assert_eq!(to, expected, "{events:?}");
    assert_eq!(count(&env, CHECKS, a).await, 2);
    assert_eq!(count(&env, CHECKS, b).await, 1);
    assert_eq!(count(&env, CHECKS, deleted).await, 0);
    let failures: i32 = env
        .db()
        .await
        .query_one("SELECT consecutive_failures FROM monitor_region_state WHERE monitor_id = $1", &[&a])
        .await
        .unwrap()
        .get(0);
    assert_eq!(failures, 2, "the redelivered check counted once");
    // The same batch once more changes nothing.
    assert!(record_checks(&env.pool, &batch).await.unwrap().is_empty());
    assert_eq!(count(&env, CHECKS, a).await, 2);
}

#[tokio::test]
async fn a_batch_mixing_redelivered_and_new_checks_applies_only_the_new_ones_in_the_legacy_partition() {
    mixed_redelivery(1_000).await;
}

#[tokio::test]
async fn a_batch_mixing_redelivered_and_new_checks_applies_only_the_new_ones_in_a_daily_partition() {
    // Past the legacy partition: a day's partition, keyed by due time first.
    mixed_redelivery(upcheck_domain::clock::unix_ms(
        time::OffsetDateTime::now_utc() + time::Duration::days(5),
    ))
    .await;
}

#[tokio::test]
async fn checks_of_a_deleted_monitor_are_dropped_without_failing_the_batch() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (kept, deleted) = (monitor(&env, owner).await, monitor(&env, owner).await);
    env.db().await.execute("DELETE FROM monitors WHERE id = $1", &[&deleted]).await.unwrap();

    record_checks(&env.pool, &[check(kept, 1_000, Up), check(deleted, 1_000, Up)]).await.unwrap();

    assert_eq!(count(&env, CHECKS, kept).await, 1);
    assert_eq!(count(&env, CHECKS, deleted).await, 0);
}

#[tokio::test]
async fn a_paused_monitor_keeps_its_status_whatever_the_checks_say() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    env.db()
        .await
        .execute("UPDATE monitor_state SET status = 'paused' WHERE monitor_id = $1", &[&m])
        .await
        .unwrap();

    let events = record_checks(&env.pool, &[check(m, 1_000, Down), check(m, 2_000, Down)]).await.unwrap();

    assert!(events.is_empty());
    assert_eq!(status(&env, m).await, "paused");
}

#[tokio::test]
async fn published_events_leave_the_relay_queue() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    let events = record_checks(&env.pool, &[check(m, 1_000, Up)]).await.unwrap();

    upcheck_store::events::mark_published(&env.pool, &[(events[0].event_id, "5-0".into())]).await.unwrap();

    assert!(upcheck_store::events::unpublished(&env.pool, 0, 10).await.unwrap().is_empty());
    let waiting = upcheck_store::events::unapplied(&env.pool, 0, 10).await.unwrap();
    assert_eq!(waiting, vec![(events[0].clone(), Some("5-0".to_string()))], "unapplied, with its entry id");
}
