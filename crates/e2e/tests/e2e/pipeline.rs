//! A monitor created through the REST API is probed on schedule; a failure becomes an incident
//! and a signed webhook; the recovery resolves it and sends a second webhook.

use crate::helpers::{Stack, WAIT};
use serde_json::Value;
use upcheck_testkit::{FlipTarget, Received, WebhookReceiver, wait_for};

fn verified(hook: &Received, secret: &str) -> Value {
    let id = hook.header("webhook-id").expect("webhook-id");
    let ts: i64 = hook.header("webhook-timestamp").expect("webhook-timestamp").parse().unwrap();
    let sig = hook.header("webhook-signature").expect("webhook-signature");
    assert!(upcheck_domain::webhook::verify(secret, id, ts, &hook.body, sig), "signature verifies");
    hook.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_target_opens_an_incident_and_sends_signed_webhooks_down_then_up() {
    let stack = Stack::start().await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let (id, secret) = stack.watched(&target.url, &receiver.url, 2).await;
    assert!(receiver.received().is_empty(), "the first pending → up notifies no one");

    // The target fails: down after two failed checks, one incident, one signed webhook.
    target.set_status(500);
    let down = wait_for("the down webhook", WAIT, || async { receiver.received().into_iter().next() }).await;
    let down = verified(&down, &secret);
    assert_eq!(down["type"], "monitor.down");
    assert_eq!(down["monitor"]["id"], id.as_str());
    assert_eq!(down["cause"], "expected 2xx, got 500");
    let open = stack.get("/incidents?state=open").await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    let incident = &open["items"][0];
    assert_eq!(incident["id"], down["incident"]["id"]);
    assert_eq!(incident["cause"], "expected 2xx, got 500");
    let checks = stack.get(&format!("/monitors/{id}/checks?limit=500")).await;
    let failed = checks["items"].as_array().unwrap().iter().filter(|c| c["status"] == "down").count();
    assert!(failed >= 2, "down after failure_threshold failed checks, saw {failed}");

    // The target recovers: the incident is resolved and a second webhook arrives.
    target.set_status(200);
    let up = wait_for("the up webhook", WAIT, || async { receiver.received().get(1).cloned() }).await;
    let up = verified(&up, &secret);
    assert_eq!(up["type"], "monitor.up");
    assert_eq!(up["incident"]["id"], down["incident"]["id"]);
    assert_ne!(up["event_id"], down["event_id"]);
    let incident_id = incident["id"].as_str().unwrap();
    let resolved = stack.get(&format!("/incidents/{incident_id}")).await;
    assert_eq!(resolved["state"], "resolved");
    assert!(resolved["resolved_at"].is_string());
    let log = wait_for("both deliveries logged", WAIT, || async {
        let log = stack.get(&format!("/monitors/{id}/notifications")).await;
        let delivered = log["items"].as_array().unwrap().iter().filter(|n| n["state"] == "delivered").count();
        (delivered == 2).then_some(log)
    })
    .await;
    assert!(log["items"].as_array().unwrap().iter().all(|n| n["attempts"] == 1));

    // Every status event delivered a second time changes nothing.
    let events: Vec<upcheck_domain::StatusEvent> = stack
        .env
        .db()
        .await
        .query(
            "SELECT id, monitor_id, from_status, to_status, notify, cause, occurred_at, seq FROM status_events",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| upcheck_domain::StatusEvent {
            event_id: r.get(0),
            monitor_id: r.get(1),
            from: upcheck_domain::MonitorStatus::parse(r.get(2)).unwrap(),
            to: upcheck_domain::MonitorStatus::parse(r.get(3)).unwrap(),
            notify: r.get(4),
            cause: r.get(5),
            occurred_at: r.get(6),
            seq: Some(r.get(7)),
            trace_parent: None,
            certificate: None,
            degraded: None,
        })
        .collect();
    let conns = upcheck_streams::connect(&stack.env.settings.redis).await.unwrap();
    let producer = upcheck_streams::Producer::new(conns.commands, 10_000);
    let stream = stack.env.settings.streams.status_change.clone();
    let before: u64 =
        redis::cmd("XLEN").arg(&stream).query_async(&mut stack.env.redis.clone()).await.unwrap();
    producer.add_many(&stream, &events).await.unwrap();
    let group = stack.env.settings.streams.status_change_group.clone();
    wait_for("the duplicates consumed and acknowledged", WAIT, || async {
        let info: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&stream)
            .query_async(&mut stack.env.redis.clone())
            .await
            .unwrap();
        let g = info.iter().find(|g| g.get("name") == Some(&redis::Value::BulkString(group.clone().into_bytes())))?;
        let pending = matches!(g.get("pending"), Some(redis::Value::Int(0)));
        let read = matches!(g.get("entries-read"), Some(redis::Value::Int(n)) if *n as u64 >= before + events.len() as u64);
        (pending && read).then_some(())
    })
    .await;
    let db = stack.env.db().await;
    let incidents: i64 = db.query_one("SELECT count(*) FROM incidents", &[]).await.unwrap().get(0);
    let notifications: i64 = db.query_one("SELECT count(*) FROM notifications", &[]).await.unwrap().get(0);
    assert_eq!((incidents, notifications), (1, 2));
    // The notification jobs the duplicates might have enqueued are consumed before we count.
    let nstream = stack.env.settings.streams.notification.clone();
    let ngroup = stack.env.settings.streams.notification_group.clone();
    wait_for("notification jobs drained", WAIT, || async {
        let v: redis::Value = redis::cmd("XPENDING")
            .arg(&nstream)
            .arg(&ngroup)
            .query_async(&mut stack.env.redis.clone())
            .await
            .unwrap();
        let lag: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&nstream)
            .query_async(&mut stack.env.redis.clone())
            .await
            .unwrap();
        let caught_up = lag.iter().all(|g| matches!(g.get("lag"), Some(redis::Value::Int(0))));
        (matches!(v, redis::Value::Array(ref a) if a.first() == Some(&redis::Value::Int(0))) && caught_up)
            .then_some(())
    })
    .await;
    assert_eq!(receiver.received().len(), 2, "no webhook sent twice");

    stack.stop().await;
}
