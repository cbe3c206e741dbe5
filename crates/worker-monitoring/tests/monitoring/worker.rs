//! The monitoring worker in-process against real Postgres, Redis and local targets.

use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_domain::{CheckJob, StatusEvent};
use upcheck_store::checks::{CheckRecord, record_checks};
use upcheck_streams::{Keys, Schedule};
use upcheck_testkit::fixtures::{count, monitor, spec, status, user};
use upcheck_testkit::{FlipTarget, TestEnv, wait_for};

const WAIT: Duration = Duration::from_secs(15);
const CHECKS: &str = "SELECT count(*) FROM check_results WHERE monitor_id = $1";

pub(crate) struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    health_port: u16,
}

impl Running {
    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task).await.expect("worker stops").unwrap();
    }
}

pub(crate) async fn start(env: &TestEnv) -> Running {
    upcheck_config::install_crypto_provider();
    let cancel = CancellationToken::new();
    let worker = upcheck_worker_monitoring::start(env.settings.clone(), cancel.clone()).await.unwrap();
    let health_port = worker.health_port();
    Running { cancel, task: tokio::spawn(worker.wait()), health_port }
}

pub(crate) async fn schedule(env: &TestEnv) -> Schedule {
    let conns = upcheck_streams::connect(&env.settings.redis).await.unwrap();
    Schedule::new(conns.commands, Keys::new(&env.settings), 10_000)
}

pub(crate) use upcheck_domain::clock::now_ms;

