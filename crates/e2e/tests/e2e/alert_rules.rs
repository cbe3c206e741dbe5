//! Alert rules through the whole stack: a monitor created through the REST API with a
//! first-tier channel that gets reminders and an escalation target; the alert-timer clock is
//! stepped by the test with chosen times (the worker's own clock runs too, at the wall clock,
//! so it fires nothing early); deliveries reach real local webhook receivers.

use crate::helpers::{Stack, WAIT};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use upcheck_streams::{Keys, Producer, TimerSet};
use upcheck_testkit::{FlipTarget, WebhookReceiver, wait_for};
use upcheck_worker_status_change::timers::Timers;

fn bodies(receiver: &WebhookReceiver) -> Vec<Value> {
    receiver.received().iter().map(|r| r.json()).collect()
}

/// `(type, reminder, escalation)` of each body.
fn summary(receiver: &WebhookReceiver) -> Vec<(String, Option<u64>, bool)> {
    bodies(receiver)
        .iter()
        .map(|b| {
            let kind = b["type"].as_str().unwrap().to_string();
            (kind, b["reminder"].as_u64(), b["escalation"].as_bool().unwrap_or(false))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_escalation_reach_their_receivers_until_acknowledged_and_the_up_follows() {
    let stack = Stack::start().await;
    let target = FlipTarget::start().await;
    let (first, oncall) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    let first_id = stack.webhook_channel(&first, "team").await;
    let oncall_id = stack.webhook_channel(&oncall, "on-call").await;
    let monitor = stack
        .post(
            "/monitors",
            json!({"name": "target", "url": target.url, "interval_seconds": 1, "timeout_ms": 500,
                   "failure_threshold": 1, "recovery_threshold": 1,
                   "channels": [{"channel_id": first_id, "reminder_minutes": 10},
                                {"channel_id": oncall_id, "escalate_after_minutes": 30}]}),
        )
        .await;
    let id = monitor["id"].as_str().unwrap().to_string();
    wait_for("the monitor up", WAIT, || async {
        (stack.get(&format!("/monitors/{id}")).await["status"] == "up").then_some(())
    })
    .await;
    let keys = Keys::new(&stack.env.settings);
    let clock = Timers::new(
        stack.env.pool.clone(),
        TimerSet::new(stack.env.redis.clone(), keys.alert_timers()),
        Producer::new(stack.env.redis.clone(), 1_000),
        stack.env.settings.streams.notification.clone(),
        30_000,
    );

    // Down: the first tier hears it at once; the on-call channel waits for its escalation.
    target.set_status(500);
    wait_for("the down webhook", WAIT, || async { (first.received().len() == 1).then_some(()) }).await;
    let incident = stack.get("/incidents?state=open").await["items"][0].clone();
    let opened_at = OffsetDateTime::parse(
        incident["opened_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let minutes = |m: i64| opened_at + time::Duration::minutes(m) + time::Duration::seconds(1);

    // Ten and twenty minutes on: two reminders. Thirty: the escalation (and a third reminder).
    assert_eq!(clock.step(minutes(10), 100).await.unwrap().fired, 1);
    assert_eq!(clock.step(minutes(20), 100).await.unwrap().fired, 1);
    assert_eq!(clock.step(minutes(30), 100).await.unwrap().fired, 2);
    wait_for("reminders and the escalation", WAIT, || async {
        (first.received().len() == 4 && oncall.received().len() == 1).then_some(())
    })
    .await;
    let reminders: Vec<Option<u64>> = summary(&first).iter().map(|s| s.1).collect();
    assert_eq!(reminders, vec![None, Some(1), Some(2), Some(3)]);
    assert_eq!(summary(&oncall), vec![("monitor.down".to_string(), None, true)]);
    let escalation = &bodies(&oncall)[0];
    assert_eq!(escalation["incident"]["id"], incident["id"]);
    assert_eq!(escalation["event_id"], bodies(&first)[0]["event_id"], "the opening event's body");
    let ids: std::collections::HashSet<String> =
        first.received().iter().map(|r| r.header("webhook-id").unwrap().to_string()).collect();
    assert_eq!(ids.len(), 4, "each reminder has its own idempotency key");

    // Acknowledged: no more reminders.
    let ack = format!("/incidents/{}/acknowledge", incident["id"].as_str().unwrap());
    stack.post(&ack, json!({})).await;
    assert_eq!(clock.step(minutes(60), 100).await.unwrap().fired, 0);

    // Recovery: both channels were told it was down, so both hear the up.
    target.set_status(200);
    wait_for("the up on both", WAIT, || async {
        (first.received().len() == 5 && oncall.received().len() == 2).then_some(())
    })
    .await;
    assert_eq!(summary(&first).last().unwrap().0, "monitor.up");
    assert_eq!(summary(&oncall).last().unwrap().0, "monitor.up");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((first.received().len(), oncall.received().len()), (5, 2), "nothing more");

    // The incident's timeline tells the first alert, each reminder and the escalation apart.
    let timeline = stack.get(&format!("/incidents/{}/timeline", incident["id"].as_str().unwrap())).await;
    let mut downs: Vec<(Option<i64>, bool)> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "notification.sent" && e["event_type"] == "monitor.down")
        .map(|e| (e["reminder"].as_i64(), e["escalation"].as_bool().unwrap_or(false)))
        .collect();
    downs.sort();
    assert_eq!(downs, [(None, false), (None, true), (Some(1), false), (Some(2), false), (Some(3), false)]);
    assert!(timeline["items"].as_array().unwrap().iter().any(|e| e["type"] == "incident.acknowledged"));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_channel_hears_nothing_of_an_outage_shorter_than_its_delay() {
    let stack = Stack::start().await;
    let target = FlipTarget::start().await;
    let (now, later) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    let now_id = stack.webhook_channel(&now, "now").await;
    let later_id = stack.webhook_channel(&later, "later").await;
    let monitor = stack
        .post(
            "/monitors",
            json!({"name": "target", "url": target.url, "interval_seconds": 1, "timeout_ms": 500,
                   "failure_threshold": 1, "recovery_threshold": 1,
                   "channels": [{"channel_id": now_id}, {"channel_id": later_id, "delay_minutes": 5}]}),
        )
        .await;
    let id = monitor["id"].as_str().unwrap().to_string();
    wait_for("the monitor up", WAIT, || async {
        (stack.get(&format!("/monitors/{id}")).await["status"] == "up").then_some(())
    })
    .await;

    target.set_status(500);
    wait_for("the down", WAIT, || async { (now.received().len() == 1).then_some(()) }).await;
    target.set_status(200);
    wait_for("the up", WAIT, || async { (now.received().len() == 2).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(later.received().is_empty(), "neither the down nor the up");
    let timers: Vec<String> = stack
        .env
        .db()
        .await
        .query("SELECT state FROM alert_timers WHERE kind = 'delayed'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(timers, vec!["cancelled".to_string()]);
    stack.stop().await;
}
