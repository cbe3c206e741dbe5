//! Flapping against real Postgres: one alert past the threshold, none per change, one when stable.

use crate::helpers::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use upcheck_domain::{MonitorStatus, StatusEvent};
use upcheck_store::flapping::{FlappingPolicy, settle};
use upcheck_store::incidents::{AppliedEvent, apply_status_event_with};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

const T: OffsetDateTime = datetime!(2026-02-01 12:00 UTC);
const POLICY: FlappingPolicy = FlappingPolicy { threshold: 5, window_seconds: 600 };

/// Applies `n` alternating changes of `m` (up → down first), one every 30 s from `start`.
async fn changes(env: &TestEnv, m: Uuid, start: OffsetDateTime, n: usize) -> Vec<AppliedEvent> {
    let mut out = Vec::new();
    for i in 0..n {
        let (from, to) = if i % 2 == 0 {
            (MonitorStatus::Up, MonitorStatus::Down)
        } else {
            (MonitorStatus::Down, MonitorStatus::Up)
        };
        let at = start + Duration::seconds(30 * i as i64);
        let e = outboxed(env, StatusEvent { occurred_at: at, ..event(m, from, to) }).await;
        let applied = apply_status_event_with(&env.pool, &e, &POLICY).await.unwrap();
        out.push(applied.last().unwrap().clone());
    }
    out
}

async fn types(env: &TestEnv, m: Uuid) -> Vec<String> {
    env.db()
        .await
        .query("SELECT event_type FROM notifications WHERE monitor_id = $1 ORDER BY created_at, id", &[&m])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn flapping(env: &TestEnv, m: Uuid) -> bool {
    count(env, "SELECT count(*) FROM monitor_flapping WHERE monitor_id = $1", m).await == 1
}

#[tokio::test]
async fn six_changes_send_one_flapping_alert_and_no_alert_per_change_after_the_threshold() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;

    let applied = changes(&env, m, T, 8).await;

    let t = types(&env, m).await;
    assert_eq!(&t[..5], ["monitor.down", "monitor.up", "monitor.down", "monitor.up", "monitor.down"]);
    assert_eq!(
        &t[5..],
        ["monitor.flapping"],
        "the 6th change alerts as flapping, the 7th and 8th not at all"
    );
    assert!(flapping(&env, m).await);
    let flap = upcheck_store::notifications::load_delivery(
        &env.pool,
        env.keys(),
        applied[5].pending_notifications[0],
    )
    .await
    .unwrap()
    .unwrap()
    .payload;
    assert_eq!(flap["flapping"]["changes"], 6);
    assert_eq!(flap["flapping"]["window_seconds"], 600);
    assert_eq!(flap["status"], "up");
    assert!(applied[6].pending_notifications.is_empty() && applied[7].pending_notifications.is_empty());
    // Incidents still open and resolve: the last change (8th, down → up) resolved one.
    assert_eq!(
        count(&env, "SELECT count(*) FROM incidents WHERE monitor_id = $1 AND state = 'open'", m).await,
        0
    );
    let suppressed = count(
        &env,
        "SELECT count(*) FROM status_events WHERE monitor_id = $1 AND suppressed_by = 'flapping'",
        m,
    )
    .await;
    assert_eq!(suppressed, 3);
}

#[tokio::test]
async fn a_redelivered_crossing_event_finds_its_flapping_alert_and_adds_none() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    let applied = changes(&env, m, T, 6).await;

    let again = apply_status_event_with(&env.pool, &applied[5].event, &POLICY).await.unwrap();

    assert_eq!(again[0].pending_notifications, applied[5].pending_notifications);
    assert_eq!(types(&env, m).await.iter().filter(|t| *t == "monitor.flapping").count(), 1);
}

