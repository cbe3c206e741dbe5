//! The consumer-group runner against real Redis.

use crate::helpers::*;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_streams::{Producer, Runner};
use upcheck_testkit::{TestEnv, wait_for};

const WAIT: Duration = Duration::from_secs(10);

fn spawn_runner(
    env: &TestEnv,
    conns: &upcheck_streams::RedisConns,
    consumer: &str,
    handler: Arc<ScriptedHandler>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let runner = Runner::new(config(env, consumer), conns, handler);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let task = tokio::spawn(async move { runner.run(c).await.unwrap() });
    (cancel, task)
}

#[tokio::test]
async fn entries_added_before_the_group_exists_are_delivered() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let stream = config(&env, "c1").stream;
    let producer = Producer::new(conns.commands.clone(), 10_000);
    producer.add(&stream, &"ok").await.unwrap();

    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());

    wait_for("the early entry", WAIT, || async { (handler.calls().len() == 1).then_some(()) }).await;
    wait_for("the ack", WAIT, || async { (pending(&env, &stream, "workers").await == 0).then_some(()) })
        .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_message_is_acknowledged_only_after_its_handler_succeeds() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let stream = config(&env, "c1").stream;
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());
    let producer = Producer::new(conns.commands.clone(), 10_000);

    producer.add(&stream, &"slow:800").await.unwrap();
    wait_for("the handler to start", WAIT, || async { (!handler.calls().is_empty()).then_some(()) }).await;
    assert_eq!(pending(&env, &stream, "workers").await, 1, "in flight, so still pending");

    wait_for("the ack after success", WAIT, || async {
        (pending(&env, &stream, "workers").await == 0).then_some(())
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn two_runners_in_one_group_handle_each_message_exactly_once() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let stream = config(&env, "a").stream;
    let producer = Producer::new(conns.commands.clone(), 10_000);
    let bodies: Vec<String> = (0..200).map(|i| format!("slow:{}", i % 3)).collect();
    let (ha, hb) = (Arc::new(ScriptedHandler::default()), Arc::new(ScriptedHandler::default()));
    let (ca, ta) = spawn_runner(&env, &conns, "a", ha.clone());
    let (cb, tb) = spawn_runner(&env, &conns, "b", hb.clone());

    producer.add_many(&stream, &bodies).await.unwrap();

    wait_for("all 200 handled", WAIT, || async {
        (ha.calls().len() + hb.calls().len() >= 200).then_some(())
    })
    .await;
    wait_for("all acknowledged", WAIT, || async {
        (pending(&env, &stream, "workers").await == 0).then_some(())
    })
    .await;
    ca.cancel();
    cb.cancel();
    ta.await.unwrap();
    tb.await.unwrap();
    assert_eq!(ha.calls().len() + hb.calls().len(), 200, "no message handled twice");
}

#[tokio::test]
async fn pending_entries_of_a_killed_consumer_are_reclaimed_by_a_live_one() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "live");
    let producer = Producer::new(conns.commands.clone(), 10_000);
    let mut redis = env.redis.clone();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&cfg.stream)
        .arg(&cfg.group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    producer.add_many(&cfg.stream, &["ok", "ok", "ok"]).await.unwrap();
    // A consumer reads three entries and dies before acknowledging them.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(&cfg.group)
        .arg("killed")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&cfg.stream)
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(pending(&env, &cfg.stream, &cfg.group).await, 3);

    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "live", handler.clone());

    wait_for("the killed consumer's entries handled", WAIT, || async {
        (handler.calls().len() == 3).then_some(())
    })
    .await;
    wait_for("them acknowledged", WAIT, || async {
        (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(())
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_permanent_failure_goes_to_the_dead_letter_stream_with_its_reason() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "c1");
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());
    let producer = Producer::new(conns.commands.clone(), 10_000);

    let id = producer.add(&cfg.stream, &"permanent").await.unwrap();

    let dlq = format!("{}:dlq", cfg.stream);
    let dead =
        wait_for("a dead letter", WAIT, || async { entries(&env, &dlq).await.into_iter().next() }).await;
    assert_eq!(dead["m"], "\"permanent\"");
    assert_eq!(dead["source_id"], id);
    assert!(dead["reason"].contains("scripted"), "{}", dead["reason"]);
    wait_for("the ack", WAIT, || async { (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(()) })
        .await;
    assert_eq!(handler.calls().len(), 1);
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_message_delivered_max_deliveries_times_is_dead_lettered_not_retried_forever() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "live");
    let mut redis = env.redis.clone();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&cfg.stream)
        .arg(&cfg.group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let id = Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"ok").await.unwrap();
    // A poison message: read, then claimed twice more by consumers that all died (3 deliveries).
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(&cfg.group)
        .arg("dead1")
        .arg("STREAMS")
        .arg(&cfg.stream)
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    for c in ["dead2", "dead3"] {
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(&cfg.stream)
            .arg(&cfg.group)
            .arg(c)
            .arg(0)
            .arg(&id)
            .query_async(&mut redis)
            .await
            .unwrap();
    }

    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "live", handler.clone());

    let dlq = format!("{}:dlq", cfg.stream);
    let dead =
        wait_for("a dead letter", WAIT, || async { entries(&env, &dlq).await.into_iter().next() }).await;
    assert_eq!(dead["source_id"], id);
    assert_eq!(dead["deliveries"], "3");
    wait_for("the ack", WAIT, || async { (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(()) })
        .await;
    assert!(handler.calls().is_empty(), "a poison message is not handled again");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_retryable_failure_is_retried_in_process_until_it_succeeds() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "c1");
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());

    Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"retry:2").await.unwrap();

    wait_for("three calls", WAIT, || async { (handler.calls().len() == 3).then_some(()) }).await;
    wait_for("the ack", WAIT, || async { (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(()) })
        .await;
    assert!(entries(&env, &format!("{}:dlq", cfg.stream)).await.is_empty());
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn cancellation_lets_in_flight_work_finish_and_acknowledge() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "c1");
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());
    Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"slow:500").await.unwrap();
    wait_for("the handler to start", WAIT, || async { (!handler.calls().is_empty()).then_some(()) }).await;

    cancel.cancel();
    tokio::time::timeout(WAIT, task).await.expect("the runner stops").unwrap();

    assert_eq!(
        pending(&env, &cfg.stream, &cfg.group).await,
        0,
        "in-flight message finished and acknowledged"
    );
}

