//! A maintenance window through the whole stack: a monitor going down inside it opens no
//! incident and sends no webhook, while another monitor outside it does; when the window ends
//! with the outage still on, the incident opens and its webhook arrives then.

use crate::helpers::{Stack, WAIT};
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upcheck_testkit::{FlipTarget, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_inside_a_window_alerts_only_when_the_window_ends() {
    let stack = Stack::start().await;
    let (target, other_target) = (FlipTarget::start().await, FlipTarget::start().await);
    let (receiver, other_receiver) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    let (id, _) = stack.watched(&target.url, &receiver.url, 1).await;
    let (other, _) = stack.watched(&other_target.url, &other_receiver.url, 1).await;
    let now = OffsetDateTime::now_utc();
    let ends_at = now + time::Duration::seconds(8);
    let window = stack
        .post(
            "/maintenance-windows",
            json!({"name": "deploy", "monitor_ids": [id],
                   "starts_at": (now - time::Duration::minutes(1)).format(&Rfc3339).unwrap(),
                   "ends_at": ends_at.format(&Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(window["active"], true);

    target.set_status(500);
    other_target.set_status(500);
    wait_for("the monitor down inside the window", WAIT, || async {
        (stack.get(&format!("/monitors/{id}")).await["status"] == "down").then_some(())
    })
    .await;
    let other_down = wait_for("the other monitor's webhook", WAIT, || async {
        other_receiver.received().into_iter().next()
    })
    .await;
    assert_eq!(other_down.json()["type"], "monitor.down");
    let theirs = stack.get(&format!("/monitors/{other}/incidents")).await;
    assert_eq!(theirs["items"][0]["state"], "open", "the monitor outside the window has its incident");
    assert!(OffsetDateTime::now_utc() < ends_at, "the window is still on (the test ran too slowly)");
    assert!(receiver.received().is_empty(), "no alert inside the window");
    let open = stack.get(&format!("/monitors/{id}/incidents")).await;
    assert_eq!(open["items"], json!([]), "no incident inside the window");

    let down = wait_for("the webhook at the window's end", WAIT, || async {
        receiver.received().into_iter().next()
    })
    .await;
    let at = OffsetDateTime::now_utc();
    assert!(at >= ends_at, "it came when the window ended, not before");
    let body = down.json();
    assert_eq!(body["type"], "monitor.down");
    assert!(body["cause"].as_str().unwrap().contains("maintenance"), "{body}");
    let incidents = stack.get(&format!("/monitors/{id}/incidents")).await;
    assert_eq!(incidents["items"][0]["state"], "open");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1, "one alert");
    stack.stop().await;
}
