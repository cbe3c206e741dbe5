//! The check handler's timing: jobs are probed at their due time, and probes are capped apart
//! from the messages in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use upcheck_domain::{CheckJob, CheckOutcome, ProbeSpec};
use upcheck_streams::{Handler, Keys, Producer, StreamMessage};
use upcheck_testkit::fixtures::{monitor, spec, user};
use upcheck_testkit::{FlipTarget, SilentTarget, TestEnv, wait_for};
use upcheck_worker_monitoring::batcher::Batcher;
use upcheck_worker_monitoring::handler::CheckHandler;
use upcheck_worker_monitoring::outbox::Outbox;
use upcheck_worker_monitoring::probe::{Probe, ProbeResult};

use crate::worker::{now_ms, schedule, start};

#[tokio::test]
async fn jobs_claimed_a_tick_ahead_are_probed_at_their_due_time_not_a_tick_late() {
    // A long tick: without the look-ahead and the wait, a check would start 0–500 ms late.
    let env = TestEnv::with_env(&[("SCHEDULER_TICK_MS", "500")]).await;
    let target = FlipTarget::start().await;
    let owner = user(&env).await;
    let schedule = schedule(&env).await;
    let first_due = now_ms() + 1_000;
    let mut ids = Vec::new();
    for phase in [0, 170, 340] {
        let s = spec(&target.url);
        monitor(&env, owner, &s).await;
        schedule.upsert(&s, first_due + phase).await.unwrap();
        ids.push(s.monitor_id);
    }
    let worker = start(&env).await;
    let db = env.db().await;
    let lags: Vec<f64> = wait_for("three checks of each monitor", Duration::from_secs(15), || async {
        let rows = db
            .query(
                "SELECT (extract(epoch FROM checked_at - due_at) * 1000)::float8 FROM check_results \
                 WHERE monitor_id = ANY($1) ORDER BY due_at",
                &[&ids],
            )
            .await
            .unwrap();
        (rows.len() >= 9).then(|| rows.iter().map(|r| r.get::<_, f64>(0)).collect())
    })
    .await;
    worker.stop().await;
    for lag in &lags {
        assert!(*lag >= 0.0, "a check ran {lag:.0} ms before it was due: {lags:?}");
        // Three ticks: a busy machine may hold up one check; the median below is the test of
        // the look-ahead.
        assert!(*lag < 1_500.0, "a check ran three ticks ({lag:.0} ms) after it was due: {lags:?}");
    }
    // Claimed a tick late, the three phases (0, 170, 340 ms into a 500 ms tick) would start
    // 160-500 ms late, a median near 250 ms. On time, the median is a few ms; a busy machine
    // delays a single check now and then, not the middle one of nine.
    let mut sorted = lags.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!(median < 100.0, "the median check ran {median:.0} ms after it was due: {lags:?}");
}

/// A probe that takes 100 ms and records how many run at once.
#[derive(Clone, Default)]
struct SlowProbe {
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Probe for SlowProbe {
    async fn probe(&self, _spec: &ProbeSpec) -> ProbeResult {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
        ProbeResult {
            outcome: CheckOutcome::Up,
            latency_ms: Some(100),
            http_status: Some(200),
            error: None,
            checked_at: OffsetDateTime::now_utc(),
            certificate: None,
        }
    }
}

#[tokio::test]
async fn at_most_max_probes_run_at_once_however_many_messages_are_in_flight() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let conns = upcheck_streams::connect(&env.settings.redis).await.unwrap();
    let outbox = Outbox::new(
        env.pool.clone(),
        Producer::new(conns.commands, 10_000),
        env.settings.streams.status_change.clone(),
    );
    let (batcher, batch_task) = Batcher::start(env.pool.clone(), outbox, 256, Duration::from_millis(5), 2);
    let probe = SlowProbe::default();
    let handler = Arc::new(CheckHandler::new(probe.clone(), batcher, "local".into(), 2));
    let mut handled = tokio::task::JoinSet::new();
    for i in 0..6 {
        let s = spec("http://127.0.0.1:9/");
        monitor(&env, owner, &s).await;
        let job = CheckJob { spec: s, due_at_ms: now_ms(), ping: None };
        let message = StreamMessage {
            stream: "monitoring".into(),
            id: format!("1-{i}"),
            payload: serde_json::to_string(&job).unwrap(),
        };
        let handler = handler.clone();
        handled.spawn(async move { handler.handle(&message).await });
    }
    while let Some(r) = handled.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(probe.done.load(Ordering::SeqCst), 6, "every message was probed");
    assert_eq!(probe.most.load(Ordering::SeqCst), 2, "never more than two probes at once");
    let stored: i64 =
        env.db().await.query_one("SELECT count(*) FROM check_results", &[]).await.unwrap().get(0);
    assert_eq!(stored, 6, "every check was stored");
    drop(handler);
    batch_task.await.unwrap();
}

#[tokio::test]
async fn a_replica_whose_runner_is_full_claims_nothing_more_and_overdue_monitors_wait() {
    // One probe slot and one-check batches (six messages in flight) against a target that
    // never answers: two checks a second for 60 monitors due every second. The owner's fair
    // share is lifted, so jobs wait for the one probe slot (and fill the runner) instead of
    // being skipped for the owner's limit.
    let env = TestEnv::with_env(&[
        ("MONITORING_CONCURRENCY", "1"),
        ("CHECK_BATCH_SIZE", "1"),
        ("PROBE_MAX_PER_USER", "100"),
    ])
    .await;
    let target = SilentTarget::start().await;
    let owner = user(&env).await;
    let mut specs = Vec::new();
    for _ in 0..60 {
        let mut s = spec(&target.url);
        s.timeout_ms = 500;
        monitor(&env, owner, &s).await;
        specs.push(s);
    }
    schedule(&env).await.upsert_many(&specs, now_ms(), false).await.unwrap();
    let started = std::time::Instant::now();
    let worker = start(&env).await;
    let db = env.db().await;
    // At least three seconds, and until checks are stored (a busy machine may take longer).
    wait_for("checks stored while saturated", Duration::from_secs(30), || async {
        let stored: i64 = db.query_one("SELECT count(*) FROM check_results", &[]).await.unwrap().get(0);
        (stored > 0 && started.elapsed() >= Duration::from_secs(3)).then_some(())
    })
    .await;
    let stream = Keys::new(&env.settings).monitoring_stream(0);
    let added: u64 = redis::cmd("XLEN").arg(&stream).query_async(&mut env.redis.clone()).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    worker.stop().await;
    // Without back-pressure every second would add the 60 monitors again: 60 jobs a second.
    // With it, about the two a second the one probe slot gets through, plus the six messages
    // the runner holds.
    let rate = added as f64 / seconds;
    assert!(rate < 15.0, "{added} jobs in {seconds:.1} s piled up in the stream while the runner was full");
}