async fn published_events(env: &TestEnv) -> Vec<StatusEvent> {
    let entries: Vec<(String, std::collections::HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(&env.settings.streams.status_change)
        .arg("-")
        .arg("+")
        .query_async(&mut env.redis.clone())
        .await
        .unwrap();
    entries.into_iter().map(|(_, f)| serde_json::from_str(&f["m"]).unwrap()).collect()
}

#[tokio::test]
async fn checks_flow_and_a_failing_target_goes_down_after_threshold_checks() {
    let env = TestEnv::new().await;
    let target = FlipTarget::start().await;
    let s = spec(&target.url);
    monitor(&env, user(&env).await, &s).await;
    schedule(&env).await.upsert(&s, now_ms()).await.unwrap();
    let worker = start(&env).await;

    wait_for("the monitor up", WAIT, || async { (status(&env, s.monitor_id).await == "up").then_some(()) })
        .await;
    target.set_status(500);
    wait_for("the monitor down", WAIT, || async {
        (status(&env, s.monitor_id).await == "down").then_some(())
    })
    .await;

    let failures: i64 = count(
        &env,
        "SELECT count(*) FROM check_results WHERE monitor_id = $1 AND error = 'expected 2xx, got 500'",
        s.monitor_id,
    )
    .await;
    assert!(failures >= 2, "down only after two failed checks, saw {failures}");
    let events = wait_for("both transitions published", WAIT, || async {
        let e = published_events(&env).await;
        (e.len() == 2).then_some(e)
    })
    .await;
    assert_eq!((events[0].to.as_str(), events[1].to.as_str()), ("up", "down"));
    assert_eq!(events[1].cause.as_deref(), Some("expected 2xx, got 500"));
    let body: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{}/readyz", worker.health_port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["postgres"], "ok");
    assert_eq!(body["redis"], "ok");
    worker.stop().await;
}

#[tokio::test]
async fn a_slow_http_monitor_is_degraded_but_up_and_a_tcp_monitor_is_probed_through_the_pipeline() {
    let env = TestEnv::new().await;
    let slow = upcheck_testkit::http_target::HttpTarget::start(|_| upcheck_testkit::http_target::Reply {
        delay: Duration::from_millis(60),
        ..upcheck_testkit::http_target::Reply::ok("ok")
    })
    .await;
    let mut http = spec(&format!("{}/", slow.base));
    http.config = upcheck_domain::probe_config::KindConfig::from_json(
        upcheck_domain::MonitorKind::Http,
        &serde_json::json!({"degraded_latency_ms": 30}),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut tcp = spec("http://127.0.0.1:9/");
    tcp.kind = upcheck_domain::MonitorKind::Tcp;
    tcp.config = upcheck_domain::probe_config::KindConfig::from_json(
        upcheck_domain::MonitorKind::Tcp,
        &serde_json::json!({"host": "127.0.0.1", "port": listener.local_addr().unwrap().port()}),
    )
    .unwrap();
    tcp.url = tcp.config.target().unwrap();
    let owner = user(&env).await;
    for s in [&http, &tcp] {
        monitor(&env, owner, s).await;
        schedule(&env).await.upsert(s, now_ms()).await.unwrap();
    }
    let worker = start(&env).await;

    for id in [http.monitor_id, tcp.monitor_id] {
        wait_for("the monitor up", WAIT, || async { (status(&env, id).await == "up").then_some(()) }).await;
    }
    let degraded: i64 = count(
        &env,
        "SELECT count(*) FROM check_results WHERE monitor_id = $1 AND status = 'degraded'",
        http.monitor_id,
    )
    .await;
    let last: Option<String> = env
        .db()
        .await
        .query_one("SELECT last_outcome FROM monitor_region_state WHERE monitor_id = $1", &[&http.monitor_id])
        .await
        .unwrap()
        .get(0);
    assert!(degraded >= 1);
    assert_eq!(last.as_deref(), Some("degraded"));
    worker.stop().await;
}

#[tokio::test]
async fn a_worker_killed_between_a_committed_check_and_its_ack_loses_no_transition() {
    let env = TestEnv::with_env(&[("OUTBOX_RELAY_MS", "100"), ("RECLAIM_IDLE_MS", "2500")]).await;
    let target = FlipTarget::start().await;
    target.set_status(500);
    let s = spec(&target.url);
    monitor(&env, user(&env).await, &s).await;
    let keys = Keys::new(&env.settings);
    let (stream, group) = (keys.monitoring_stream(0), env.settings.streams.monitoring_group.clone());
    let mut redis = env.redis.clone();
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg(&group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let due = now_ms() - 10_000;
    for d in [due, due + 1_000] {
        let job = serde_json::to_string(&CheckJob { spec: s.clone(), due_at_ms: d, ping: None }).unwrap();
        redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("m")
            .arg(job)
            .query_async::<String>(&mut redis)
            .await
            .unwrap();
    }
    // The killed worker read both jobs, probed them and committed the checks (and so the
    // transition to down, in the outbox), then died before publishing or acknowledging.
    type Entries = Vec<(String, std::collections::HashMap<String, String>)>;
    let read: Vec<(String, Entries)> = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(&group)
        .arg("killed")
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    let records: Vec<CheckRecord> = read[0]
        .1
        .iter()
        .map(|(id, f)| {
            let job: CheckJob = serde_json::from_str(&f["m"]).unwrap();
            CheckRecord {
                monitor_id: s.monitor_id,
                job_id: id.clone(),
                region: env.settings.region.clone(),
                due_at_ms: job.due_at_ms,
                checked_at: OffsetDateTime::now_utc(),
                outcome: upcheck_domain::CheckOutcome::Down,
                latency_ms: Some(1),
                http_status: Some(500),
                error: Some("expected 2xx, got 500".into()),
                thresholds: Default::default(),
                trace_parent: None,
                quorum: Default::default(),
                expiring_certificate: None,
                degraded_latency_ms: None,
            }
        })
        .collect();
    let committed = record_checks(&env.pool, &records).await.unwrap();
    assert_eq!(committed.len(), 1, "the transition is in the outbox");

    let worker = start(&env).await;

    let published = wait_for("the orphaned transition published", WAIT, || async {
        published_events(&env).await.into_iter().find(|e| e.event_id == committed[0].event_id)
    })
    .await;
    assert_eq!(published.to.as_str(), "down");
    wait_for("the killed worker's jobs acknowledged", WAIT, || async {
        let v: redis::Value = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(&group)
            .query_async(&mut env.redis.clone())
            .await
            .unwrap();
        matches!(v, redis::Value::Array(ref a) if a.first() == Some(&redis::Value::Int(0))).then_some(())
    })
    .await;
    // The redelivered jobs were probed again but their stored checks are the killed worker's.
    let job_ids: Vec<String> = records.iter().map(|r| r.job_id.clone()).collect();
    let stored: Vec<OffsetDateTime> = env
        .db()
        .await
        .query("SELECT checked_at FROM check_results WHERE job_id = ANY($1) ORDER BY job_id", &[&job_ids])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let original: Vec<OffsetDateTime> = records.iter().map(|r| r.checked_at).collect();
    assert_eq!(stored.len(), 2);
    for (a, b) in stored.iter().zip(&original) {
        assert!((*a - *b).abs() < time::Duration::milliseconds(1), "stored check overwritten: {a} vs {b}");
    }
    assert_eq!(
        count(&env, "SELECT count(*) FROM status_events WHERE monitor_id = $1", s.monitor_id).await,
        1
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_flushed_redis_schedule_heals_from_postgres_on_its_own() {
    let env = TestEnv::with_env(&[("RECONCILE_INTERVAL_SECONDS", "1")]).await;
    let target = FlipTarget::start().await;
    let owner = user(&env).await;
    let s = spec(&target.url);
    monitor(&env, owner, &s).await; // in Postgres only: Redis never heard of it
    let paused = spec(&target.url);
    monitor(&env, owner, &paused).await;
    env.db()
        .await
        .execute("UPDATE monitors SET paused = true WHERE id = $1", &[&paused.monitor_id])
        .await
        .unwrap();
    let sched = schedule(&env).await;
    sched.upsert(&paused, now_ms() + 3_600_000).await.unwrap(); // stale: paused in Postgres

    let worker = start(&env).await;
    wait_for("checks from the reconciled schedule", WAIT, || async {
        (count(&env, CHECKS, s.monitor_id).await > 0).then_some(())
    })
    .await;
    assert_eq!(sched.due_at(paused.monitor_id).await.unwrap(), None, "the paused monitor was unscheduled");

    let keys = sched.keys().clone();
    redis::cmd("DEL")
        .arg(keys.schedule(0))
        .arg(keys.specs(0))
        .arg(keys.schedule_marker())
        .query_async::<()>(&mut env.redis.clone())
        .await
        .unwrap();
    let before = count(&env, CHECKS, s.monitor_id).await;

    wait_for("checks after the flush", WAIT, || async {
        (count(&env, CHECKS, s.monitor_id).await > before + 1).then_some(())
    })
    .await;
    assert!(sched.due_at(s.monitor_id).await.unwrap().is_some());
    worker.stop().await;
}

#[tokio::test]
async fn a_published_transition_lost_with_redis_data_is_published_again() {
    let env = TestEnv::with_env(&[("OUTBOX_RELAY_MS", "100")]).await;
    let s = spec("http://127.0.0.1:1/");
    monitor(&env, user(&env).await, &s).await;
    env.db().await.execute("UPDATE monitors SET paused = true", &[]).await.unwrap(); // no new checks
    let record = |due: i64| CheckRecord {
        monitor_id: s.monitor_id,
        job_id: format!("{due}-0"),
        region: env.settings.region.clone(),
        due_at_ms: due,
        checked_at: OffsetDateTime::now_utc(),
        outcome: upcheck_domain::CheckOutcome::Up,
        latency_ms: Some(1),
        http_status: Some(200),
        error: None,
        thresholds: Default::default(),
        trace_parent: None,
        quorum: Default::default(),
        expiring_certificate: None,
        degraded_latency_ms: None,
    };
    let events = record_checks(&env.pool, &[record(1_000)]).await.unwrap();
    // It was published an hour ago as entry 1-0, then Redis lost the stream before anyone
    // applied it.
    upcheck_store::events::mark_published(&env.pool, &[(events[0].event_id, "1-0".into())]).await.unwrap();
    env.db()
        .await
        .execute("UPDATE status_events SET published_at = now() - interval '1 hour'", &[])
        .await
        .unwrap();

    let worker = start(&env).await;

    let again = wait_for("the lost transition published again", WAIT, || async {
        published_events(&env).await.into_iter().find(|e| e.event_id == events[0].event_id)
    })
    .await;
    assert_eq!(again.to.as_str(), "up");
    worker.stop().await;
}

#[tokio::test]
async fn the_worker_makes_the_check_partitions_ahead_at_start_up() {
    let env = TestEnv::new().await;
    let in_three_days = OffsetDateTime::now_utc() + time::Duration::days(3);
    let day = format!(
        "check_results_p{:04}{:02}{:02}",
        in_three_days.year(),
        u8::from(in_three_days.month()),
        in_three_days.day()
    );
    let partitions = || async {
        upcheck_store::partitions::list(&env.pool, &upcheck_store::partitions::CHECK_RESULTS)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    assert!(!partitions().await.contains(&day));

    let worker = start(&env).await;

    wait_for("the partition of the day in three days", WAIT, || async {
        partitions().await.contains(&day).then_some(())
    })
    .await;
    worker.stop().await;
}
