//! `alerting`: deliveries over the eight channel kinds to fake providers on 127.0.0.1.
//! Throughput: `--notifications` notifications made by the pipeline's own store calls, all
//! enqueued, then one notification worker timed until every one is delivered. Latency: probe
//! notifications enqueued one at a time, enqueue → arrival at the provider, first with nothing
//! else running, then while background notifications are fed at `--load-percent` of the
//! measured rate. `--kill` runs [`kill`] instead.

mod fleet;
mod kill;
mod providers;

use crate::cli::AlertingArgs;
use crate::procs::{Component, sibling_binary};
use crate::report::{Rows, thousands};
use crate::stats::percentile;
use fleet::{Fleet, Planned};
use providers::{KINDS, Providers};
use std::time::{Duration, Instant};
use upcheck_domain::NotificationJob;
use upcheck_streams::Producer;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// Length of the loaded latency phase, seconds: its background notifications are all made
/// before it starts, and must be enqueued before the sweep would take them for lost
/// (`RECLAIM_IDLE_MS`, 30 s shipped).
const LOADED_SECONDS: u64 = 15;
/// Probes made at once in the idle phase (each batch is used within seconds, well inside the
/// sweep's idle time).
const PROBE_BATCH: usize = 64;
/// Longest wait for one probe, or for the loaded phase's probes after its window.
const PROBE_DEADLINE: Duration = Duration::from_secs(60);

