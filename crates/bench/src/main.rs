//! `upcheck-bench`: measures Upcheck on this machine and prints one table.
//!
//! Every Upcheck component runs as its release binary in a child process, so the CPU seconds
//! and peak RSS of each (read from `/proc`) can be told apart; each scenario runs in a
//! throwaway database and Redis key prefix on the Postgres and Redis at
//! `DATABASE_URL`/`REDIS_URL`. The probe target and the webhook receiver run inside the bench.
//!
//! Scenarios (`BENCHMARKS.md` describes each):
//! - `alert`: one monitor, its target flipped to failing `--rounds` times; flip → webhook.
//! - `throughput`: `--monitors` monitors at a 1 s interval, `--replicas` monitoring workers;
//!   checks stored per second, schedule lag, CPU per 1,000 checks and peak RSS per component,
//!   Redis memory per monitor; with `--flip N`, N more monitors (each with a webhook channel)
//!   are flipped to failing after the window, under the same load: flip → webhook p50/p99.
//! - `ceilings`: the target's raw rate under `wrk` (keep-alive, the probes' policy),
//!   `redis-benchmark` XADD, and Postgres `COPY` into `check_results`.
//! - `api`: `--checks` stored checks over `--api-monitors` monitors, then `wrk` against a
//!   single monitor, the monitor list and a monitor's `/stats`.
//! - `vigil`: the peer Vigil with `--monitors` HTTP probes against the same kind of target.
//! - `all`: ceilings; throughput at `--monitors` with 1 and 2 replicas and with Vigil's
//!   parallelism (`MONITORING_CONCURRENCY=64`), and at `--big-monitors` (100,000); alert under
//!   load at `--load-percent` of the best measured rate; Vigil at both monitor counts with the
//!   ratios; the API.
//!
//! Usage: `upcheck-bench <scenario> [--monitors N] [--replicas R] [--seconds S]
//! [--warmup-seconds W] [--rounds R] [--flip N] [--checks N] [--api-monitors N]
//! [--load-percent P] [--big-monitors N] [--set VARIABLE=value …]`. Build first: `cargo build --release --workspace --bins`.

mod procs;
mod tools;

use anyhow::{Context, bail};
use futures::SinkExt;
use procs::{Component, free_port, sibling_binary};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::ProbeSpec;
use upcheck_streams::{Keys, Schedule};
use upcheck_testkit::fixtures::{monitor, spec, user, webhook_channel};
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver};
use uuid::Uuid;

/// The shipped defaults of the settings `TestEnv` shortens for tests: the bench measures what
/// users run.
const PRODUCTION_TIMINGS: &[(&str, &str)] = &[
    ("SCHEDULER_TICK_MS", "100"),
    ("CHECK_BATCH_MS", "20"),
    ("RECLAIM_IDLE_MS", "30000"),
    ("WEBHOOK_TIMEOUT_MS", "10000"),
    ("NOTIFICATION_RETRY_BASE_MS", "1000"),
    ("NOTIFICATION_RETRY_MAX_MS", "600000"),
    ("DATABASE_POOL_SIZE", "16"),
];

type Rows = Vec<(String, String)>;

#[derive(Clone)]
struct Args {
    scenario: String,
    monitors: usize,
    replicas: usize,
    seconds: u64,
    warmup: u64,
    rounds: usize,
    flip: usize,
    checks: u64,
    api_monitors: usize,
    load_percent: u64,
    /// `all`'s second, larger monitor count.
    big_monitors: usize,
    /// `--set VARIABLE=value`: settings the components get on top of the shipped defaults.
    sets: Vec<(String, String)>,
}

