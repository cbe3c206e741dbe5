//! `heartbeat`: pings accepted per second by one API process (wrk posting to `--monitors`
//! heartbeat tokens in turn, at 4 and 32 connections; every ping is also stored as a check by
//! the monitoring worker), then the time from a missed deadline to the `down` webhook for
//! `--missed` heartbeats pinged once and left silent.

use crate::cli::HeartbeatArgs;
use crate::report::{Rows, thousands};
use crate::stack::{Stack, insert_monitors};
use crate::stats::{now_ms, p50_p99_max};
use crate::tools;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use upcheck_domain::probe_config::KindConfig;
use upcheck_domain::{MonitorKind, ProbeSpec};
use upcheck_streams::{Keys, Schedule};
use upcheck_testkit::fixtures::{spec, user, webhook_channel};
use upcheck_testkit::{TestEnv, WebhookReceiver};
use uuid::Uuid;

/// Period and grace of the heartbeats left silent, seconds.
const MISSED_PERIOD_SECONDS: u32 = 3;

fn heartbeat(period_seconds: u32) -> ProbeSpec {
    let mut s = spec("heartbeat:");
    s.kind = MonitorKind::Heartbeat;
    s.config = KindConfig::from_json(
        MonitorKind::Heartbeat,
        &serde_json::json!({"period_seconds": period_seconds, "grace_seconds": 0}),
    )
    .expect("a heartbeat config");
    s.interval_seconds = period_seconds;
    s.timeout_ms = 1_000;
    s.failure_threshold = 1;
    s
}

/// Ping throughput and missed deadline → webhook.
pub(crate) async fn run(a: &HeartbeatArgs) -> anyhow::Result<Rows> {
    let env = TestEnv::with_env(&a.overrides.vars()).await;
    let owner = user(&env).await;
    let receiver = WebhookReceiver::start().await;
    let pinged: Vec<ProbeSpec> = (0..a.monitors).map(|_| heartbeat(3_600)).collect();
    let missed: Vec<ProbeSpec> = (0..a.missed).map(|_| heartbeat(MISSED_PERIOD_SECONDS)).collect();
    let all: Vec<ProbeSpec> = pinged.iter().chain(&missed).cloned().collect();
    insert_monitors(&env, owner, &all).await?;
    let ids: Vec<Uuid> = all.iter().map(|s| s.monitor_id).collect();
    let tokens: Vec<String> = ids.iter().map(|_| upcheck_domain::webhook::random_token(24)).collect();
    env.db()
        .await
        .execute(
            "UPDATE monitors m SET heartbeat_token = t.token FROM unnest($1::uuid[], $2::text[]) AS t(id, token) \
             WHERE m.id = t.id",
            &[&ids, &tokens],
        )
        .await?;
    for s in &missed {
        webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
    }
    let conns = upcheck_streams::connect(&env.settings.redis).await?;
    let schedule = Schedule::new(
        conns.commands,
        Keys::new(&env.settings),
        env.settings.tunables.monitoring_stream_maxlen,
    );
    for chunk in all.chunks(1_000) {
        schedule.upsert_many(chunk, now_ms() + 3_600_000, false).await?;
    }
    let stack = Stack::start(&env, 1).await?;

    let dir = tempfile::tempdir()?;
    let script = dir.path().join("ping.lua");
    let list: Vec<String> = tokens[..a.monitors].iter().map(|t| format!("\"{t}\"")).collect();
    std::fs::write(
        &script,
        format!(
            "local tokens = {{{}}}\nlocal i = 0\nrequest = function()\n  i = i % #tokens + 1\n  \
             return wrk.format(\"POST\", \"/api/v1/heartbeat/\" .. tokens[i])\nend\n",
            list.join(",")
        ),
    )?;
    let mut rows = Rows::new();
    for connections in [4, 32] {
        let (url, script, secs) = (format!("{}/", stack.api_url), script.clone(), a.seconds);
        let r = tokio::task::spawn_blocking(move || {
            tools::wrk_script(&url, 1, connections, secs, None, Some(&script))
        })
        .await??;
        rows.push((
            format!(
                "heartbeat pings over {} tokens, {connections} connections, one API process",
                thousands(a.monitors as f64)
            ),
            format!(
                "{} pings/s accepted, p50 {:.2} ms, p99 {:.2} ms ({} not 2xx)",
                thousands(r.requests_per_second),
                r.p50_ms,
                r.p99_ms,
                r.non_2xx
            ),
        ));
    }

    // Missed deadlines: one ping each, then silence; deadline = ping + period (grace 0).
    let client = reqwest::Client::new();
    let mut deadlines: HashMap<String, Instant> = HashMap::new();
    for (s, token) in missed.iter().zip(&tokens[a.monitors..]) {
        let r = client.post(format!("{}/api/v1/heartbeat/{token}", stack.api_url)).send().await?;
        anyhow::ensure!(r.status().is_success(), "ping answered {}", r.status());
        deadlines.insert(
            s.monitor_id.to_string(),
            Instant::now() + Duration::from_secs(u64::from(MISSED_PERIOD_SECONDS)),
        );
    }
    let started = Instant::now();
    let mut late: HashMap<String, f64> = HashMap::new();
    while late.len() < deadlines.len() && started.elapsed() < Duration::from_secs(60) {
        for h in receiver.received() {
            let body = h.json();
            if body["type"] == "monitor.down"
                && let Some(id) = body["monitor"]["id"].as_str()
                && let Some(deadline) = deadlines.get(id)
            {
                late.entry(id.to_string())
                    .or_insert_with(|| h.at.saturating_duration_since(*deadline).as_secs_f64() * 1_000.0);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat: Vec<f64> = late.into_values().collect();
    lat.sort_by(f64::total_cmp);
    rows.push((
        format!("heartbeat: missed deadline → down webhook ({} silent heartbeats, period {MISSED_PERIOD_SECONDS} s)", a.missed),
        format!("{} of {} webhooks, p50 / p99 / max {} ms", lat.len(), a.missed, p50_p99_max(&lat)),
    ));
    stack.stop().await;
    Ok(rows)
}
