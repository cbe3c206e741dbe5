//! Stack start-up shared by the scenarios: the shipped settings, monitors inserted in bulk,
//! the schedule at random phases, and the four Upcheck binaries as child processes.

use crate::procs::{Component, free_port, sibling_binary};
use futures::SinkExt;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::ProbeSpec;
use upcheck_streams::{Keys, Schedule};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// The shipped defaults of the settings `TestEnv` shortens for tests, read from
/// [`upcheck_config::Tunables::default`]: the bench measures what users run.
static PRODUCTION_TIMINGS: std::sync::LazyLock<Vec<(&'static str, String)>> =
    std::sync::LazyLock::new(|| {
        let t = upcheck_config::Tunables::default();
        vec![
            ("SCHEDULER_TICK_MS", t.scheduler_tick_ms.to_string()),
            ("CHECK_BATCH_MS", t.check_batch_ms.to_string()),
            ("RECLAIM_IDLE_MS", t.reclaim_idle_ms.to_string()),
            ("WEBHOOK_TIMEOUT_MS", t.webhook_timeout_ms.to_string()),
            ("NOTIFICATION_RETRY_BASE_MS", t.notification_retry_base_ms.to_string()),
            ("NOTIFICATION_RETRY_MAX_MS", t.notification_retry_max_ms.to_string()),
            ("DATABASE_POOL_SIZE", upcheck_config::DEFAULT_DATABASE_POOL_SIZE.to_string()),
            // The bench measures capacity from one address and one user, which the shipped
            // rate limits would cut short (`--set RATE_LIMITS_ENABLED=true` measures them).
            ("RATE_LIMITS_ENABLED", "false".to_string()),
            // Its monitors are one user's against one target host, standing for the many users
            // and hosts a replica serves: the fair-probing limits per host (32) and per owner
            // would cap the run at 32 probes in flight (5,065 checks/s at 100,000 monitors on
            // 2026-12-07), so they are lifted as far as they go (`--set PROBE_MAX_PER_HOST=32`
            // measures them).
            ("PROBE_MAX_PER_HOST", "100000".to_string()),
            ("PROBE_MAX_PER_USER", "100000".to_string()),
        ]
    });

/// [`PRODUCTION_TIMINGS`] as `(variable, value)` pairs.
pub(crate) fn production_timings() -> Vec<(&'static str, &'static str)> {
    PRODUCTION_TIMINGS.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Inserts `specs` as monitors of `owner` (with their `pending` state rows), 10,000 per
/// statement.
pub(crate) async fn insert_monitors(env: &TestEnv, owner: Uuid, specs: &[ProbeSpec]) -> anyhow::Result<()> {
    let db = env.db().await;
    let rules = serde_json::to_value(upcheck_domain::ExpectedStatus::default_rules())?;
    for chunk in specs.chunks(10_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|s| s.monitor_id).collect();
        let urls: Vec<&str> = chunk.iter().map(|s| s.url.as_str()).collect();
        let kinds: Vec<&str> = chunk.iter().map(|s| s.kind.as_str()).collect();
        let configs: Vec<serde_json::Value> = chunk.iter().map(|s| s.config.to_json()).collect();
        let intervals: Vec<i32> = chunk.iter().map(|s| s.interval_seconds as i32).collect();
        let timeouts: Vec<i32> = chunk.iter().map(|s| s.timeout_ms as i32).collect();
        let thresholds: Vec<i16> = chunk.iter().map(|s| s.failure_threshold as i16).collect();
        db.execute(
            "INSERT INTO monitors (id, owner_id, name, kind, url, method, headers, body, interval_seconds, \
               timeout_ms, expected_status, failure_threshold, recovery_threshold, config) \
             SELECT id, $2, 'bench monitor', kind, url, 'GET', '{}'::jsonb, NULL, interval, timeout, $3, threshold, 1, \
                    config \
             FROM unnest($1::uuid[], $4::text[], $5::text[], $6::jsonb[], $7::int4[], $8::int4[], $9::int2[]) \
                  AS m(id, url, kind, config, interval, timeout, threshold)",
            &[&ids, &owner, &rules, &urls, &kinds, &configs, &intervals, &timeouts, &thresholds],
        )
        .await?;
        db.execute(
            "INSERT INTO monitor_state (monitor_id, status) SELECT unnest($1::uuid[]), 'pending'",
            &[&ids],
        )
        .await?;
    }
    Ok(())
}

/// Schedules `specs` at random phases within one interval from `start_ms`, as monitors created
/// over time would have (a shared phase would line them up with the scheduler's tick).
pub(crate) async fn schedule_random_phases(
    env: &TestEnv,
    specs: &[ProbeSpec],
    start_ms: i64,
) -> anyhow::Result<()> {
    let conns = upcheck_streams::connect(&env.settings.redis).await?;
    let schedule =
        Schedule::new(conns.commands, Keys::new(&env.settings), env.settings.tunables.stream_maxlen);
    const BUCKETS: usize = 200; // 5 ms apart
    let mut buckets: Vec<Vec<ProbeSpec>> = vec![Vec::new(); BUCKETS];
    for s in specs {
        buckets[(s.monitor_id.as_u128() % 1_000_003) as usize % BUCKETS].push(s.clone());
    }
    for (i, bucket) in buckets.iter().enumerate() {
        for chunk in bucket.chunks(1_000) {
            schedule.upsert_many(chunk, start_ms + (i * 1_000 / BUCKETS) as i64, false).await?;
        }
    }
    Ok(())
}

/// The four Upcheck binaries as child processes on one test environment.
pub(crate) struct Stack {
    pub(crate) components: Vec<Component>,
    pub(crate) api_url: String,
}

impl Stack {
    /// Starts the API and the status-change and notification workers, plus `replicas`
    /// monitoring workers (each its own consumer name).
    pub(crate) async fn start(env: &TestEnv, replicas: usize) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut vars = env.vars.clone();
        vars.insert("PORT".into(), port.to_string());
        vars.insert("HEALTH_PORT".into(), "0".into());
        let mut components = vec![Component::spawn("api", &sibling_binary("upcheck-api")?, &[], &vars)?];
        for i in 1..=replicas {
            let mut v = vars.clone();
            v.insert("CONSUMER_NAME".into(), format!("bench-monitoring-{i}"));
            let label = if replicas == 1 {
                "worker-monitoring".to_string()
            } else {
                format!("worker-monitoring #{i}")
            };
            components.push(Component::spawn(
                &label,
                &sibling_binary("upcheck-worker-monitoring")?,
                &[],
                &v,
            )?);
        }
        for name in ["worker-status-change", "worker-notification"] {
            components.push(Component::spawn(
                name,
                &sibling_binary(&format!("upcheck-{name}"))?,
                &[],
                &vars,
            )?);
        }
        let api_url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for c in &mut components {
                c.ensure_running()?;
            }
            if client.get(format!("{api_url}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "the API did not answer /healthz within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { components, api_url })
    }

    pub(crate) async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || {
            for c in self.components {
                c.stop();
            }
        })
        .await;
    }
}

