//! `chaos`: 1,000 checks/s (`--stable` + `--flipping` monitors at 1 s) while a random worker is
//! SIGKILLed and restarted every `--kill-every-seconds`, Redis is killed and restarted once (from
//! its AOF, or `--redis-restart empty`) and Postgres is stopped `immediate` and started once, on
//! servers of the scenario's own. The flipping monitors' targets fail on a seeded schedule of
//! outages and blips; after `--settle-seconds` the incidents, status events and webhooks are
//! compared with it (BENCHMARKS.md describes the measures).

mod faults;
mod plan;
mod records;
mod truth;

use crate::cli::{ChaosArgs, RedisRestart};
use crate::procs::free_port;
use crate::report::{Rows, thousands};
use crate::stack::{insert_monitors, schedule_random_phases};
use crate::stats::{now_ms, p50_p99_max};
use anyhow::Context;
use faults::{Procs, Servers};
use plan::{Plan, SplitMix64};
use records::{Records, deliveries};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upcheck_domain::ProbeSpec;
use upcheck_testkit::fixtures::{monitor, spec, user, webhook_channel};
use upcheck_testkit::{FlipTarget, ScriptedTarget, TestEnv, WebhookReceiver};
use uuid::Uuid;

/// The detection bound the issue sets: interval × failure_threshold + 1.5 s.
const DETECTION_BOUND_MS: f64 = 3_500.0;

/// A fault the loop injects once, at a fraction of the window.
struct Once {
    at_ms: u64,
    task: Option<tokio::task::JoinHandle<anyhow::Result<Duration>>>,
    took: Option<Duration>,
}

