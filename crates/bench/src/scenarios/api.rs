//! `api`: `--checks` stored checks over `--api-monitors` monitors, rolled up as the workers
//! would have, then `wrk` against a single monitor, the monitor list and a monitor's `/stats`,
//! at 4 and 32 connections.

use crate::cli::ApiArgs;
use crate::report::{Rows, thousands};
use crate::stack::{Stack, bench_user, copy_checks, insert_monitors, roll_up_as_workers};
use crate::tools;
use upcheck_domain::ProbeSpec;
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::spec;
use uuid::Uuid;

/// API read latency over `--checks` stored checks.
pub(crate) async fn run(a: &ApiArgs) -> anyhow::Result<Rows> {
    let env = TestEnv::with_env(&a.overrides.vars()).await;
    let stack = Stack::start(&env, 1).await?;
    let client = reqwest::Client::new();
    let (token, owner) = bench_user(&client, &stack.api_url, "bench@example.com").await?;
    // Monitors that are never scheduled: the API reads what is stored, no worker adds to it.
    let specs: Vec<ProbeSpec> = (0..a.api_monitors).map(|_| spec("http://127.0.0.1:9/")).collect();
    insert_monitors(&env, owner, &specs).await?;
    let ids: Vec<Uuid> = specs.iter().map(|s| s.monitor_id).collect();
    let copy = copy_checks(&env, &ids, a.checks).await?;
    let rolled = roll_up_as_workers(&env, &ids).await?;
    crate::stack::bulk_connection(&env).await?.batch_execute("VACUUM ANALYZE").await?;
    let mut rows = vec![(
        "API: stored checks (COPY rate while loading them; rolled up as the workers would)".to_string(),
        format!(
            "{} over {} monitors ({} rows/s; rollups {rolled:.1} s)",
            thousands(a.checks as f64),
            a.api_monitors,
            thousands(copy)
        ),
    )];
    let header = format!("Authorization: Bearer {token}");
    let id = ids[0];
    let per_monitor = a.checks / a.api_monitors;
    // The list's page: every monitor, up to the API's largest page (its default is 50).
    let page = a.api_monitors.min(500);
    for (what, path) in [
        ("GET /api/v1/monitors/{id}".to_string(), format!("/api/v1/monitors/{id}")),
        (format!("GET /api/v1/monitors (first page of {page})"), format!("/api/v1/monitors?limit={page}")),
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