/// A connection to the scenario's database for bulk work (generating history, `VACUUM`):
/// without the statement timeout and without the pool's response watchdog
/// (`DATABASE_RESPONSE_TIMEOUT_MS`), which would take a statement that runs for minutes
/// without answering for a dead connection. Plain TCP: the bench runs against local servers.
pub(crate) async fn bulk_connection(env: &TestEnv) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = env.settings.database.config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("bench bulk connection closed: {e}");
        }
    });
    client.batch_execute("SET statement_timeout = 0").await?;
    Ok(client)
}

/// One API process of its own (no workers) on a free port, once it answers `/healthz`;
/// returns it and its base URL.
pub(crate) async fn start_api(env: &TestEnv) -> anyhow::Result<(Component, String)> {
    let port = free_port()?;
    let mut vars = env.vars.clone();
    vars.insert("PORT".into(), port.to_string());
    let mut api = Component::spawn("api", &sibling_binary("upcheck-api")?, &[], &vars)?;
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
        api.ensure_running()?;
        anyhow::ensure!(Instant::now() < deadline, "the API did not answer /healthz within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((api, url))
}

/// Signs up and logs in `email` (password `bench-password`) on the API at `api_url`; returns
/// the access token and the user's id.
pub(crate) async fn bench_user(
    client: &reqwest::Client,
    api_url: &str,
    email: &str,
) -> anyhow::Result<(String, Uuid)> {
    use anyhow::Context;
    let creds = serde_json::json!({"email": email, "password": "bench-password"});
    client.post(format!("{api_url}/api/v1/auth/signup")).json(&creds).send().await?.error_for_status()?;
    let tokens: serde_json::Value = client
        .post(format!("{api_url}/api/v1/auth/login"))
        .json(&creds)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = tokens["access_token"].as_str().context("login returned no access_token")?.to_string();
    let me: serde_json::Value = client
        .get(format!("{api_url}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = me["id"].as_str().context("/me returned no id")?.parse()?;
    Ok((token, id))
}

/// Rolls up the checks [`copy_checks`] loaded as the monitoring worker would have: a check of
/// each monitor stored now through `record_checks` closes every minute before its own from the
/// raw checks (and the hours, days and months they complete) and sets the rollup marks, so
/// `/stats` and status pages read rollups and only the current minute raw, as in production.
/// Returns the seconds it took.
pub(crate) async fn roll_up_as_workers(env: &TestEnv, monitor_ids: &[Uuid]) -> anyhow::Result<f64> {
    let now = OffsetDateTime::now_utc();
    let checks: Vec<upcheck_store::checks::CheckRecord> = monitor_ids
        .iter()
        .map(|id| upcheck_store::checks::CheckRecord {
            monitor_id: *id,
            job_id: "rollup-0".into(),
            region: "local".into(),
            due_at_ms: upcheck_domain::clock::unix_ms(now),
            checked_at: now,
            outcome: upcheck_domain::CheckOutcome::Up,
            latency_ms: Some(20),
            http_status: Some(200),
            error: None,
            thresholds: upcheck_domain::Thresholds { failure: 1, recovery: 1 },
            degraded_latency_ms: None,
            trace_parent: None,
            quorum: Default::default(),
            expiring_certificate: None,
        })
        .collect();
    // Closing every minute of millions of loaded checks takes minutes: a pool of its own whose
    // statements may (the workers' closings read a minute or two).
    let mut settings = env.settings.database.clone();
    settings.pool_size = 1;
    settings.statement_timeout_ms = 30 * 60 * 1_000;
    settings.net.response_timeout_ms = settings.statement_timeout_ms + 60_000;
    let pool = upcheck_store::connect_pool(&settings)?;
    let started = Instant::now();
    for batch in checks.chunks(upcheck_config::Tunables::default().check_batch_size) {
        upcheck_store::checks::record_checks(&pool, batch).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Streams `rows` rows of checks for `monitor_ids` (round robin, one a second going back from
/// now, 1 % down) into `check_results` with `COPY … FROM STDIN`; returns rows per second.
pub(crate) async fn copy_checks(env: &TestEnv, monitor_ids: &[Uuid], rows: u64) -> anyhow::Result<f64> {
    let db = env.db().await;
    // One COPY of millions of rows runs longer than DATABASE_STATEMENT_TIMEOUT_MS: lift it on
    // this session for the load (the response watchdog lets a COPY run while it keeps sending).
    db.batch_execute("SET statement_timeout = 0").await?;
    let sink = db
        .copy_in(
            "COPY check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status) \
             FROM STDIN",
        )
        .await?;
    futures::pin_mut!(sink);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let per_monitor = rows.div_ceil(monitor_ids.len() as u64);
    let started = Instant::now();
    let mut buf = String::with_capacity(1 << 20);
    let mut sent = 0u64;
    'outer: for i in 0..per_monitor {
        let at = OffsetDateTime::from_unix_timestamp(now - i as i64)?;
        let ts = format!("{} {:02}:{:02}:{:02}+00", at.date(), at.hour(), at.minute(), at.second());
        for id in monitor_ids {
            if sent == rows {
                break 'outer;
            }
            let down = i % 100 == 7;
            let (status, code) = if down { ("down", 500) } else { ("up", 200) };
            let latency = 5 + (i * 7919 + sent) % 300;
            buf.push_str(&format!("{id}\tb{i}\tlocal\t{ts}\t{ts}\t{status}\t{latency}\t{code}\n"));
            sent += 1;
            if buf.len() > (1 << 20) - 256 {
                sink.send(bytes::Bytes::from(std::mem::take(&mut buf))).await?;
                buf.reserve(1 << 20);
            }
        }
    }
    if !buf.is_empty() {
        sink.send(bytes::Bytes::from(buf)).await?;
    }
    let written = sink.as_mut().finish().await?;
    db.batch_execute(&format!("SET statement_timeout = {}", env.settings.database.statement_timeout_ms))
        .await?;
    anyhow::ensure!(written == rows, "COPY wrote {written} rows, not {rows}");
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}