pub(crate) async fn run(a: &ChaosArgs) -> anyhow::Result<Rows> {
    let seed = a.seed.unwrap_or_else(|| Uuid::new_v4().as_u128() as u64 % 1_000_000_000);
    let window_ms = a.minutes * 60_000;
    let plan = Arc::new(Plan::generate(seed, a.flipping as usize, window_ms));
    let logs = PathBuf::from(format!("/tmp/upcheck-chaos-{seed}-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    eprintln!(
        "chaos: seed {seed}; {} outages and {} blips over {} flipping monitors; logs in {}",
        plan.outages(),
        plan.blips(),
        a.flipping,
        logs.display()
    );
    let servers = {
        let logs = logs.clone();
        tokio::task::spawn_blocking(move || Servers::start(&logs)).await??
    };
    // The seeded plan flips each monitor every few seconds and expects an alert per outage:
    // flapping detection would rightly fold those into one alert, so it is set out of reach.
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), servers.pg.url("postgres")),
        ("REDIS_URL".into(), servers.redis_url()),
        ("FLAPPING_THRESHOLD".into(), "1000".into()),
    ];
    vars.extend(a.overrides.vars().into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let env = TestEnv::with_env(&overrides).await;

    // The targets: stable ones answer 200; flipping monitor i probes `/m/i`, which fails while
    // the plan says so, counted from the window's start (healthy before it).
    let start: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let (clock, script) = (start.clone(), plan.clone());
    let scripted = ScriptedTarget::start(move |path| {
        let (Some(t0), Some(i)) = (clock.get(), path.strip_prefix("/m/").and_then(|i| i.parse().ok())) else {
            return 200;
        };
        script.status(i, t0.elapsed().as_millis() as u64)
    })
    .await;
    let stable_target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let stable_specs: Vec<ProbeSpec> = (0..a.stable).map(|_| spec(&stable_target.url)).collect();
    insert_monitors(&env, owner, &stable_specs).await?;
    for s in &stable_specs {
        webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
    }
    let mut flipping = Vec::new();
    for i in 0..a.flipping {
        let s = spec(&format!("{}m/{i}", scripted.url));
        monitor(&env, owner, &s).await;
        webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
        flipping.push(s);
    }
    let all: Vec<ProbeSpec> = stable_specs.iter().chain(&flipping).cloned().collect();
    write_plan(&logs.join("plan.txt"), &plan, &flipping)?;
    schedule_random_phases(&env, &all, now_ms() + 1_000).await?;
    let mut procs = Procs::start(&env.vars, a.replicas, free_port()?, &logs, "info")?;
    wait_all_up(&env, &mut procs, all.len()).await?;

    // The window.
    let t0 = Instant::now();
    let _ = start.set(t0);
    let t0_wall = OffsetDateTime::now_utc();
    let servers = Arc::new(Mutex::new(servers));
    let mut redis = Once { at_ms: window_ms / 3, task: None, took: None };
    let mut postgres = Once { at_ms: window_ms * 2 / 3, task: None, took: None };
    eprintln!(
        "chaos: window of {} min started; Redis restart ({:?}) at +{} s, Postgres immediate stop at +{} s",
        a.minutes,
        a.redis_restart,
        redis.at_ms / 1_000,
        postgres.at_ms / 1_000
    );
    let mut rng = SplitMix64(seed ^ 0xC4A0_5EED);
    let kill_every = a.kill_every_seconds * 1_000;
    let mut next_kill = if kill_every == 0 { u64::MAX } else { kill_every };
    let mut kills = 0usize;
    let mut stalled = false;
    let elapsed_ms = || t0.elapsed().as_millis() as u64;
    let stamp = |ms: u64| format!("+{:.1} s", ms as f64 / 1_000.0);
    while elapsed_ms() < window_ms {
        let now = elapsed_ms();
        procs.revive(&stamp(now))?;
        if now >= next_kill && !stalled {
            next_kill = (next_kill + kill_every).max(now + kill_every / 2);
            let n = rng.between((0, procs.workers() as u64 - 1)) as usize;
            let label = procs.kill_worker(n, &stamp(now))?;
            kills += 1;
            fault_log(&logs, &format!("{} SIGKILL {label}", stamp(now)));
        }
        let stall = a.stall_before_redis_ms;
        if stall > 0 && !stalled && redis.took.is_none() && now + stall >= redis.at_ms {
            stalled = true;
            procs.signal_consumers("STOP");
            fault_log(&logs, &format!("{} SIGSTOP status-change and notification workers", stamp(now)));
        }
        if stalled && redis.took.is_some() {
            stalled = false;
            procs.signal_consumers("CONT");
            fault_log(&logs, &format!("{} SIGCONT status-change and notification workers", stamp(now)));
        }
        if now >= redis.at_ms && redis.task.is_none() && redis.took.is_none() {
            let (s, mode) = (servers.clone(), a.redis_restart);
            fault_log(&logs, &format!("{} Redis killed, restarting ({mode:?})", stamp(now)));
            redis.task = Some(tokio::task::spawn_blocking(move || lock(&s).restart_redis(mode)));
        }
        if now >= postgres.at_ms && postgres.task.is_none() && postgres.took.is_none() {
            let s = servers.clone();
            fault_log(&logs, &format!("{} Postgres stop -m immediate, restarting", stamp(now)));
            postgres.task = Some(tokio::task::spawn_blocking(move || lock(&s).restart_postgres()));
        }
        for f in [&mut redis, &mut postgres] {
            if f.took.is_none() && f.task.as_ref().is_some_and(|t| t.is_finished()) {
                f.took = Some(f.task.take().context("task")?.await??);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t_end_wall = OffsetDateTime::now_utc();
    for f in [&mut redis, &mut postgres] {
        if let Some(task) = f.task.take() {
            f.took = Some(task.await??);
        }
    }
    eprintln!("chaos: window over; settling for {} s", a.settle_seconds);
    let settle_until = Instant::now() + Duration::from_secs(a.settle_seconds);
    while Instant::now() < settle_until {
        procs.revive(&stamp(elapsed_ms()))?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The records.
    let stable: HashSet<Uuid> = stable_specs.iter().map(|s| s.monitor_id).collect();
    let flipping_ids: Vec<Uuid> = flipping.iter().map(|s| s.monitor_id).collect();
    let records = Records::read(&env, t0_wall, t_end_wall).await?;
    let deliveries = deliveries(&receiver, t0, t0_wall);
    let verdict =
        truth::judge(&plan, &flipping_ids, &stable, &records.incidents, &records.events, &deliveries);
    let deaths = procs.deaths();
    let kills_by =
        procs.kill_counts().iter().map(|(label, n)| format!("{label} {n}")).collect::<Vec<_>>().join(", ");
    tokio::task::spawn_blocking(move || procs.stop()).await?;
    std::fs::write(logs.join("anomalies.txt"), verdict.anomalies.join("\n"))?;
    let series: Vec<String> =
        records.per_second.iter().enumerate().map(|(s, n)| format!("+{s} s {n}")).collect();
    std::fs::write(logs.join("checks-per-second.txt"), series.join("\n"))?;
    for line in verdict.anomalies.iter().take(40) {
        eprintln!("chaos: {line}");
    }
    if verdict.anomalies.len() > 40 {
        eprintln!(
            "chaos: … {} findings in all, in {}/anomalies.txt",
            verdict.anomalies.len(),
            logs.display()
        );
    }
    lock(&servers).keep_postgres_log();
    drop(env);

    let seconds = (t_end_wall - t0_wall).as_seconds_f64();
    let v = &verdict;
    let pct = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 * 100.0 / of as f64 };
    let stall = match a.stall_before_redis_ms {
        0 => String::new(),
        ms => format!(
            "status-change and notification workers stopped {ms} ms before it and until it was back; "
        ),
    };
    let took = |f: &Once| f.took.map_or("did not finish".to_string(), |d| format!("{} ms", d.as_millis()));
    let mut rows: Rows = vec![
        (
            "chaos: run".into(),
            format!(
                "{} min, seed {seed}, {} stable + {} flipping monitors at 1 s (offered {} checks/s), {} monitoring replicas",
                a.minutes,
                thousands(a.stable as f64),
                a.flipping,
                thousands((a.stable + a.flipping as usize) as f64),
                a.replicas
            ),
        ),
        (
            "chaos: schedule".into(),
            format!("{} outages (4–15 s), {} blips (300–600 ms)", plan.outages(), plan.blips()),
        ),
        (
            "chaos: faults".into(),
            format!(
                "{kills} worker SIGKILLs (every {} s: {kills_by}); {stall}Redis SIGKILL + restart {} at +{} s (back in {}); Postgres stop -m immediate + start at +{} s (back in {})",
                a.kill_every_seconds,
                match a.redis_restart {
                    RedisRestart::Aof => "from its AOF",
                    RedisRestart::Empty => "empty",
                },
                redis.at_ms / 1_000,
                took(&redis),
                postgres.at_ms / 1_000,
                took(&postgres)
            ),
        ),
        (
            "chaos: lost transitions (target 0)".into(),
            format!("{} of {}", v.lost_transitions, v.expected_transitions),
        ),
        ("chaos: duplicate incidents (target 0)".into(), v.duplicate_incidents.to_string()),
        (
            "chaos: false incidents, stable / blip / other (target 0)".into(),
            format!(
                "{} / {} / {}",
                v.false_incidents_stable, v.false_incidents_blip, v.false_incidents_other
            ),
        ),
        (
            "chaos: alerts delivered / expected (target all)".into(),
            format!(
                "{} / {} ({:.1} %)",
                v.alerts_delivered,
                v.alerts_expected,
                pct(v.alerts_delivered, v.alerts_expected)
            ),
        ),
        (
            "chaos: duplicate deliveries, same webhook-id (target < 0.5 %)".into(),
            format!(
                "{} of {} ({:.2} %)",
                v.duplicate_deliveries,
                v.deliveries,
                pct(v.duplicate_deliveries, v.deliveries)
            ),
        ),
        ("chaos: events under two webhook-ids".into(), v.events_under_two_ids.to_string()),
        ("chaos: alerts matching no outage".into(), v.unexpected_alerts.to_string()),
        (
            "chaos: detection delay p50 / p99 / max (outage start → monitor.down received)".into(),
            format!("{} ms (bound {} ms)", p50_p99_max(&v.detection_ms), thousands(DETECTION_BOUND_MS)),
        ),
        (
            "chaos: recovery delay p50 / p99 / max (outage end → monitor.up received)".into(),
            format!("{} ms", p50_p99_max(&v.recovery_ms)),
        ),
        (
            "chaos: checks stored per second during the window, slowest second".into(),
            format!(
                "{} (offered {}), slowest {}",
                thousands(records.checks as f64 / seconds),
                thousands((a.stable + a.flipping as usize) as f64),
                records.per_second.iter().min().map_or("—".into(), |n| thousands(*n as f64))
            ),
        ),
        (
            "chaos: schedule lag p50 / p99 / max during the window; checks stored twice for one due time"
                .into(),
            format!(
                "{} / {} / {} ms; {}",
                thousands(records.lag_ms[0]),
                thousands(records.lag_ms[1]),
                thousands(records.lag_ms[2]),
                records.double_checks
            ),
        ),
        (
            "chaos: after settling: status events unapplied / notifications not delivered".into(),
            format!("{} / {}", records.unapplied_events, records.undelivered),
        ),
        (
            "chaos: components that exited by themselves".into(),
            if deaths.is_empty() { "none".into() } else { deaths.join("; ") },
        ),
        ("chaos: logs".into(), logs.display().to_string()),
    ];
    rows.retain(|(_, value)| !value.is_empty());
    Ok(rows)
}

/// Waits (at most 120 s) until every monitor's first check has made it `up`.
async fn wait_all_up(env: &TestEnv, procs: &mut Procs, monitors: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        anyhow::ensure!(procs.all_running(), "a component exited during the warm-up: see its log");
        let up: i64 = env
            .db()
            .await
            .query_one("SELECT count(*) FROM monitor_state WHERE status = 'up'", &[])
            .await?
            .get(0);
        if up as usize >= monitors {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "only {up} of {monitors} monitors were up after 120 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The plan, one flipping monitor a line, for reading the logs against.
fn write_plan(path: &Path, plan: &Plan, flipping: &[ProbeSpec]) -> anyhow::Result<()> {
    let mut out = String::new();
    for (s, m) in flipping.iter().zip(&plan.monitors) {
        let spans = |v: &[plan::Span]| {
            v.iter().map(|x| format!("{}..{}", x.start_ms, x.end_ms)).collect::<Vec<_>>().join(" ")
        };
        out.push_str(&format!(
            "{} {} outages [{}] blips [{}]\n",
            s.monitor_id,
            s.url,
            spans(&m.outages),
            spans(&m.blips)
        ));
    }
    Ok(std::fs::write(path, out)?)
}

/// Appends a line to the scenario's own log of faults (`chaos.log`), with the UTC time, to
/// line up with the components' logs.
fn fault_log(logs: &Path, line: &str) {
    use std::io::Write;
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(logs.join("chaos.log")) {
        let _ = writeln!(f, "{now} {line}");
    }
}

fn lock(s: &Mutex<Servers>) -> std::sync::MutexGuard<'_, Servers> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
