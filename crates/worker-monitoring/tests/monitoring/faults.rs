//! Store failures seen from the check handler: a transient one retries the store with the same
//! probe result (the target is probed once per job), a permanent one dead-letters only the job
//! Postgres refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use upcheck_domain::{CheckJob, CheckOutcome, ProbeSpec};
use upcheck_streams::{HandleError, Handler, Producer, StreamMessage};
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::{monitor, spec, user};
use upcheck_worker_monitoring::batcher::Batcher;
use upcheck_worker_monitoring::handler::CheckHandler;
use upcheck_worker_monitoring::outbox::Outbox;
use upcheck_worker_monitoring::probe::{Probe, ProbeResult};

use crate::worker::now_ms;

/// A probe that counts its calls per monitor.
#[derive(Clone, Default)]
struct CountingProbe {
    calls: Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, usize>>>,
    total: Arc<AtomicUsize>,
}

impl Probe for CountingProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        *self.calls.lock().unwrap().entry(spec.monitor_id).or_default() += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        ProbeResult {
            outcome: CheckOutcome::Up,
            latency_ms: Some(1),
            http_status: Some(200),
            error: None,
            checked_at: OffsetDateTime::now_utc(),
            certificate: None,
        }
    }
}

async fn handler(
    env: &TestEnv,
    probe: CountingProbe,
) -> (Arc<CheckHandler<CountingProbe>>, tokio::task::JoinHandle<()>) {
    let conns = upcheck_streams::connect(&env.settings.redis).await.unwrap();
    let outbox = Outbox::new(
        env.pool.clone(),
        Producer::new(conns.commands, 10_000),
        env.settings.streams.status_change.clone(),
    );
    let (batcher, task) = Batcher::start(env.pool.clone(), outbox, 256, Duration::from_millis(50), 2);
    (Arc::new(CheckHandler::new(probe, batcher, "local".into(), 8)), task)
}

fn message(id: &str, spec: ProbeSpec) -> StreamMessage {
    let job = CheckJob { spec, due_at_ms: now_ms(), ping: None };
    StreamMessage {
        stream: "monitoring".into(),
        id: id.into(),
        payload: serde_json::to_string(&job).unwrap(),
    }
}

#[tokio::test]
async fn a_store_that_fails_for_a_while_is_retried_with_the_same_probe_result() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let s = spec("http://127.0.0.1:9/");
    monitor(&env, owner, &s).await;
    // The first two writes fail with a serialization failure (a sequence is not rolled back).
    env.db()
        .await
        .batch_execute(
            "CREATE SEQUENCE test_failures; \
             CREATE FUNCTION test_fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF nextval('test_failures') <= 2 THEN \
                 RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; \
               END IF; RETURN NEW; END $$; \
             CREATE TRIGGER test_fail_twice BEFORE INSERT ON check_results \
               FOR EACH ROW EXECUTE FUNCTION test_fail_twice();",
        )
        .await
        .unwrap();
    let probe = CountingProbe::default();
    let (handler, task) = handler(&env, probe.clone()).await;
    let m = message("1-0", s.clone());

    // The runner calls the handler again with the same entry after each retryable failure.
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(handler.handle(&m).await);
    }

    assert!(matches!(results[0], Err(HandleError::Retryable { .. })), "{:?}", results[0]);
    assert!(matches!(results[1], Err(HandleError::Retryable { .. })), "{:?}", results[1]);
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(probe.total.load(Ordering::SeqCst), 1, "the target was probed once");
    let stored: i64 =
        env.db().await.query_one("SELECT count(*) FROM check_results", &[]).await.unwrap().get(0);
    assert_eq!(stored, 1);
    drop(handler);
    task.await.unwrap();
}

