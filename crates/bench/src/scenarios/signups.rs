//! `signups`: a burst of `--signups` sign-ups (all in flight at once, up to `--connections`)
//! at one API process of its own (no workers), then the API's peak resident set (`VmHWM`),
//! the answers by status and the slowest `/healthz` during the burst. With the shipped
//! `PASSWORD_HASH_CONCURRENCY` (cores) the peak should stay far below the 2.6–4.4 GiB an
//! unbounded burst of 300 reached. Rate limits are off (one bench address would be limited).

use crate::cli::SignupsArgs;
use crate::report::{Rows, thousands};
use crate::stack::start_api;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use upcheck_testkit::TestEnv;

/// Peak RSS of the API through a burst of sign-ups.
pub(crate) async fn run(a: &SignupsArgs) -> anyhow::Result<Rows> {
    let overrides = a.overrides.with("RATE_LIMITS_ENABLED", "false");
    let env = TestEnv::with_env(&overrides.vars()).await;
    let (mut api, url) = start_api(&env).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let rss_before = api.peak_rss_mib();

    let limit = Arc::new(tokio::sync::Semaphore::new(a.connections));
    let started = Instant::now();
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..a.signups {
        let (client, url, limit) = (client.clone(), url.clone(), limit.clone());
        burst.spawn(async move {
            let _slot = limit.acquire_owned().await;
            let body =
                serde_json::json!({"email": format!("burst{i}@example.com"), "password": "bench-password"});
            match client.post(format!("{url}/api/v1/auth/signup")).json(&body).send().await {
                Ok(r) => r.status().as_u16().to_string(),
                Err(e) if e.is_connect() => "connect error".to_string(),
                Err(_) => "error".to_string(),
            }
        });
    }
    let (health_client, health_url) = (client.clone(), format!("{url}/healthz"));
    let health = tokio::spawn(async move {
        let mut slowest = Duration::ZERO;
        let mut failed = 0u64;
        for _ in 0..40 {
            let t = Instant::now();
            let ok = tokio::time::timeout(Duration::from_secs(5), health_client.get(&health_url).send())
                .await
                .is_ok_and(|r| r.is_ok_and(|r| r.status().is_success()));
            failed += u64::from(!ok);
            slowest = slowest.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (slowest, failed)
    });
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(status) = burst.join_next().await {
        *by_status.entry(status?).or_default() += 1;
    }
    let took = started.elapsed();
    let (slowest_health, failed_health) = health.await?;
    let peak = api.peak_rss_mib();
    api.ensure_running()?;
    api.kill();

    let answers = by_status.iter().map(|(s, n)| format!("{s}: {}", thousands(*n as f64))).collect::<Vec<_>>();
    Ok(vec![
        (
            format!("signups: API peak RSS through a burst of {} sign-ups", thousands(a.signups as f64)),
            format!("{peak:.0} MiB (before the burst {rss_before:.0} MiB)"),
        ),
        ("signups: answers".to_string(), format!("{} in {:.1} s", answers.join(", "), took.as_secs_f64())),
        (
            "signups: slowest /healthz during the burst".to_string(),
            format!(
                "{:.0} ms ({failed_health} of 40 failed or over 5 s)",
                slowest_health.as_secs_f64() * 1_000.0
            ),
        ),
    ])
}
