//! `upcheck-bench`: measures Upcheck on this machine and prints one table.
//!
//! Scenarios (all components in-process, on loopback, against the Postgres and Redis at
//! `DATABASE_URL`/`REDIS_URL`, each run in a throwaway database and key prefix):
//! - `alert`: one monitor (interval 1 s, failure threshold 2) with a webhook channel; its
//!   target flips to failing `--rounds` times; reports the time from each flip to the
//!   `monitor.down` webhook's arrival.
//! - `throughput`: `--monitors` monitors at a 1 s interval against one local target; after
//!   `--warmup-seconds`, counts checks stored in Postgres over `--seconds` and reports checks per
//!   second and the schedule lag (stored `checked_at` − due time) p50/p99/max.
//!
//! Usage: `upcheck-bench [alert|throughput|all] [--monitors N] [--seconds S] [--warmup-seconds W] [--rounds R]`.

use anyhow::{Context, bail};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_streams::{Keys, Schedule};
use upcheck_testkit::fixtures::{monitor, spec, user, webhook_channel};
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver};

/// The shipped defaults of the settings `TestEnv` shortens for tests: the bench measures what
/// users run.
const PRODUCTION_TIMINGS: &[(&str, &str)] = &[("SCHEDULER_TICK_MS", "100"), ("CHECK_BATCH_MS", "20")];

