//! Heartbeat monitors end to end: silence, a late ping, a start without a finish and a fail
//! ping each reach the webhook; unknown tokens are 404 and a flood is rate limited.

use crate::helpers::{Stack, WAIT};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use upcheck_testkit::{WebhookReceiver, wait_for};

async fn ping(stack: &Stack, url: &str) -> reqwest::Response {
    stack.http.post(format!("{}{url}", stack.api)).send().await.unwrap()
}

async fn nth_hook(receiver: &WebhookReceiver, n: usize) -> Value {
    wait_for(&format!("webhook {n}"), WAIT, || async { receiver.received().get(n).map(|h| h.json()) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_late_pings_unfinished_runs_and_fail_pings_reach_the_webhook() {
    let stack = Stack::start().await;
    let receiver = WebhookReceiver::start().await;
    let channel = stack
        .post("/channels", json!({"kind": "webhook", "name": "ops", "config": {"url": receiver.url}}))
        .await;
    let m = stack
        .post(
            "/monitors",
            json!({"name": "nightly", "kind": "heartbeat", "config": {"period_seconds": 2, "grace_seconds": 1},
                   "channel_ids": [channel["id"]]}),
        )
        .await;
    let id = m["id"].as_str().unwrap().to_string();
    let url = m["heartbeat_url"].as_str().expect("a heartbeat url").to_string();
    assert_eq!((m["interval_seconds"].as_u64(), m["failure_threshold"].as_u64()), (Some(2), Some(1)));
    let status =
        || async { stack.get(&format!("/monitors/{id}")).await["status"].as_str().unwrap().to_string() };

    // A ping: up (the first pending → up tells no one). The silence after it starts before
    // the ping is sent, so that seeing "up" late cannot shorten it.
    let silent_since = Instant::now();
    assert_eq!(ping(&stack, &url).await.status(), 200);
    wait_for("up after a ping", WAIT, || async { (status().await == "up").then_some(()) }).await;

    // Silence: down once period + grace (3 s) pass without a ping.
    let down = nth_hook(&receiver, 0).await;
    let after = silent_since.elapsed();
    assert_eq!(down["type"], "monitor.down");
    assert!(down["cause"].as_str().unwrap().starts_with("no ping within 2 s + 1 s grace"), "{down}");
    assert!(after >= Duration::from_millis(2_500), "not before the deadline: {after:?}");

    // A late ping: up again.
    ping(&stack, &url).await;
    assert_eq!(nth_hook(&receiver, 1).await["type"], "monitor.up");

    // A run that starts and does not finish within the grace: down.
    let started = Instant::now();
    assert_eq!(ping(&stack, &format!("{url}/start")).await.status(), 200);
    let unfinished = nth_hook(&receiver, 2).await;
    assert_eq!(unfinished["type"], "monitor.down");
    assert!(
        started.elapsed() < Duration::from_millis(2_900),
        "the grace (1 s), not the window (3 s), bounds a run"
    );

    // Up again, then a fail ping: down at once.
    ping(&stack, &url).await;
    assert_eq!(nth_hook(&receiver, 3).await["type"], "monitor.up");
    let failed_at = Instant::now();
    ping(&stack, &format!("{url}/fail")).await;
    let failed = nth_hook(&receiver, 4).await;
    assert_eq!(failed["cause"], "the job reported a failure (/fail ping)");
    assert!(failed_at.elapsed() < Duration::from_secs(2));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tokens_are_404_paused_ones_record_nothing_and_floods_are_rate_limited() {
    // 20 pings a minute per token, in a burst of 20: the 21st at once is refused.
    let env = upcheck_testkit::TestEnv::with_env(&[("RATE_LIMIT_HEARTBEAT_PER_MINUTE", "20")]).await;
    let stack = Stack::start_in(env).await;
    let m = stack
        .post("/monitors", json!({"name": "cron", "kind": "heartbeat", "config": {"period_seconds": 60}}))
        .await;
    let url = m["heartbeat_url"].as_str().unwrap().to_string();

    assert_eq!(ping(&stack, "/api/v1/heartbeat/not-a-token").await.status(), 404);
    assert_eq!(ping(&stack, &format!("{url}/explode")).await.status(), 404);
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(ping(&stack, &url).await.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");

    let id = m["id"].as_str().unwrap();
    stack.post(&format!("/monitors/{id}/pause"), json!({})).await;
    tokio::time::sleep(Duration::from_millis(5_100)).await; // the token cache's lifetime
    let r: Value = ping(&stack, &url).await.json().await.unwrap();
    assert_eq!(r["status"], "paused");
    stack.stop().await;
}
