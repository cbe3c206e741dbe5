//! `ceilings`: what this machine gives the pipeline at most: the probe target's raw rate
//! under `wrk`, `redis-benchmark` XADD, and Postgres `COPY` into `check_results`.

use crate::cli::CeilingsArgs;
use crate::report::{Rows, thousands};
use crate::stack::{copy_checks, insert_monitors, production_timings};
use crate::tools;
use anyhow::Context;
use upcheck_domain::ProbeSpec;
use upcheck_testkit::fixtures::{spec, user};
use upcheck_testkit::{FlipTarget, TestEnv};
use uuid::Uuid;

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
pub(crate) async fn run(a: &CeilingsArgs) -> anyhow::Result<(Rows, f64)> {
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
    let env = TestEnv::with_env(&production_timings()).await;
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