impl Args {
    /// The settings every scenario's environment gets: the shipped timings, then `--set`s.
    fn overrides(&self) -> Vec<(&str, &str)> {
        let mut o = PRODUCTION_TIMINGS.to_vec();
        o.extend(self.sets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        o
    }
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        scenario: "all".into(),
        monitors: 10_000,
        replicas: 1,
        seconds: 20,
        warmup: 10,
        rounds: 10,
        flip: 0,
        checks: 10_000_000,
        api_monitors: 100,
        load_percent: 80,
        big_monitors: 100_000,
        sets: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            it.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "alert" | "throughput" | "ceilings" | "api" | "vigil" | "all" => a.scenario = arg,
            "--monitors" => a.monitors = value("--monitors")? as usize,
            "--replicas" => a.replicas = value("--replicas")?.max(1) as usize,
            "--seconds" => a.seconds = value("--seconds")?,
            "--warmup-seconds" => a.warmup = value("--warmup-seconds")?,
            "--rounds" => a.rounds = value("--rounds")? as usize,
            "--flip" => a.flip = value("--flip")? as usize,
            "--checks" => a.checks = value("--checks")?,
            "--api-monitors" => a.api_monitors = value("--api-monitors")?.max(1) as usize,
            "--load-percent" => a.load_percent = value("--load-percent")?.clamp(1, 100),
            "--big-monitors" => a.big_monitors = value("--big-monitors")? as usize,
            "--set" => {
                let kv = it.next().context("--set needs VARIABLE=value")?;
                let (k, v) = kv.split_once('=').context("--set takes VARIABLE=value")?;
                a.sets.push((k.to_string(), v.to_string()));
            }
            other => bail!("unknown argument {other:?}; see the doc comment of crates/bench/src/main.rs"),
        }
    }
    Ok(a)
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {:.1} GiB RAM", mem_kb as f64 / 1_048_576.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// `p50 / p99 / max` of sorted values, with thousands separators.
fn p50_p99_max(sorted: &[f64]) -> String {
    format!(
        "{} / {} / {}",
        thousands(percentile(sorted, 0.5)),
        thousands(percentile(sorted, 0.99)),
        thousands(sorted.last().copied().unwrap_or(f64::NAN))
    )
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n.round());
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Redis's own figures from `INFO`: used memory (bytes) and CPU seconds (user + system).
async fn redis_info(conn: &mut redis::aio::ConnectionManager) -> anyhow::Result<(f64, f64)> {
    let info: String = redis::cmd("INFO").arg("all").query_async(conn).await?;
    let field = |name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    Ok((field("used_memory"), field("used_cpu_user") + field("used_cpu_sys")))
}

/// Postgres's CPU seconds: the postmaster (whose reaped backends count in its `cutime`) plus
/// its live children. `None` when the server is not on this machine.
async fn postgres_cpu(env: &TestEnv) -> anyhow::Result<Option<f64>> {
    let backend: i32 = env.db().await.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let Some(postmaster) = parent_pid(backend as u32) else { return Ok(None) };
    let total = procs::pids_named("postgres")
        .into_iter()
        .filter(|&p| p == postmaster || parent_pid(p) == Some(postmaster))
        .filter_map(procs::cpu_seconds)
        .sum();
    Ok(Some(total))
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split_whitespace().nth(1)?.parse().ok()
}