#[tokio::test]
async fn a_check_postgres_rejects_for_good_is_permanent_and_the_rest_of_its_batch_is_stored() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let specs: Vec<ProbeSpec> = (0..4).map(|_| spec("http://127.0.0.1:9/")).collect();
    for s in &specs {
        monitor(&env, owner, s).await;
    }
    let poison = specs[0].monitor_id;
    env.db()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION test_reject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.monitor_id = '{poison}' THEN \
                 RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003'; \
               END IF; RETURN NEW; END $$; \
             CREATE TRIGGER test_reject BEFORE INSERT ON check_results \
               FOR EACH ROW EXECUTE FUNCTION test_reject();"
        ))
        .await
        .unwrap();
    let probe = CountingProbe::default();
    let (handler, task) = handler(&env, probe.clone()).await;

    // All four reach the batcher within its 50 ms window: one batch.
    let mut handled = tokio::task::JoinSet::new();
    for (i, s) in specs.iter().enumerate() {
        let (h, m) = (handler.clone(), message(&format!("1-{i}"), s.clone()));
        handled.spawn(async move { (m.id.clone(), h.handle(&m).await) });
    }
    let mut results = std::collections::BTreeMap::new();
    while let Some(r) = handled.join_next().await {
        let (id, result) = r.unwrap();
        results.insert(id, result);
    }

    match &results["1-0"] {
        Err(e @ HandleError::Permanent { .. }) => {
            assert!(e.chain().contains("value out of range"), "{}", e.chain())
        }
        other => panic!("the rejected check must be permanent, got {other:?}"),
    }
    for id in ["1-1", "1-2", "1-3"] {
        assert!(results[id].is_ok(), "{id}: {:?}", results[id]);
    }
    let stored: i64 = env
        .db()
        .await
        .query_one("SELECT count(*) FROM check_results WHERE monitor_id <> $1", &[&poison])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 3, "the other checks of the batch were stored");
    assert_eq!(probe.total.load(Ordering::SeqCst), 4, "each job probed once");
    drop(handler);
    task.await.unwrap();
}

/// Three unapplied events, published an hour ago or never: the relay publishes again the one
/// whose stream entry Redis lost and the one never published, and leaves the one still waiting
/// in the stream alone.
#[tokio::test]
async fn the_relay_publishes_again_only_events_whose_entry_is_gone_or_was_never_written() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let conns = upcheck_streams::connect(&env.settings.redis).await.unwrap();
    let producer = Producer::new(conns.commands.clone(), 10_000);
    let stream = env.settings.streams.status_change.clone();
    let outbox = Outbox::new(env.pool.clone(), producer.clone(), stream.clone());
    let mut events = Vec::new();
    for _ in 0..3 {
        let s = spec("http://127.0.0.1:9/");
        monitor(&env, owner, &s).await;
        let mut e = [upcheck_domain::StatusEvent {
            event_id: uuid::Uuid::now_v7(),
            monitor_id: s.monitor_id,
            from: upcheck_domain::MonitorStatus::Up,
            to: upcheck_domain::MonitorStatus::Down,
            notify: true,
            occurred_at: OffsetDateTime::now_utc(),
            cause: None,
            seq: None,
            trace_parent: None,
            certificate: None,
            degraded: None,
        }];
        upcheck_store::events::append(&env.pool, &mut e).await.unwrap();
        events.push(e[0].clone());
    }
    let (waiting, lost, never) = (&events[0], &events[1], &events[2]);
    let entry = producer.add(&stream, waiting).await.unwrap();
    upcheck_store::events::mark_published(
        &env.pool,
        &[(waiting.event_id, entry), (lost.event_id, "1-1".into())],
    )
    .await
    .unwrap();
    env.db()
        .await
        .execute(
            "UPDATE status_events SET published_at = published_at - interval '1 hour', \
               created_at = created_at - interval '1 hour'",
            &[],
        )
        .await
        .unwrap();

    let published = outbox.relay_once(Duration::from_secs(10), Duration::from_secs(15)).await.unwrap();

    assert_eq!(published, 2);
    let entries: Vec<(String, std::collections::HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut env.redis.clone())
        .await
        .unwrap();
    let ids: Vec<uuid::Uuid> = entries
        .iter()
        .map(|(_, f)| serde_json::from_str::<upcheck_domain::StatusEvent>(&f["m"]).unwrap().event_id)
        .collect();
    assert_eq!(ids, vec![waiting.event_id, lost.event_id, never.event_id], "in production order, once each");
    // Both were published again just now: the next pass publishes nothing.
    assert_eq!(outbox.relay_once(Duration::from_secs(10), Duration::from_secs(15)).await.unwrap(), 0);
}