struct Args {
    scenario: String,
    monitors: usize,
    seconds: u64,
    warmup: u64,
    rounds: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args { scenario: "all".into(), monitors: 1_000, seconds: 20, warmup: 5, rounds: 10 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            it.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "alert" | "throughput" | "all" => a.scenario = arg,
            "--monitors" => a.monitors = value("--monitors")? as usize,
            "--seconds" => a.seconds = value("--seconds")?,
            "--warmup-seconds" => a.warmup = value("--warmup-seconds")?,
            "--rounds" => a.rounds = value("--rounds")? as usize,
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

struct Workers {
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Workers {
    async fn start(env: &TestEnv, all: bool) -> anyhow::Result<Self> {
        let cancel = CancellationToken::new();
        let mut tasks = Vec::new();
        let m = upcheck_worker_monitoring::start(env.settings.clone(), cancel.clone()).await?;
        tasks.push(tokio::spawn(m.wait()));
        if all {
            let s = upcheck_worker_status_change::start(env.settings.clone(), cancel.clone()).await?;
            tasks.push(tokio::spawn(s.wait()));
            let n = upcheck_worker_notification::start(env.settings.clone(), cancel.clone()).await?;
            tasks.push(tokio::spawn(n.wait()));
        }
        Ok(Self { cancel, tasks })
    }

    async fn stop(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Time from a target flipping to failing until the `monitor.down` webhook arrives, per round.
async fn alert(rounds: usize) -> anyhow::Result<Vec<(String, String)>> {
    let env = TestEnv::with_env(PRODUCTION_TIMINGS).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let s = spec(&target.url);
    monitor(&env, owner, &s).await;
    webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
    let conns = upcheck_streams::connect(&env.settings.redis).await?;
    Schedule::new(conns.commands, Keys::new(&env.settings), 10_000).upsert(&s, now_ms()).await?;
    let workers = Workers::start(&env, true).await?;
    let status = |env: &TestEnv| {
        let pool = env.pool.clone();
        let id = s.monitor_id;
        async move {
            let c = pool.get().await.ok()?;
            c.query_one("SELECT status FROM monitor_state WHERE monitor_id = $1", &[&id])
                .await
                .ok()
                .map(|r| r.get::<_, String>(0))
        }
    };
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        let deadline = Instant::now() + Duration::from_secs(30);
        while status(&env).await.as_deref() != Some("up") {
            anyhow::ensure!(Instant::now() < deadline, "monitor never came up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Flip at a random phase within the check interval.
        tokio::time::sleep(Duration::from_millis(rand_phase())).await;
        let seen = receiver.received().len();
        let flipped = Instant::now();
        target.set_status(500);
        loop {
            let got = receiver.received();
            if got.len() > seen && got[seen..].iter().any(|h| h.json()["type"] == "monitor.down") {
                break;
            }
            anyhow::ensure!(flipped.elapsed() < Duration::from_secs(30), "no down webhook within 30 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(flipped.elapsed().as_secs_f64() * 1000.0);
        target.set_status(200);
    }
    workers.stop().await;
    latencies.sort_by(f64::total_cmp);
    Ok(vec![
        ("alert latency: rounds".into(), rounds.to_string()),
        (
            "alert latency: p50 (target fails → webhook received)".into(),
            format!("{:.0} ms", percentile(&latencies, 0.5)),
        ),
        ("alert latency: p99".into(), format!("{:.0} ms", percentile(&latencies, 0.99))),
        ("alert latency: max".into(), format!("{:.0} ms", latencies.last().copied().unwrap_or(f64::NAN))),
    ])
}

/// A uniformly random delay in 0..1,000 ms, so flips land anywhere in the check interval.
fn rand_phase() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000) as u64
}

/// Sustained checks per second and schedule lag with `monitors` monitors at a 1 s interval.
async fn throughput(monitors: usize, warmup: u64, seconds: u64) -> anyhow::Result<Vec<(String, String)>> {
    let mut overrides = PRODUCTION_TIMINGS.to_vec();
    overrides.push(("DATABASE_POOL_SIZE", "16"));
    let env = TestEnv::with_env(&overrides).await;
    let target = FlipTarget::start().await;
    let owner = user(&env).await;
    let conns = upcheck_streams::connect(&env.settings.redis).await?;
    let schedule =
        Schedule::new(conns.commands, Keys::new(&env.settings), env.settings.tunables.stream_maxlen);
    let mut specs = Vec::with_capacity(monitors);
    for _ in 0..monitors {
        let s = spec(&target.url);
        monitor(&env, owner, &s).await;
        specs.push(s);
    }
    // Random phases within one interval, as monitors created over time would have (a shared
    // phase would line them up with the scheduler's tick and flatter the lag).
    let start = now_ms() + 500;
    for s in &specs {
        let phase = uuid::Uuid::new_v4().as_u128() % 1_000;
        schedule.upsert(s, start + phase as i64).await?;
    }
    let workers = Workers::start(&env, false).await?;
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    let from = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let until = OffsetDateTime::now_utc();
    workers.stop().await;
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
    let offered = monitors as f64;
    Ok(vec![
        (
            "throughput: monitors × interval".into(),
            format!("{monitors} × 1 s (offered {offered:.0} checks/s)"),
        ),
        ("throughput: window".into(), format!("{secs:.1} s after {warmup} s warm-up")),
        ("throughput: checks stored per second".into(), format!("{:.0}", checks as f64 / secs)),
        ("throughput: failed checks in window".into(), row.get::<_, i64>(4).to_string()),
        (
            "schedule lag p50 (checked_at − due)".into(),
            format!("{:.0} ms", row.get::<_, Option<f64>>(1).unwrap_or(f64::NAN)),
        ),
        ("schedule lag p99".into(), format!("{:.0} ms", row.get::<_, Option<f64>>(2).unwrap_or(f64::NAN))),
        ("schedule lag max".into(), format!("{:.0} ms", row.get::<_, Option<f64>>(3).unwrap_or(f64::NAN))),
        ("target requests served".into(), target.hits().to_string()),
    ])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    upcheck_config::install_crypto_provider();
    let args = parse_args()?;
    let mut rows = vec![("machine".to_string(), machine())];
    if matches!(args.scenario.as_str(), "alert" | "all") {
        rows.extend(alert(args.rounds).await?);
    }
    if matches!(args.scenario.as_str(), "throughput" | "all") {
        rows.extend(throughput(args.monitors, args.warmup, args.seconds).await?);
    }
    let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    println!("\n| {:width$} | value |\n|{}|-------|", "measure", "-".repeat(width + 2));
    for (k, v) in rows {
        println!("| {k:width$} | {v} |");
    }
    Ok(())
}
