//! `api`: `--checks` stored checks over `--api-monitors` monitors, then `wrk` against a single
//! monitor, the monitor list and a monitor's `/stats`, at 4 and 32 connections.

use crate::cli::ApiArgs;
use crate::report::{Rows, thousands};
use crate::stack::{Stack, copy_checks, insert_monitors};
use crate::tools;
use anyhow::Context;
use upcheck_domain::ProbeSpec;
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::spec;
use uuid::Uuid;

/// API read latency over `--checks` stored checks.
pub(crate) async fn run(a: &ApiArgs) -> anyhow::Result<Rows> {
    let env = TestEnv::with_env(&a.overrides.vars()).await;
    let stack = Stack::start(&env, 1).await?;
    let client = reqwest::Client::new();
    let creds = serde_json::json!({"email": "bench@example.com", "password": "bench-password"});
    let post = |path: &str| {
        let request = client.post(format!("{}{path}", stack.api_url)).json(&creds);
        async move { anyhow::Ok(request.send().await?.error_for_status()?.json::<serde_json::Value>().await?) }
    };
    post("/api/v1/auth/signup").await?;
    let tokens = post("/api/v1/auth/login").await?;
    let token = tokens["access_token"].as_str().context("login returned no access_token")?.to_string();
    let me: serde_json::Value = client
        .get(format!("{}/api/v1/me", stack.api_url))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let owner: Uuid = me["id"].as_str().context("/me returned no id")?.parse()?;
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
    let per_monitor = a.checks / a.api_monitors;
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