#[tokio::test]
async fn xadd_trims_streams_to_about_maxlen() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let stream = format!("{}trimmed", env.prefix);
    let producer = Producer::new(conns.commands.clone(), 1_000);
    let batch: Vec<u32> = (0..500).collect();

    for _ in 0..10 {
        producer.add_many(&stream, &batch).await.unwrap();
    }

    let len = xlen(&env, &stream).await;
    assert!((1_000..1_200).contains(&len), "5,000 added, length {len}");
}

#[tokio::test]
async fn a_message_retrying_through_an_outage_is_neither_reclaimed_nor_dead_lettered() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "c1"); // reclaim after 300 ms idle, dead letter after 3 deliveries
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());
    Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"hold").await.unwrap();

    // Five failed calls with backoff span several reclaim periods.
    wait_for("five failed calls", WAIT, || async { (handler.calls().len() >= 5).then_some(()) }).await;

    assert_eq!(deliveries(&env, &cfg.stream, &cfg.group).await, vec![1], "never reclaimed while in flight");
    assert!(entries(&env, &format!("{}:dlq", cfg.stream)).await.is_empty(), "not dead-lettered");
    handler.release();
    wait_for("the ack", WAIT, || async { (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(()) })
        .await;
    cancel.cancel();
    task.await.unwrap();
}