/// Inserts `specs` as monitors of `owner` (with their `pending` state rows), 10,000 per
/// statement.
async fn insert_monitors(env: &TestEnv, owner: Uuid, specs: &[ProbeSpec]) -> anyhow::Result<()> {
    let db = env.db().await;
    let rules = serde_json::to_value(upcheck_domain::ExpectedStatus::default_rules())?;
    for chunk in specs.chunks(10_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|s| s.monitor_id).collect();
        let urls: Vec<&str> = chunk.iter().map(|s| s.url.as_str()).collect();
        db.execute(
            "INSERT INTO monitors (id, owner_id, name, kind, url, method, headers, body, interval_seconds, \
               timeout_ms, expected_status, failure_threshold, recovery_threshold) \
             SELECT id, $2, 'bench monitor', 'http', url, 'GET', '{}'::jsonb, NULL, 1, 500, $3, 2, 1 \
             FROM unnest($1::uuid[], $4::text[]) AS m(id, url)",
            &[&ids, &owner, &rules, &urls],
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
async fn schedule_random_phases(env: &TestEnv, specs: &[ProbeSpec], start_ms: i64) -> anyhow::Result<()> {
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
struct Stack {
    components: Vec<Component>,
    api_url: String,
}

impl Stack {
    /// Starts the API and the status-change and notification workers, plus `replicas`
    /// monitoring workers (each its own consumer name).
    async fn start(env: &TestEnv, replicas: usize) -> anyhow::Result<Self> {
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

    async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || {
            for c in self.components {
                c.stop();
            }
        })
        .await;
    }
}

/// Time from a target flipping to failing until the `monitor.down` webhook arrives, per round,
/// with one monitor and nothing else running.
async fn alert(a: &Args) -> anyhow::Result<Rows> {
    let rounds = a.rounds;
    let env = TestEnv::with_env(&a.overrides()).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let s = spec(&target.url);
    monitor(&env, owner, &s).await;
    webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
    schedule_random_phases(&env, std::slice::from_ref(&s), now_ms()).await?;
    let stack = Stack::start(&env, 1).await?;
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        let deadline = Instant::now() + Duration::from_secs(30);
        while upcheck_testkit::fixtures::status(&env, s.monitor_id).await != "up" {
            anyhow::ensure!(Instant::now() < deadline, "monitor never came up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Flip at a random phase within the check interval.
        tokio::time::sleep(Duration::from_millis((Uuid::new_v4().as_u128() % 1_000) as u64)).await;
        let seen = receiver.received().len();
        let flipped = Instant::now();
        target.set_status(500);
        let arrived = loop {
            if let Some(h) = receiver.received()[seen..].iter().find(|h| h.json()["type"] == "monitor.down") {
                break h.at;
            }
            anyhow::ensure!(flipped.elapsed() < Duration::from_secs(30), "no down webhook within 30 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        latencies.push((arrived - flipped).as_secs_f64() * 1000.0);
        target.set_status(200);
    }
    stack.stop().await;
    latencies.sort_by(f64::total_cmp);
    Ok(vec![
        (
            format!("alert, idle: flip → webhook p50 / p99 / max ({rounds} rounds)"),
            format!("{} ms", p50_p99_max(&latencies)),
        ),
        ("alert: bound interval × failure_threshold + 500 ms".into(), "2,500 ms".into()),
    ])
}

/// What a throughput run measured, for the ratios against Vigil.
struct Throughput {
    rows: Rows,
    checks_per_second: f64,
    /// CPU ms per 1,000 checks of the monitoring worker(s) together.
    worker_cpu_ms: f64,
    /// CPU ms per 1,000 checks of every component, Redis and Postgres (not the target).
    pipeline_cpu_ms: f64,
    /// Peak RSS of the largest monitoring worker, MiB.
    worker_rss_mib: f64,
}

/// Sustained checks per second and schedule lag with `monitors` monitors at a 1 s interval, and
/// each component's cost; with `flip`, alert latency under that load.
async fn throughput(a: &Args, monitors: usize, replicas: usize, flip: usize) -> anyhow::Result<Throughput> {
    let env = TestEnv::with_env(&a.overrides()).await;
    let target = FlipTarget::start().await;
    let owner = user(&env).await;
    let mut redis = env.redis.clone();
    let (mem_empty, _) = redis_info(&mut redis).await?;
    let specs: Vec<ProbeSpec> = (0..monitors).map(|_| spec(&target.url)).collect();
    insert_monitors(&env, owner, &specs).await?;
    let flip_target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let mut flip_specs = Vec::new();
    for _ in 0..flip {
        let s = spec(&flip_target.url);
        monitor(&env, owner, &s).await;
        webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
        flip_specs.push(s);
    }
    let all: Vec<ProbeSpec> = specs.iter().chain(&flip_specs).cloned().collect();
    schedule_random_phases(&env, &all, now_ms() + 1_000 + (monitors / 20) as i64).await?;
    let (mem_scheduled, _) = redis_info(&mut redis).await?;
    let mut stack = Stack::start(&env, replicas).await?;

    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    for c in &mut stack.components {
        c.ensure_running()?;
        c.mark();
    }
    let (_, redis_cpu0) = redis_info(&mut redis).await?;
    let pg_cpu0 = postgres_cpu(&env).await?;
    let own0 = procs::own_cpu_seconds();
    let from = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let until = OffsetDateTime::now_utc();
    let cpu: Vec<(String, f64, f64)> =
        stack.components.iter().map(|c| (c.label.clone(), c.cpu_since_mark(), c.peak_rss_mib())).collect();
    let (mem_running, redis_cpu1) = redis_info(&mut redis).await?;
    let pg_cpu = match (pg_cpu0, postgres_cpu(&env).await?) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let own = procs::own_cpu_seconds() - own0;

    // Alert latency under the same load: flip every flip monitor's target at once.
    let mut alert_rows = Vec::new();
    if flip > 0 {
        let wanted: HashSet<String> = flip_specs.iter().map(|s| s.monitor_id.to_string()).collect();
        let up_deadline = Instant::now() + Duration::from_secs(30);
        let flip_ids: Vec<Uuid> = flip_specs.iter().map(|s| s.monitor_id).collect();
        let db = env.db().await;
        while db
            .query_one(
                "SELECT count(*) FROM monitor_state WHERE status = 'up' AND monitor_id = ANY($1)",
                &[&flip_ids],
            )
            .await?
            .get::<_, i64>(0)
            < flip as i64
            && Instant::now() < up_deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = receiver.received().len();
        let flipped = Instant::now();
        flip_target.set_status(500);
        let mut first: HashMap<String, Instant> = HashMap::new();
        while first.len() < wanted.len() && flipped.elapsed() < Duration::from_secs(60) {
            for h in &receiver.received()[seen..] {
                let body = h.json();
                if body["type"] == "monitor.down"
                    && let Some(id) = body["monitor"]["id"].as_str()
                    && wanted.contains(id)
                {
                    first.entry(id.to_string()).or_insert(h.at);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut lat: Vec<f64> = first.values().map(|at| (*at - flipped).as_secs_f64() * 1000.0).collect();
        lat.sort_by(f64::total_cmp);
        alert_rows.push((
            format!("alert under load: {flip} targets flipped, webhooks received"),
            format!("{} of {flip}", lat.len()),
        ));
        alert_rows.push((
            "alert under load: flip → webhook p50 / p99 / max".into(),
            format!("{} ms (bound 2,500 ms)", p50_p99_max(&lat)),
        ));
    }
    for c in &mut stack.components {
        c.ensure_running()?;
    }
    stack.stop().await;

    let db = env.db().await;
    let row = db
        .query_one(
            "SELECT count(*), \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM checked_at - due_at) * 1000), \
               percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM checked_at - due_at) * 1000), \
               max(extract(epoch FROM checked_at - due_at) * 1000)::float8, \
               count(*) FILTER (WHERE status = 'down') \
             FROM check_results WHERE checked_at >= $1 AND checked_at < $2",
            &[&from, &until],
        )
        .await?;
    let checks: i64 = row.get(0);
    let secs = (until - from).as_seconds_f64();
    let rate = checks as f64 / secs;
    let per_k = |cpu_s: f64| cpu_s * 1_000_000.0 / checks.max(1) as f64;
    let lag = |i: usize| row.get::<_, Option<f64>>(i).unwrap_or(f64::NAN);
    let mut label = format!(
        "{} monitors, {replicas} monitoring replica{}",
        thousands(monitors as f64),
        if replicas == 1 { "" } else { "s" }
    );
    for (k, v) in &a.sets {
        label.push_str(&format!(", {k}={v}"));
    }
    let mut rows: Rows = vec![
        (
            format!("{label}: checks stored per second"),
            format!(
                "{} (offered {}; {} failed)",
                thousands(rate),
                thousands((monitors + flip) as f64),
                row.get::<_, i64>(4)
            ),
        ),
        (
            format!("{label}: schedule lag p50 / p99 / max"),
            format!("{} / {} / {} ms", thousands(lag(1)), thousands(lag(2)), thousands(lag(3))),
        ),
    ];
    let worker_cpu: f64 =
        cpu.iter().filter(|(l, ..)| l.starts_with("worker-monitoring")).map(|(_, c, _)| c).sum();
    let worker_rss =
        cpu.iter().filter(|(l, ..)| l.starts_with("worker-monitoring")).map(|(.., r)| *r).fold(0.0, f64::max);
    let mut pipeline = 0.0;
    let mut split = Vec::new();
    for (l, c, r) in &cpu {
        pipeline += c;
        split.push(format!("{l} {:.1} ms / {r:.1} MiB", per_k(*c)));
    }
    let redis_cpu = redis_cpu1 - redis_cpu0;
    pipeline += redis_cpu;
    split.push(format!("Redis {:.1} ms", per_k(redis_cpu)));
    if let Some(pg) = pg_cpu {
        pipeline += pg;
        split.push(format!("Postgres {:.1} ms", per_k(pg)));
    }
    rows.push((format!("{label}: CPU ms per 1,000 checks / peak RSS"), split.join("; ")));
    rows.push((
        format!("{label}: CPU ms per 1,000 checks, whole pipeline (target excluded)"),
        format!("{:.1} ms (bench + target {:.1} ms)", per_k(pipeline), per_k(own)),
    ));
    rows.push((
        format!("{label}: Redis used memory per monitor"),
        format!(
            "{:.0} B scheduled, {:.0} B running (streams included)",
            (mem_scheduled - mem_empty) / all.len() as f64,
            (mem_running - mem_empty) / all.len() as f64
        ),
    ));
    rows.extend(alert_rows);
    Ok(Throughput {
        rows,
        checks_per_second: rate,
        worker_cpu_ms: per_k(worker_cpu),
        pipeline_cpu_ms: per_k(pipeline),
        worker_rss_mib: worker_rss,
    })
}

/// Streams `rows` rows of checks for `monitor_ids` (round robin, one a second going back from
/// now, 1 % down) into `check_results` with `COPY … FROM STDIN`; returns rows per second.
async fn copy_checks(env: &TestEnv, monitor_ids: &[Uuid], rows: u64) -> anyhow::Result<f64> {
    let db = env.db().await;
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
    anyhow::ensure!(written == rows, "COPY wrote {written} rows, not {rows}");
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// Splits a `redis://[user:password@]host:port` URL for redis-benchmark.
fn redis_endpoint() -> anyhow::Result<(String, u16, Option<String>)> {
    let raw = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let url = url::Url::parse(&raw).context("REDIS_URL")?;
    anyhow::ensure!(url.scheme() == "redis", "the XADD ceiling needs a plain redis:// URL");
    Ok((
        url.host_str().unwrap_or("127.0.0.1").to_string(),
        url.port().unwrap_or(6379),
        url.password().map(str::to_string),
    ))
}

/// The machine's ceilings: the target's raw rate, Redis XADD, Postgres COPY.
async fn ceilings(a: &Args) -> anyhow::Result<(Rows, f64)> {
    let mut rows = Rows::new();
    let target = FlipTarget::start().await;
    let url = target.url.clone();
    let secs = a.seconds.min(10);
    let probe = tokio::task::spawn_blocking(move || tools::wrk(&url, 1, 64, secs, None)).await??;
    rows.push((
        "ceiling: target under wrk (1 thread, 64 keep-alive connections)".into(),
        format!(
            "{} req/s, p50 {:.2} ms, p99 {:.2} ms",
            thousands(probe.requests_per_second),
            probe.p50_ms,
            probe.p99_ms
        ),
    ));
    target.stop().await;

    let (host, port, password) = redis_endpoint()?;
    let key = format!("bench:{}:xadd", Uuid::new_v4().simple());
    let job = "x".repeat(400); // about the size of a job entry (the spec as JSON)
    let xadd = ["XADD", key.as_str(), "MAXLEN", "~", "100000", "*", "job", job.as_str()];
    for pipeline in [1, 16] {
        let (h, pw, cmd) =
            (host.clone(), password.clone(), xadd.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let rate = tokio::task::spawn_blocking(move || {
            let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
            tools::redis_benchmark(&h, port, pw.as_deref(), 300_000, pipeline, &cmd)
        })
        .await??;
        rows.push((
            format!("ceiling: redis-benchmark XADD (400 B entry, 50 clients, pipeline {pipeline})"),
            format!("{} entries/s", thousands(rate)),
        ));
    }
    let env = TestEnv::with_env(PRODUCTION_TIMINGS).await;
    let mut conn = env.redis.clone();
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await?;
    let owner = user(&env).await;
    let specs: Vec<ProbeSpec> = (0..100).map(|_| spec("http://127.0.0.1:9/")).collect();
    insert_monitors(&env, owner, &specs).await?;
    let ids: Vec<Uuid> = specs.iter().map(|s| s.monitor_id).collect();
    let copy = copy_checks(&env, &ids, 1_000_000).await?;
    rows.push((
        "ceiling: Postgres COPY into check_results (1,000,000 rows, with its indexes)".into(),
        format!("{} rows/s", thousands(copy)),
    ));
    Ok((rows, probe.requests_per_second))
}

/// API read latency over `--checks` stored checks.
async fn api(a: &Args) -> anyhow::Result<Rows> {
    let env = TestEnv::with_env(&a.overrides()).await;
    let stack = Stack::start(&env, 1).await?;
    let client = reqwest::Client::new();
    let creds = serde_json::json!({"email": "bench@example.com", "password": "bench-password"});
    let post = |path: &str| {
        let request = client.post(format!("{}{path}", stack.api_url)).json(&creds);
        async move { anyhow::Ok(request.send().await?.error_for_status()?.json::<serde_json::Value>().await?) }
    };
    let signup = post("/api/v1/auth/signup").await?;
    let owner: Uuid = signup["id"].as_str().context("signup returned no id")?.parse()?;
    let tokens = post("/api/v1/auth/login").await?;
    let token = tokens["access_token"].as_str().context("login returned no access_token")?.to_string();
    // Monitors that are never scheduled: the API reads what is stored, no worker adds to it.
    let specs: Vec<ProbeSpec> = (0..a.api_monitors).map(|_| spec("http://127.0.0.1:9/")).collect();
    insert_monitors(&env, owner, &specs).await?;
    let ids: Vec<Uuid> = specs.iter().map(|s| s.monitor_id).collect();
    let copy = copy_checks(&env, &ids, a.checks).await?;
    env.db().await.batch_execute("VACUUM ANALYZE check_results").await?;
    let mut rows = vec![(
        "API: stored checks (COPY rate while loading them)".to_string(),
        format!(
            "{} over {} monitors ({} rows/s)",
            thousands(a.checks as f64),
            a.api_monitors,
            thousands(copy)
        ),
    )];
    let header = format!("Authorization: Bearer {token}");
    let id = ids[0];
    let per_monitor = a.checks / a.api_monitors as u64;
    for (what, path) in [
        ("GET /api/v1/monitors/{id}".to_string(), format!("/api/v1/monitors/{id}")),
        (format!("GET /api/v1/monitors (first page of {})", a.api_monitors), "/api/v1/monitors".to_string()),
        (
            format!("GET /api/v1/monitors/{{id}}/stats (24 h of {} stored)", thousands(per_monitor as f64)),
            format!("/api/v1/monitors/{id}/stats"),
        ),
    ] {
        let (url, h, secs) = (format!("{}{path}", stack.api_url), header.clone(), a.seconds.min(15));
        for connections in [4, 32] {
            let (url, h) = (url.clone(), h.clone());
            let r = tokio::task::spawn_blocking(move || tools::wrk(&url, 1, connections, secs, Some(&h)))
                .await??;
            anyhow::ensure!(r.non_2xx == 0, "{what}: {} responses were not 2xx", r.non_2xx);
            rows.push((
                format!("API: {what}, {connections} connections"),
                format!(
                    "{} req/s, p50 {:.2} ms, p99 {:.2} ms",
                    thousands(r.requests_per_second),
                    r.p50_ms,
                    r.p99_ms
                ),
            ));
        }
    }
    stack.stop().await;
    Ok(rows)
}

/// What a Vigil run measured.
struct Vigil {
    rows: Rows,
    checks_per_second: f64,
    cpu_ms: f64,
    rss_mib: f64,
}

/// Vigil (`cargo install vigil-server`) with `monitors` HTTP probes against a local target, set
/// up as issue #4 asks: `poll_interval = 1`, `poll_retry = 0`, `poll_retry_wait = 0`,
/// `poll_parallelism = 64`. Its checks are counted at the target.
async fn vigil(a: &Args, monitors: usize) -> anyhow::Result<Vigil> {
    let bin = std::env::var("VIGIL_BIN").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/vigil")
    });
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: `cargo install vigil-server` (or set VIGIL_BIN)",
        bin.display()
    );
    let target = FlipTarget::start().await;
    let dir = tempfile::tempdir()?;
    let assets = vigil_assets()?;
    let mut cfg = format!(
        "[server]\nlog_level = \"error\"\ninet = \"127.0.0.1:{port}\"\nworkers = 1\nmanager_token = \"bench\"\nreporter_token = \"bench\"\n\n\
         [assets]\npath = \"{assets}\"\n\n\
         [branding]\npage_title = \"bench\"\npage_url = \"http://127.0.0.1/\"\ncompany_name = \"bench\"\nicon_color = \"#000000\"\n\
         icon_url = \"http://127.0.0.1/i.png\"\nlogo_color = \"#000000\"\nlogo_url = \"http://127.0.0.1/l.svg\"\n\
         website_url = \"http://127.0.0.1/\"\nsupport_url = \"mailto:bench@example.com\"\ncustom_html = \"\"\n\n\
         [metrics]\npoll_interval = 1\npoll_retry = 0\npoll_retry_wait = 0\npoll_http_status_healthy_above = 200\n\
         poll_http_status_healthy_below = 400\npoll_delay_dead = 10\npoll_delay_sick = 5\npoll_parallelism = 64\n\
         push_delay_dead = 20\npush_system_cpu_sick_above = 0.9\npush_system_ram_sick_above = 0.9\n\
         script_interval = 300\nscript_parallelism = 2\nlocal_delay_dead = 40\n\n\
         [plugins]\n\n[notify]\nstartup_notification = false\nreminder_interval = 300\n\n\
         [probe]\n\n[[probe.service]]\nid = \"bench\"\nlabel = \"bench\"\n\n\
         [[probe.service.node]]\nid = \"target\"\nlabel = \"target\"\nmode = \"poll\"\nreplicas = [\n",
        port = free_port()?,
        assets = assets.display(),
    );
    for i in 0..monitors {
        cfg.push_str(&format!("  \"{}r{i}\",\n", target.url));
    }
    cfg.push_str("]\n");
    let path = dir.path().join("vigil.cfg");
    std::fs::write(&path, cfg)?;
    let vars: HashMap<String, String> = HashMap::new();
    let mut peer = Component::spawn("vigil", &bin, &["-c", path.to_str().context("path")?], &vars)?;
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    peer.ensure_running()?;
    peer.mark();
    let hits0 = target.hits();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let checks = target.hits() - hits0;
    let secs = started.elapsed().as_secs_f64();
    let cpu = peer.cpu_since_mark();
    let rss = peer.peak_rss_mib();
    peer.ensure_running()?;
    tokio::task::spawn_blocking(move || peer.stop()).await?;
    let rate = checks as f64 / secs;
    let cpu_ms = cpu * 1_000_000.0 / checks.max(1) as f64;
    Ok(Vigil {
        rows: vec![(
            format!(
                "Vigil, {} probes: checks per second / CPU ms per 1,000 / peak RSS",
                thousands(monitors as f64)
            ),
            format!("{} / {cpu_ms:.1} ms / {rss:.1} MiB", thousands(rate)),
        )],
        checks_per_second: rate,
        cpu_ms,
        rss_mib: rss,
    })
}

/// Vigil's `res/assets` from the installed crate's sources in Cargo's registry.
fn vigil_assets() -> anyhow::Result<std::path::PathBuf> {
    let home = std::path::PathBuf::from(
        std::env::var("CARGO_HOME")
            .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default())),
    );
    for registry in std::fs::read_dir(home.join("registry/src"))?.flatten() {
        let mut found: Vec<_> = std::fs::read_dir(registry.path())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vigil-server-"))
            })
            .collect();
        found.sort();
        if let Some(dir) = found.pop() {
            return Ok(dir.join("res/assets"));
        }
    }
    bail!("vigil-server's sources are not in {}/registry/src", home.display())
}

fn ratio_rows(up: &Throughput, v: &Vigil, monitors: usize, tag: &str) -> Rows {
    let at = format!("Upcheck{tag} ÷ Vigil at {} monitors", thousands(monitors as f64));
    vec![
        (format!("{at}: checks per second"), format!("{:.2}", up.checks_per_second / v.checks_per_second)),
        (
            format!("{at}: monitoring worker CPU per check (target ≤ 1.5)"),
            format!("{:.2}", up.worker_cpu_ms / v.cpu_ms),
        ),
        (
            format!("{at}: whole pipeline CPU per check (target ≤ 4)"),
            format!("{:.2}", up.pipeline_cpu_ms / v.cpu_ms),
        ),
        (
            format!("{at}: peak RSS, worker ÷ Vigil (target < 1)"),
            format!("{:.2}", up.worker_rss_mib / v.rss_mib),
        ),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    upcheck_config::install_crypto_provider();
    let a = parse_args()?;
    let mut rows = vec![("machine".to_string(), machine())];
    let print = |rows: &Rows| {
        let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        println!("\n| {:width$} | value |\n|{}|-------|", "measure", "-".repeat(width + 2));
        for (k, v) in rows {
            println!("| {k:width$} | {v} |");
        }
    };
    match a.scenario.as_str() {
        "alert" => rows.extend(alert(&a).await?),
        "throughput" => rows.extend(throughput(&a, a.monitors, a.replicas, a.flip).await?.rows),
        "ceilings" => rows.extend(ceilings(&a).await?.0),
        "api" => rows.extend(api(&a).await?),
        "vigil" => rows.extend(vigil(&a, a.monitors).await?.rows),
        _ => {
            let (ceiling_rows, probe_ceiling) = ceilings(&a).await?;
            rows.extend(ceiling_rows);
            let one = throughput(&a, a.monitors, 1, 0).await?;
            rows.extend(one.rows.clone());
            let two = throughput(&a, a.monitors, 2, 0).await?;
            rows.extend(two.rows.clone());
            // Vigil's parallelism: as many probes in flight as Vigil's 64 threads.
            let mut matched = a.clone();
            matched.sets.push(("MONITORING_CONCURRENCY".into(), "64".into()));
            let one_matched = throughput(&matched, a.monitors, 1, 0).await?;
            rows.extend(one_matched.rows.clone());
            // Every monitor's first check is a pending → up transition: warm up past them.
            let mut big_args = a.clone();
            big_args.warmup = a.warmup.max((a.big_monitors / 2_500) as u64);
            let big = throughput(&big_args, a.big_monitors, 1, 0).await?;
            rows.extend(big.rows.clone());
            let capacity = one.checks_per_second.max(big.checks_per_second);
            rows.push((
                "pipeline capacity (checks stored per second, best of the runs) ÷ probe ceiling".into(),
                format!(
                    "{} ÷ {} = {:.0} %",
                    thousands(capacity),
                    thousands(probe_ceiling),
                    capacity * 100.0 / probe_ceiling
                ),
            ));
            let flip = if a.flip > 0 { a.flip } else { 100 };
            let load = (capacity * a.load_percent as f64 / 100.0) as usize;
            rows.push((
                format!("alert under load: load is {} % of capacity", a.load_percent),
                format!("{} monitors × 1 s", thousands(load as f64)),
            ));
            rows.extend(throughput(&a, load.saturating_sub(flip).max(1), 1, flip).await?.rows);
            for (up, up_matched, monitors) in
                [(&one, Some(&one_matched), a.monitors), (&big, None, a.big_monitors)]
            {
                let peer = vigil(&a, monitors).await?;
                rows.extend(peer.rows.clone());
                rows.extend(ratio_rows(up, &peer, monitors, ""));
                if let Some(m) = up_matched {
                    rows.extend(ratio_rows(m, &peer, monitors, ", MONITORING_CONCURRENCY=64"));
                }
            }
            rows.extend(api(&a).await?);
        }
    }
    print(&rows);
    Ok(())
}
