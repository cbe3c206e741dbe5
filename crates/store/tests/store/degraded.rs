//! `monitor.degraded`: slowness confirmed like a status, one notice when it starts and one when
//! it ends, only to links that list it, none inside a maintenance window.

use crate::helpers::*;
use time::OffsetDateTime;
use time::macros::datetime;
use upcheck_domain::CheckOutcome::{self, Degraded, Down, Up};
use upcheck_domain::maintenance::one_off;
use upcheck_store::checks::{CheckRecord, record_checks};
use upcheck_store::incidents::apply_status_event;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

const T: OffsetDateTime = datetime!(2026-03-01 00:00 UTC);

/// A check of `m` at `T + s` seconds; slow ones take 900 ms against a 500 ms mark.
fn at(m: Uuid, s: i64, outcome: CheckOutcome) -> CheckRecord {
    let due = upcheck_domain::clock::unix_ms(T) + s * 1_000;
    let latency = if outcome == Degraded { 900 } else { 40 };
    CheckRecord {
        latency_ms: Some(latency),
        http_status: Some(if outcome == Down { 503 } else { 200 }),
        degraded_latency_ms: Some(500),
        ..check(m, due, outcome)
    }
}

/// Stores `checks` one batch each and applies every event; returns the events' types.
async fn run(env: &TestEnv, checks: &[CheckRecord]) -> Vec<String> {
    let mut types = Vec::new();
    for c in checks {
        for e in record_checks(&env.pool, std::slice::from_ref(c)).await.unwrap() {
            apply_status_event(&env.pool, &e).await.unwrap();
            types.push(e.webhook_type().to_string());
        }
    }
    types
}

/// A webhook channel linked to `m` listening to `events`.
async fn link(env: &TestEnv, owner: Uuid, m: Uuid, events: &[&str]) -> Uuid {
    let channel = webhook_channel(env, owner, m).await;
    let events: Vec<String> = events.iter().map(|e| (*e).to_string()).collect();
    env.db()
        .await
        .execute(
            "UPDATE monitor_channels SET events = $3 WHERE monitor_id = $1 AND channel_id = $2",
            &[&m, &channel, &events],
        )
        .await
        .unwrap();
    channel
}

/// The payloads sent to `channel`, oldest first.
async fn told(env: &TestEnv, channel: Uuid) -> Vec<serde_json::Value> {
    env.db()
        .await
        .query("SELECT payload FROM notifications WHERE channel_id = $1 ORDER BY created_at, id", &[&channel])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn slowness_is_confirmed_notified_once_and_its_end_too_only_to_links_that_list_it() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let listens = link(&env, owner, m, &["monitor.down", "monitor.up", "monitor.degraded"]).await;
    let deaf = link(&env, owner, m, &["monitor.down", "monitor.up"]).await;

    // Failure threshold 2, recovery 1: one slow check is noise, two in a row are degraded.
    let types = run(
        &env,
        &[
            at(m, 0, Up),
            at(m, 1, Degraded),
            at(m, 2, Up),
            at(m, 3, Degraded),
            at(m, 4, Degraded),
            at(m, 5, Degraded),
            at(m, 6, Up),
        ],
    )
    .await;

    assert_eq!(types, ["monitor.up", "monitor.degraded", "monitor.degraded.resolved"]);
    let sent = told(&env, listens).await;
    let kinds: Vec<&str> = sent.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["monitor.degraded", "monitor.degraded.resolved"],
        "the first pending → up tells no one"
    );
    assert_eq!(sent[0]["degraded"]["latency_ms"], 900);
    assert_eq!(sent[0]["degraded"]["threshold_ms"], 500);
    assert_eq!(sent[0]["degraded"]["regions"], serde_json::json!(["local"]));
    assert_eq!(sent[0]["cause"], "responses take 900 ms (degraded from 500 ms)");
    assert_eq!((sent[0]["previous_status"].as_str(), sent[0]["status"].as_str()), (Some("up"), Some("up")));
    assert_eq!(sent[1]["degraded"]["degraded"], false);
    assert!(told(&env, deaf).await.is_empty(), "a link without monitor.degraded hears neither");
    assert_eq!(
        count(&env, "SELECT count(*) FROM incidents WHERE monitor_id = $1", m).await,
        0,
        "slowness opens no incident"
    );
    assert_eq!(status(&env, m).await, "up");
}

#[tokio::test]
async fn going_down_ends_slowness_without_a_notice_and_recovering_slow_says_so_again() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    link(&env, owner, m, &["monitor.down", "monitor.up", "monitor.degraded"]).await;

    let types = run(
        &env,
        &[
            at(m, 0, Degraded),
            at(m, 1, Degraded),
            at(m, 2, Down),
            at(m, 3, Down),
            at(m, 4, Degraded),
            at(m, 5, Degraded),
            at(m, 6, Degraded),
        ],
    )
    .await;

    assert_eq!(
        types,
        ["monitor.up", "monitor.degraded", "monitor.down", "monitor.up", "monitor.degraded"],
        "the down says more than a resolved slowness would; back up, slowness is confirmed anew"
    );
    // A redelivered batch changes nothing.
    assert!(record_checks(&env.pool, &[at(m, 6, Degraded)]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_maintenance_window_holds_slowness_notices_back() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let channel = link(&env, owner, m, &["monitor.degraded"]).await;
    let spec = upcheck_store::maintenance::WindowSpec {
        name: "deploy".into(),
        schedule: one_off(T, T + time::Duration::hours(1)).unwrap(),
        monitor_ids: vec![m],
    };
    upcheck_store::maintenance::create(&env.pool, owner, &spec).await.unwrap();

    let types = run(&env, &[at(m, 0, Up), at(m, 1, Degraded), at(m, 2, Degraded), at(m, 3, Up)]).await;

    assert_eq!(types, ["monitor.up", "monitor.degraded", "monitor.degraded.resolved"], "still recorded");
    assert!(told(&env, channel).await.is_empty(), "but nobody is told inside the window");
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM status_events WHERE monitor_id = $1 AND suppressed_by = 'maintenance'",
            m
        )
        .await,
        2
    );
}
