//! Redis loses its data while an alert is in flight: Postgres, the system of record, restores
//! what was lost within 30 s (DESIGN.md, "Self-healing").

use crate::helpers::{Stack, WAIT};
use std::time::{Duration, Instant};
use upcheck_testkit::{FlipTarget, LocalRedis, TestEnv, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_in_flight_when_redis_restarts_empty_is_delivered_within_30_seconds() {
    let redis = LocalRedis::start();
    // Retries 4 s apart, so the failed first delivery waits in Redis's retry set when Redis
    // goes; the relays run at their shipped 5 s period.
    let env = TestEnv::with_env(&[
        ("REDIS_URL", redis.url().as_str()),
        ("NOTIFICATION_RETRY_BASE_MS", "4000"),
        ("NOTIFICATION_RETRY_MAX_MS", "4000"),
        ("OUTBOX_RELAY_MS", "5000"),
        ("RECONCILE_INTERVAL_SECONDS", "60"),
    ])
    .await;
    let stack = Stack::start_in(env).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let (id, _) = stack.watched(&target.url, &receiver.url, 2).await;

    // The receiver fails the first delivery: the alert waits for its retry, in Redis only.
    receiver.set_status(503);
    target.set_status(500);
    let first =
        wait_for("the first delivery attempt", WAIT, || async { receiver.received().into_iter().next() })
            .await;
    let webhook_id = first.header("webhook-id").expect("webhook-id").to_string();
    let retries = upcheck_streams::DelayQueue::new(
        stack.env.redis.clone(),
        upcheck_streams::Keys::new(&stack.env.settings).notification_retries(),
        stack.env.settings.streams.notification.clone(),
        stack.env.settings.tunables.stream_maxlen,
    );
    wait_for("the retry waiting in Redis", WAIT, || async {
        (retries.waiting().await.unwrap_or(0) == 1).then_some(())
    })
    .await;

    redis.restart_empty();
    let restarted = Instant::now();
    receiver.set_status(200);

    let delivered =
        wait_for("the alert delivered after Redis came back empty", Duration::from_secs(40), || async {
            receiver
                .received()
                .into_iter()
                .skip(1)
                .find(|r| r.header("webhook-id") == Some(webhook_id.as_str()))
        })
        .await;
    let healed_in = delivered.at.duration_since(restarted);
    assert!(healed_in < Duration::from_secs(30), "delivered {healed_in:?} after Redis lost its data");
    assert_eq!(delivered.json()["type"], "monitor.down");
    // The schedule healed too: the monitor is checked again.
    let checks_before: i64 =
        stack.env.db().await.query_one("SELECT count(*) FROM check_results", &[]).await.unwrap().get(0);
    wait_for("checks after the restart", WAIT, || async {
        let n: i64 =
            stack.env.db().await.query_one("SELECT count(*) FROM check_results", &[]).await.unwrap().get(0);
        (n > checks_before + 2).then_some(())
    })
    .await;
    let log = stack.get(&format!("/monitors/{id}/notifications")).await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one notification: {log}");
    assert_eq!(items[0]["state"], "delivered");
    println!("alert delivered {healed_in:?} after Redis restarted empty");
    stack.stop().await;
}
