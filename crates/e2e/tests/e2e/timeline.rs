//! An incident's timeline through the whole pipeline: opened, failed attempts, the dead
//! letter, the admin's replay, the delivery, the acknowledgement and by whom, the resolution
//! and its notification; with time to acknowledge and duration on the incident.

use crate::helpers::{Stack, WAIT};
use serde_json::{Value, json};
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver, wait_for};

fn types(timeline: &Value) -> Vec<String> {
    timeline["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incidents_timeline_tells_every_attempt_the_replay_the_acknowledgement_and_the_resolution() {
    let env = TestEnv::with_env(&[("NOTIFICATION_MAX_ATTEMPTS", "2")]).await;
    let stack = Stack::start_in(env).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    receiver.set_status(500);
    let (monitor, _) = stack.watched(&target.url, &receiver.url, 1).await;
    target.set_status(500);

    // Two failed attempts, then the dead letter; an admin (the first user) replays it.
    let page = wait_for("a dead letter", WAIT, || async {
        let page = stack.get("/admin/dead-letters?stream=notification").await;
        (!page["items"].as_array().unwrap().is_empty()).then_some(page)
    })
    .await;
    receiver.set_status(200);
    let letter = page["items"][0]["id"].as_str().unwrap();
    stack.post(&format!("/admin/dead-letters/{letter}/replay?stream=notification"), json!({})).await;
    wait_for("delivered after the replay", WAIT, || async {
        let log = stack.get(&format!("/monitors/{monitor}/notifications")).await;
        log["items"].as_array().unwrap().iter().any(|n| n["state"] == "delivered").then_some(())
    })
    .await;
    let incident = stack.get(&format!("/monitors/{monitor}/incidents")).await["items"][0].clone();
    let id = incident["id"].as_str().unwrap().to_string();
    assert_eq!(incident["time_to_acknowledge_seconds"], Value::Null);
    assert_eq!(incident["duration_seconds"], Value::Null);

    let acked = stack.post(&format!("/incidents/{id}/acknowledge"), json!({})).await;
    assert!(acked["time_to_acknowledge_seconds"].as_i64().unwrap() >= 0);
    assert!(acked["acknowledged_by"].is_string());
    target.set_status(200);
    let timeline = wait_for("resolved and its up notification sent", WAIT, || async {
        let t = stack.get(&format!("/incidents/{id}/timeline")).await;
        (types(&t).last().map(String::as_str) == Some("notification.sent")
            && t["items"].as_array().unwrap().iter().any(|e| e["event_type"] == "monitor.up"))
        .then_some(t)
    })
    .await;

    assert_eq!(
        types(&timeline),
        [
            "incident.opened",
            "notification.retrying",
            "notification.dead",
            "notification.replayed",
            "notification.sent",
            "incident.acknowledged",
            "incident.resolved",
            "notification.sent",
        ],
        "{timeline:#}"
    );
    let items = timeline["items"].as_array().unwrap();
    assert!(items[0]["error"].as_str().unwrap().contains("500"), "the cause: {}", items[0]);
    for (i, attempt) in [(1, 1), (2, 2), (4, 3)] {
        assert_eq!(items[i]["attempt"], attempt);
        assert_eq!(items[i]["event_type"], "monitor.down");
        assert_eq!(items[i]["channel"]["kind"], "webhook");
        assert_eq!(items[i]["channel"]["name"], "ops");
    }
    assert_eq!(items[1]["http_status"], 500);
    assert_eq!(items[1]["error"], "receiver answered 500");
    assert_eq!(items[4]["http_status"], 200);
    assert_eq!(items[3]["by"]["email"], "owner@example.com");
    assert_eq!(items[3]["detail"]["notification_id"], items[1]["notification_id"]);
    assert_eq!(items[5]["by"]["email"], "owner@example.com");
    assert_eq!(items[7]["event_type"], "monitor.up");
    assert!(timeline["incident"]["duration_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(timeline["truncated"], false);

    // Another user sees no such incident.
    let other = stack.user_token("other@example.com").await;
    let r = stack
        .http
        .get(format!("{}/api/v1/incidents/{id}/timeline", stack.api))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    stack.stop().await;
}