/// Runs the scenario (or the SIGKILL run with `--kill`).
pub(crate) async fn run(a: &AlertingArgs) -> anyhow::Result<Rows> {
    if a.kill {
        return kill::run(a).await;
    }
    let count = a.notifications.unwrap_or(4_000) as usize;
    let providers = Providers::start(Duration::from_millis(a.provider_delay_ms.unwrap_or(0))).await?;
    let env = environment(a, &providers, &[]).await;
    let conns = upcheck_streams::connect(&env.settings.redis).await?;
    let producer = Producer::new(conns.commands, env.settings.tunables.stream_maxlen);
    let stream = env.settings.streams.notification.clone();
    let mut fleet = Fleet::new();
    let deadline = Duration::from_secs(a.deadline_seconds);

    // 1. Throughput: every job waiting before the worker starts.
    let planned = fleet.create(&env, &providers, count).await?;
    fleet::enqueue(&producer, &stream, &planned).await?;
    let mut worker = spawn_worker(&env, 1, None)?;
    worker.mark();
    let started = Instant::now();
    loop {
        let (delivered, failed, _) = fleet::states(&env).await?;
        if delivered as usize == count {
            break;
        }
        worker.ensure_running()?;
        anyhow::ensure!(
            failed == 0,
            "{failed} notifications failed; first: {}",
            fleet::first_failure(&env).await?
        );
        anyhow::ensure!(
            started.elapsed() < deadline,
            "{delivered} of {count} delivered after {} s",
            deadline.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_ms = worker.cpu_since_mark() * 1_000.0;
    let rate = count as f64 / seconds;
    let mut rows: Rows = vec![
        (
            format!("alerting: throughput, 1 notification worker ({} kinds mixed equally)", KINDS.len()),
            format!(
                "{} notifications ({} monitors × 8 channels, {} owners) delivered in {seconds:.2} s from start: {} /s per replica",
                thousands(count as f64),
                thousands(fleet.monitors as f64),
                thousands(fleet.owners as f64),
                thousands(rate)
            ),
        ),
        (
            "alerting: notification worker CPU per 1,000 deliveries".into(),
            format!(
                "{:.0} ms ({:.2} CPU s over the run, peak RSS {:.0} MiB)",
                cpu_ms * 1_000.0 / count as f64,
                cpu_ms / 1_000.0,
                worker.peak_rss_mib()
            ),
        ),
    ];
    rows.push(received_row(&providers, &planned));

    // 2. Latency, idle then loaded.
    let probes = a.probes as usize;
    let mut idle = Vec::with_capacity(probes);
    while idle.len() < probes {
        let batch = fleet.create(&env, &providers, PROBE_BATCH.min(probes - idle.len())).await?;
        for p in batch {
            // A random pause, so probes do not line up with the worker's polling.
            tokio::time::sleep(Duration::from_millis((Uuid::new_v4().as_u128() % 20) as u64)).await;
            let sent = Instant::now();
            producer.add(&stream, &NotificationJob { notification_id: p.notification }).await?;
            let at = arrival(&providers, &p, sent, &mut worker).await?;
            idle.push((p.kind, ms(at - sent)));
        }
    }
    rows.extend(latency_rows("idle", &idle));

    let rate_load = rate * a.load_percent as f64 / 100.0;
    let making = Instant::now();
    let background =
        fleet.create(&env, &providers, (rate_load * LOADED_SECONDS as f64).ceil() as usize).await?;
    let loaded_probes = fleet.create(&env, &providers, probes).await?;
    let made_in = making.elapsed();
    let window = Duration::from_secs(LOADED_SECONDS);
    let start = Instant::now();
    let feeder = tokio::spawn(feed(producer.clone(), stream.clone(), background.clone(), rate_load, start));
    let mut sent_at = Vec::with_capacity(probes);
    for (i, p) in loaded_probes.iter().enumerate() {
        tokio::time::sleep_until((start + window.mul_f64(i as f64 / probes as f64)).into()).await;
        let sent = Instant::now();
        producer.add(&stream, &NotificationJob { notification_id: p.notification }).await?;
        sent_at.push(sent);
    }
    let fed = feeder.await??;
    let fed_seconds = start.elapsed().as_secs_f64();
    let (_, _, backlog) = fleet::states(&env).await?;
    let mut loaded = Vec::with_capacity(probes);
    for (p, sent) in loaded_probes.iter().zip(&sent_at) {
        let at = arrival(&providers, p, *sent, &mut worker).await?;
        loaded.push((p.kind, ms(at - *sent)));
    }
    rows.extend(latency_rows(&format!("at {} % load", a.load_percent), &loaded));
    rows.push((
        format!("alerting: background at {} % load", a.load_percent),
        format!(
            "{} notifications fed at {} /s over {fed_seconds:.1} s; {} pending at the window's end",
            thousands(fed as f64),
            thousands(rate_load),
            thousands(backlog as f64)
        ),
    ));
    let reclaim = Duration::from_millis(env.settings.tunables.reclaim_idle_ms);
    if made_in + window >= reclaim {
        rows.push((
            "alerting: WARNING".into(),
            format!(
                "making the background took {:.1} s: with the {LOADED_SECONDS} s window that reaches RECLAIM_IDLE_MS ({} s), so the sweep may have enqueued some early",
                made_in.as_secs_f64(),
                reclaim.as_secs()
            ),
        ));
    }
    let stragglers = wait_delivered(&env, &mut worker, deadline).await?;
    rows.push((
        "alerting: unrecognised requests at the fake providers".into(),
        providers.receptions.unrecognised().to_string(),
    ));
    if stragglers > 0 {
        rows.push(("alerting: notifications not delivered by the deadline".into(), stragglers.to_string()));
    }
    let _ = tokio::task::spawn_blocking(move || worker.stop()).await;
    providers.stop().await;
    Ok(rows)
}

/// The scenario's environment: the shipped timings, the fake providers' settings, `extra`, and
/// the `--set`s last.
async fn environment(a: &AlertingArgs, providers: &Providers, extra: &[(&str, &str)]) -> TestEnv {
    let provider_settings = providers.settings();
    let mut vars: Vec<(&str, &str)> = crate::stack::production_timings();
    vars.extend(provider_settings.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    vars.extend_from_slice(extra);
    vars.extend(a.overrides.sets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    TestEnv::with_env(&vars).await
}

/// Notification worker number `i` (its own consumer name), its output appended to `log` when
/// given, else its stderr to the bench's.
fn spawn_worker(env: &TestEnv, i: usize, log: Option<&std::path::Path>) -> anyhow::Result<Component> {
    let mut vars = env.vars.clone();
    vars.insert("CONSUMER_NAME".into(), format!("bench-notification-{i}"));
    let label = format!("worker-notification #{i}");
    let binary = sibling_binary("upcheck-worker-notification")?;
    match log {
        Some(log) => Component::spawn_logged(&label, &binary, &vars, log, "warn"),
        None => Component::spawn(&label, &binary, &[], &vars),
    }
}

/// Enqueues `background` paced at `per_second` from `start`; returns how many it enqueued.
async fn feed(
    producer: Producer,
    stream: String,
    background: Vec<Planned>,
    per_second: f64,
    start: Instant,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    while sent < background.len() {
        let due = ((start.elapsed().as_secs_f64() * per_second) as usize).min(background.len());
        if due > sent {
            fleet::enqueue(&producer, &stream, &background[sent..due]).await?;
            sent = due;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(sent)
}

/// Waits for probe `p`'s first arrival at its provider, sent at `sent`.
async fn arrival(
    providers: &Providers,
    p: &Planned,
    sent: Instant,
    worker: &mut Component,
) -> anyhow::Result<Instant> {
    loop {
        if let Some(at) = providers.receptions.first(p.n) {
            anyhow::ensure!(at >= sent, "probe {} arrived before it was enqueued (swept?)", p.notification);
            return Ok(at);
        }
        worker.ensure_running()?;
        anyhow::ensure!(
            sent.elapsed() < PROBE_DEADLINE,
            "probe {} ({}) did not arrive within 60 s",
            p.notification,
            KINDS[p.kind]
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until nothing is pending (or `deadline`); returns how many still are.
async fn wait_delivered(env: &TestEnv, worker: &mut Component, deadline: Duration) -> anyhow::Result<i64> {
    let started = Instant::now();
    loop {
        let (_, _, pending) = fleet::states(env).await?;
        if pending == 0 || started.elapsed() > deadline {
            return Ok(pending);
        }
        worker.ensure_running()?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// `p50 / p99 / max` with one decimal.
fn p50_p99_max(sorted: &[f64]) -> String {
    format!(
        "{:.1} / {:.1} / {:.1}",
        percentile(sorted, 0.5),
        percentile(sorted, 0.99),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}

/// Overall and per-kind rows of `(kind, ms)` latencies.
fn latency_rows(phase: &str, latencies: &[(usize, f64)]) -> Rows {
    let mut all: Vec<f64> = latencies.iter().map(|l| l.1).collect();
    all.sort_by(f64::total_cmp);
    let per_kind: Vec<String> = (0..KINDS.len())
        .map(|k| {
            let mut v: Vec<f64> = latencies.iter().filter(|l| l.0 == k).map(|l| l.1).collect();
            v.sort_by(f64::total_cmp);
            format!("{} {:.1}", KINDS[k], percentile(&v, 0.5))
        })
        .collect();
    vec![
        (
            format!("alerting: enqueue → provider, {phase}, p50 / p99 / max ({} probes)", latencies.len()),
            format!("{} ms", p50_p99_max(&all)),
        ),
        (
            format!("alerting: enqueue → provider, {phase}, p50 per kind"),
            format!("{} ms", per_kind.join(", ")),
        ),
    ]
}

/// How many of `planned` each provider received (the throughput run delivers each once).
fn received_row(providers: &Providers, planned: &[Planned]) -> (String, String) {
    let snapshot = providers.receptions.snapshot();
    let per_kind: Vec<String> = (0..KINDS.len())
        .map(|k| {
            let of_kind = planned.iter().filter(|p| p.kind == k);
            let got: usize = of_kind.clone().map(|p| snapshot.get(&p.n).map_or(0, Vec::len)).sum();
            format!("{} {}/{}", KINDS[k], got, of_kind.count())
        })
        .collect();
    ("alerting: throughput run, receptions per kind / notifications".into(), per_kind.join(", "))
}