#[tokio::test]
async fn after_a_window_of_calm_one_stable_alert_carries_the_final_status() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    changes(&env, m, T, 7).await; // the 7th change is up → down, at T + 180 s
    env.db()
        .await
        .execute("INSERT INTO monitor_state (monitor_id, status) VALUES ($1, 'down') ON CONFLICT (monitor_id) DO UPDATE SET status = 'down'", &[&m])
        .await
        .unwrap();
    let last = T + Duration::seconds(180);

    let early = settle(&env.pool, last + Duration::seconds(599), 100).await.unwrap();
    let (a, b) = tokio::join!(
        settle(&env.pool, last + Duration::seconds(600), 100),
        settle(&env.pool, last + Duration::seconds(600), 100)
    );
    let stable: Vec<Uuid> = a.unwrap().into_iter().chain(b.unwrap()).collect();

    assert!(early.is_empty(), "not calm for a whole window yet");
    assert_eq!(stable.len(), 1, "one stable alert, whichever replica settles it");
    let payload = upcheck_store::notifications::load_delivery(&env.pool, env.keys(), stable[0])
        .await
        .unwrap()
        .unwrap()
        .payload;
    assert_eq!(payload["type"], "monitor.stable");
    assert_eq!(payload["status"], "down");
    assert_eq!(payload["flapping"]["changes"], 7);
    assert!(payload["incident"]["id"].is_string(), "the open incident of the final down");
    assert!(!flapping(&env, m).await, "the flag clears");
    assert!(settle(&env.pool, last + Duration::hours(1), 100).await.unwrap().is_empty());
    // Calm again: the next change alerts as usual.
    let next = changes(&env, m, last + Duration::hours(1), 1).await;
    assert_eq!(next[0].pending_notifications.len(), 1);
}

#[tokio::test]
async fn four_changes_are_not_flapping() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;

    changes(&env, m, T, 4).await;

    assert_eq!(types(&env, m).await.len(), 4, "one alert per change");
    assert!(!flapping(&env, m).await);
    assert!(settle(&env.pool, T + Duration::hours(1), 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn changes_spread_wider_than_the_window_are_not_flapping() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;

    // Eight changes three minutes apart: at most four in any ten minutes.
    for i in 0..8 {
        changes(&env, m, T + Duration::minutes(3 * i), 1).await;
    }

    assert!(!flapping(&env, m).await);
}

#[tokio::test]
async fn a_change_after_a_window_of_calm_ends_the_episode_before_the_step_does_and_alerts_as_usual() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    webhook_channel(&env, owner, m).await;
    changes(&env, m, T, 6).await; // the 6th (down → up) at T + 150 s
    let calm = T + Duration::seconds(150 + 601);

    let next = changes(&env, m, calm, 1).await; // up → down, before any settle step ran

    let mut t = types(&env, m).await.split_off(5);
    t.sort(); // the stable and down alerts are created in one transaction, at one instant
    assert_eq!(t, ["monitor.down", "monitor.flapping", "monitor.stable"]);
    assert_eq!(
        next[0].pending_notifications.len(),
        2,
        "the stable alert and the down alert, both to enqueue"
    );
    assert!(!flapping(&env, m).await);
    assert!(settle(&env.pool, calm + Duration::hours(1), 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn flapping_alerts_reach_only_first_tier_links_that_hear_downs_or_ups() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let hears = webhook_channel(&env, owner, m).await;
    let certificates_only = webhook_channel(&env, owner, m).await;
    let escalation = webhook_channel(&env, owner, m).await;
    let db = env.db().await;
    db.execute(
        "UPDATE monitor_channels SET events = '{certificate.expiring}' WHERE channel_id = $1",
        &[&certificates_only],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE monitor_channels SET escalate_after_minutes = 30 WHERE channel_id = $1",
        &[&escalation],
    )
    .await
    .unwrap();

    changes(&env, m, T, 6).await;
    settle(&env.pool, T + Duration::hours(1), 100).await.unwrap();

    let told = |channel: Uuid| {
        let db = &db;
        async move {
            db.query(
                "SELECT event_type FROM notifications WHERE channel_id = $1 AND event_type LIKE 'monitor.%' \
                   AND event_type IN ('monitor.flapping', 'monitor.stable') ORDER BY created_at",
                &[&channel],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(told(hears).await, ["monitor.flapping", "monitor.stable"]);
    assert!(told(certificates_only).await.is_empty(), "a link that lists neither down nor up");
    assert!(told(escalation).await.is_empty(), "an escalation target hears only escalations");
}
