//! `monitor.degraded` through the whole stack: a target that turns slow past the monitor's
//! `degraded_latency_ms` tells a channel listening to `monitor.degraded` once, and once more
//! when it is fast again; a channel that does not list it hears neither.

use crate::helpers::{Stack, WAIT};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use upcheck_testkit::http_target::{HttpTarget, Reply};
use upcheck_testkit::{WebhookReceiver, wait_for};

fn types(receiver: &WebhookReceiver) -> Vec<String> {
    receiver.received().iter().map(|r| r.json()["type"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_alerts_degraded_once_and_resolved_once_to_the_channels_that_listen() {
    let stack = Stack::start().await;
    let delay_ms = Arc::new(AtomicU64::new(0));
    let delay = delay_ms.clone();
    let target = HttpTarget::start(move |_| Reply {
        delay: Duration::from_millis(delay.load(Ordering::Relaxed)),
        ..Reply::ok("ok")
    })
    .await;
    let (listens, deaf) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    let listens_id = stack.webhook_channel(&listens, "performance").await;
    let deaf_id = stack.webhook_channel(&deaf, "outages").await;
    let monitor = stack
        .post(
            "/monitors",
            json!({"name": "slowpoke", "url": format!("{}/health", target.base), "interval_seconds": 1,
                   "timeout_ms": 900, "failure_threshold": 2, "recovery_threshold": 1,
                   "config": {"degraded_latency_ms": 200},
                   "channels": [{"channel_id": listens_id, "events": ["monitor.down", "monitor.up", "monitor.degraded"]},
                                {"channel_id": deaf_id}]}),
        )
        .await;
    let id = monitor["id"].as_str().unwrap().to_string();
    wait_for("the monitor up", WAIT, || async {
        (stack.get(&format!("/monitors/{id}")).await["status"] == "up").then_some(())
    })
    .await;

    delay_ms.store(400, Ordering::Relaxed);
    wait_for("the degraded webhook", WAIT, || async { (!listens.received().is_empty()).then_some(()) }).await;
    let body = listens.received()[0].json();
    assert_eq!(body["type"], "monitor.degraded");
    assert_eq!(body["degraded"]["threshold_ms"], 200);
    assert!(body["degraded"]["latency_ms"].as_i64().unwrap() >= 200, "{body}");
    assert_eq!((body["status"].as_str(), body["incident"].is_null()), (Some("up"), true));

    delay_ms.store(0, Ordering::Relaxed);
    wait_for("the resolved webhook", WAIT, || async { (listens.received().len() >= 2).then_some(()) }).await;
    // A few more fast checks: nothing else is said.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(types(&listens), ["monitor.degraded", "monitor.degraded.resolved"]);
    assert!(
        deaf.received().is_empty(),
        "a channel without monitor.degraded hears neither: {:?}",
        types(&deaf)
    );
    stack.stop().await;
}
