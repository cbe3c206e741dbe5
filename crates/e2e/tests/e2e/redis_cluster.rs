//! The whole stack on a real three-master Redis Cluster (`REDIS_CLUSTER_URLS`, three schedule
//! shards): each shard's keys live on a master of their own, every script's keys share a slot,
//! and a monitor that goes down and up reaches the live feed (pub/sub) and the webhook channel
//! (through a failed first delivery, so the retry pump runs too), each webhook exactly once.

use crate::helpers::{Stack, WAIT};
use std::collections::HashSet;
use std::time::Duration;
use upcheck_streams::Keys;
use upcheck_streams::keys::slot;
use upcheck_testkit::sse::SseReader;
use upcheck_testkit::{FlipTarget, LocalRedisCluster, TestEnv, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_on_a_three_master_redis_cluster_with_a_shard_per_master() {
    let cluster =
        tokio::task::spawn_blocking(|| LocalRedisCluster::start(3)).await.unwrap().expect("cluster");
    let env = TestEnv::with_env(&[("REDIS_CLUSTER_URLS", &cluster.urls()), ("SCHEDULE_SHARDS", "3")]).await;
    assert!(env.settings.redis.is_cluster());

    // Three shards on three masters; each script's keys in one slot, as the cluster hashes them.
    let keys = Keys::new(&env.settings);
    let mut owners = HashSet::new();
    for shard in 0..3 {
        let stream = keys.monitoring_stream(shard);
        let slot_of = cluster.keyslot(&stream).unwrap();
        assert_eq!(slot_of, slot(&stream), "Upcheck's slot of {stream} is the cluster's");
        for key in [keys.schedule(shard), keys.specs(shard), Keys::dead_letter(&stream)] {
            assert_eq!(cluster.keyslot(&key).unwrap(), slot_of, "{key} beside {stream}");
        }
        owners.insert(cluster.owner_of(&stream).unwrap());
    }
    assert_eq!(owners.len(), 3, "the three shards land on the three masters");
    let s = &env.settings.streams;
    for (stream, companion) in [
        (&s.notification, keys.notification_retries()),
        (&s.notification, Keys::dead_letter(&s.notification)),
        (&s.status_change, Keys::dead_letter(&s.status_change)),
    ] {
        assert_eq!(cluster.keyslot(&companion).unwrap(), cluster.keyslot(stream).unwrap(), "{companion}");
    }

    let stack = Stack::start_in(env).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let (id, _) = stack.watched(&target.url, &receiver.url, 2).await;
    let r = stack
        .http
        .get(format!("{}/api/v1/events", stack.api))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut feed = SseReader::new(r);
    tokio::time::sleep(Duration::from_millis(300)).await; // the hub's subscription is up

    // Down: the first delivery fails, the retry pump brings the job back, the second lands.
    receiver.set_status(500);
    target.set_status(500);
    let down = loop {
        let status = feed.next_event("status", WAIT).await.json();
        if status["status"] == "down" {
            break status;
        }
    };
    assert_eq!(down["monitor_id"], id.as_str());
    wait_for("a refused delivery", WAIT, || async { (!receiver.received().is_empty()).then_some(()) }).await;
    receiver.set_status(200);
    let accepting_since = std::time::Instant::now();
    wait_for("the down webhook accepted", WAIT, || async {
        stack.get(&format!("/monitors/{id}/notifications")).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["state"] == "delivered")
            .then_some(())
    })
    .await;

    // Up: the incident resolves and the second webhook arrives.
    target.set_status(200);
    let delivered = wait_for("both webhooks delivered", WAIT, || async {
        let log = stack.get(&format!("/monitors/{id}/notifications")).await;
        let items = log["items"].as_array().unwrap().clone();
        (items.iter().filter(|n| n["state"] == "delivered").count() == 2).then_some(items)
    })
    .await;
    let incidents = stack.get("/incidents?state=resolved").await;
    assert_eq!(incidents["items"].as_array().unwrap().len(), 1);

    // Exactly once each: after the receiver accepts again, one request per event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let accepted: Vec<String> = receiver
        .received()
        .iter()
        .filter(|h| h.at > accepting_since)
        .map(|h| h.json()["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(accepted, ["monitor.down", "monitor.up"], "deliveries: {delivered:?}");
    let down_log = delivered.iter().find(|n| n["event"] == "monitor.down").expect("down delivery");
    assert!(down_log["attempts"].as_i64() >= Some(2), "the retry pump brought it back: {down_log}");
    stack.stop().await;
}
