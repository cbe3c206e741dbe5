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
    spawn_runner_with(config(env, consumer), conns, handler)
}

fn spawn_runner_with(
    config: upcheck_streams::RunnerConfig,
    conns: &upcheck_streams::RedisConns,
    handler: Arc<ScriptedHandler>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let runner = Runner::new(config, conns, handler);
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
    create_group(&env, &cfg).await;
    producer.add_many(&cfg.stream, &["ok", "ok", "ok"]).await.unwrap();
    // A consumer reads three entries and dies before acknowledging them.
    read_as(&env, &cfg, "killed", 10).await;
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

    let dlq = upcheck_streams::Keys::dead_letter(&cfg.stream);
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
    create_group(&env, &cfg).await;
    let id = Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"ok").await.unwrap();
    // A poison message: read, then claimed twice more by consumers that all died (3 deliveries).
    read_as(&env, &cfg, "dead1", 10).await;
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

    let dlq = upcheck_streams::Keys::dead_letter(&cfg.stream);
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
    assert!(entries(&env, &upcheck_streams::Keys::dead_letter(&cfg.stream)).await.is_empty());
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
    assert!(
        entries(&env, &upcheck_streams::Keys::dead_letter(&cfg.stream)).await.is_empty(),
        "not dead-lettered"
    );
    handler.release();
    wait_for("the ack", WAIT, || async { (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(()) })
        .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_retry_after_from_the_handler_is_waited_before_the_next_try() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let cfg = config(&env, "c1");
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner(&env, &conns, "c1", handler.clone());

    Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"after:700").await.unwrap();

    wait_for("the ack", WAIT, || async {
        (handler.calls().len() == 2 && pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(())
    })
    .await;
    let at = handler.called_at.lock().unwrap().clone();
    let waited = at[1] - at[0];
    // The runner's own first backoff is 50-100 ms; the handler asked for 700.
    assert!(waited >= Duration::from_millis(700), "retried after {waited:?}");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_failure_that_never_clears_is_retried_within_its_budget_then_reclaimed_and_dead_lettered() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let mut cfg = config(&env, "c1"); // reclaim after 300 ms idle, dead letter after 3 deliveries
    cfg.retry_budget = Duration::from_millis(400);
    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner_with(cfg.clone(), &conns, handler.clone());

    let id = Producer::new(conns.commands.clone(), 10_000).add(&cfg.stream, &"forever").await.unwrap();

    let dlq = upcheck_streams::Keys::dead_letter(&cfg.stream);
    let dead = wait_for("a dead letter", Duration::from_secs(20), || async {
        entries(&env, &dlq).await.into_iter().next()
    })
    .await;
    assert_eq!(dead["source_id"], id);
    assert_eq!(dead["deliveries"], "3", "dead-lettered by MAX_DELIVERIES");
    wait_for("the ack", WAIT, || async { (pending(&env, &cfg.stream, &cfg.group).await == 0).then_some(()) })
        .await;
    let calls = handler.calls().len();
    // Each of the three deliveries is retried in-process within the 400 ms budget (first
    // backoffs 50-100, 100-200, 200-400 ms), so more calls than deliveries, but bounded.
    assert!((4..=15).contains(&calls), "{calls} calls for 3 deliveries");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn consumers_gone_idle_with_nothing_pending_are_pruned_and_one_with_pending_work_is_kept() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let mut cfg = config(&env, "live");
    cfg.consumer_idle_prune = Duration::from_millis(500);
    cfg.reclaim_idle_ms = 60_000; // the stuck entry below stays pending with its consumer
    create_group(&env, &cfg).await;
    let producer = Producer::new(conns.commands.clone(), 10_000);
    producer.add(&cfg.stream, &"ok").await.unwrap();
    // "stuck" read one entry and never acknowledged it; "restarted" read nothing.
    for consumer in ["stuck", "restarted"] {
        read_as(&env, &cfg, consumer, 1).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;

    let handler = Arc::new(ScriptedHandler::default());
    let (cancel, task) = spawn_runner_with(cfg.clone(), &conns, handler);

    let names = || async {
        let info: redis::streams::StreamInfoConsumersReply =
            redis::AsyncCommands::xinfo_consumers(&mut env.redis.clone(), &cfg.stream, &cfg.group)
                .await
                .unwrap();
        let mut names: Vec<String> = info.consumers.into_iter().map(|c| c.name).collect();
        names.sort();
        names
    };
    let left = wait_for("the idle consumer pruned", WAIT, || async {
        let n = names().await;
        (!n.contains(&"restarted".to_string())).then_some(n)
    })
    .await;
    assert!(left.contains(&"stuck".to_string()), "a consumer with pending entries is kept: {left:?}");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn dead_letter_streams_are_trimmed_to_about_their_cap() {
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let stream = format!("{}capped", env.prefix);
    let producer = Producer::new(conns.commands.clone(), 10_000).with_dead_letter_maxlen(100);
    for i in 0..1_000 {
        let m = upcheck_streams::StreamMessage {
            stream: stream.clone(),
            id: format!("1-{i}"),
            payload: "{}".into(),
        };
        producer.dead_letter("workers", &m, "test", 1).await.unwrap();
    }
    let len = xlen(&env, &upcheck_streams::Keys::dead_letter(&stream)).await;
    assert!((100..300).contains(&len), "1,000 dead letters, {len} kept");
}
