//! `status-page`: one published status page of `--page-monitors` monitors over `--checks`
//! stored checks (rolled up as the workers would have), served by one API process of its own (no
//! workers), then `wrk` against what visitors fetch (the HTML page, its JSON, the JSON
//! revalidated with `If-None-Match`, a status badge) at 4 and 32 connections, with the
//! Postgres transactions all those requests cost (the page is built once per API process per
//! `STATUS_PAGE_CACHE_SECONDS`, so they should stay a handful, not one per visit). Then the
//! live feed under load: `--streams` visitors hold the page's event stream open while 32
//! connections fetch the page, a status event is published every `--event-interval-ms`
//! (stored, then published on the live channel as the status-change worker does), and the time
//! from its publication to its arrival on every stream is measured.

use crate::cli::StatusPageArgs;
use crate::report::{Rows, thousands};
use crate::stack::{bench_user, copy_checks, insert_monitors, roll_up_as_workers, start_api};
use crate::stats::percentile;
use crate::tools;
use anyhow::Context;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::live::{LiveMessage, LiveStatus};
use upcheck_domain::{MonitorStatus, ProbeSpec};
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::spec;
use upcheck_testkit::sse::SseReader;
use uuid::Uuid;

/// Status page requests per second and the live feed's latency under load.
pub(crate) async fn run(a: &StatusPageArgs) -> anyhow::Result<Rows> {
    // Every visitor of the bench comes from 127.0.0.1: one address may hold all the streams.
    let overrides = a.overrides.with("EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS", "10000");
    let env = TestEnv::with_env(&overrides.vars()).await;
    // The API alone: no worker's transactions are counted with the page's.
    let (mut api, api_url) = start_api(&env).await?;
    let client = reqwest::Client::new();
    let (token, owner) = bench_user(&client, &api_url, "status-page@example.com").await?;
    // Monitors that are never scheduled: the page shows what is stored.
    let specs: Vec<ProbeSpec> = (0..a.page_monitors).map(|_| spec("http://127.0.0.1:9/")).collect();
    insert_monitors(&env, owner, &specs).await?;
    let ids: Vec<Uuid> = specs.iter().map(|s| s.monitor_id).collect();
    copy_checks(&env, &ids, a.checks).await?;
    roll_up_as_workers(&env, &ids).await?;
    crate::stack::bulk_connection(&env).await?.batch_execute("VACUUM ANALYZE").await?;
    let monitors: Vec<serde_json::Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| serde_json::json!({"monitor_id": id, "display_name": format!("Service {i}")}))
        .collect();
    let page: serde_json::Value = client
        .post(format!("{}/api/v1/status-pages", api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"slug": "bench", "title": "Bench status", "published": true,
            "sections": [{"name": "Services", "monitors": monitors}]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let badge =
        page["sections"][0]["monitors"][0]["status_badge"].as_str().context("no status badge")?.to_string();
    let base = format!("{}/status/bench", api_url);
    let etag = client
        .get(format!("{base}.json"))
        .send()
        .await?
        .error_for_status()?
        .headers()
        .get("etag")
        .context("the page's JSON has no ETag")?
        .to_str()?
        .to_string();
    let revalidate = format!("If-None-Match: {etag}");
    let mut rows = vec![(
        "status page: the page".to_string(),
        format!(
            "{} monitors, {} stored checks, STATUS_PAGE_CACHE_SECONDS {}",
            a.page_monitors,
            thousands(a.checks as f64),
            env.settings.tunables.status_page_cache_seconds
        ),
    )];
    let secs = a.seconds;
    // What the database does meanwhile without a visitor (autovacuum, statistics), over as long
    // as one target's two runs and the wait for the counts.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let idle_from = transactions(&env).await?;
    tokio::time::sleep(Duration::from_secs(2 * secs + 11)).await;
    let idle = transactions(&env).await? - idle_from - 1;
    for (what, url, header) in [
        ("GET /status/{slug} (HTML)", base.clone(), None),
        ("GET /status/{slug}.json", format!("{base}.json"), None),
        (
            "GET /status/{slug}.json with If-None-Match (304)",
            format!("{base}.json"),
            Some(revalidate.clone()),
        ),
        ("GET /badge/{public_id}/status.svg", format!("{}{badge}", api_url), None),
    ] {
        let before = transactions(&env).await?;
        let mut requests = 0.0;
        for connections in [4, 32] {
            let (url, header) = (url.clone(), header.clone());
            let r = tokio::task::spawn_blocking(move || {
                tools::wrk(&url, 1, connections, secs, header.as_deref())
            })
            .await??;
            anyhow::ensure!(r.non_2xx == 0, "{what}: {} responses were neither 2xx nor 3xx", r.non_2xx);
            requests += r.requests_per_second * secs as f64;
            rows.push((
                format!("status page: {what}, {connections} connections"),
                format!(
                    "{} req/s, p50 {:.2} ms, p99 {:.2} ms",
                    thousands(r.requests_per_second),
                    r.p50_ms,
                    r.p99_ms
                ),
            ));
        }
        // Idle backends report their counts within 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL).
        tokio::time::sleep(Duration::from_secs(11)).await;
        let spent = transactions(&env).await? - before - 1;
        rows.push((
            format!("status page: {what}: Postgres transactions during both runs"),
            format!("{spent} for {} requests (the same time without visitors: {idle})", thousands(requests)),
        ));
    }
    rows.extend(feed_under_load(a, &env, &client, &base, &ids).await?);
    api.ensure_running()?;
    api.kill();
    Ok(rows)
}

/// Transactions committed or rolled back in the scenario's database so far (each counted once
/// its backend reports, see PostgreSQL's `pg_stat_database`).
async fn transactions(env: &TestEnv) -> anyhow::Result<i64> {
    let row = env
        .db()
        .await
        .query_one(
            "SELECT (xact_commit + xact_rollback)::int8 FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The live feed's publish → arrival latency over `--streams` open page streams while 32
/// connections fetch the page.
async fn feed_under_load(
    a: &StatusPageArgs,
    env: &TestEnv,
    client: &reqwest::Client,
    base: &str,
    ids: &[Uuid],
) -> anyhow::Result<Rows> {
    let published: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..a.streams {
        let response = client.get(format!("{base}/events")).send().await?.error_for_status()?;
        let (published, events) = (published.clone(), a.events);
        readers.spawn(async move {
            let mut reader = SseReader::new(response);
            let mut latencies = Vec::with_capacity(events);
            while latencies.len() < events {
                let Some(frame) = reader.next(Duration::from_secs(10)).await else { break };
                if frame.event.as_deref() != Some("status") {
                    continue;
                }
                let arrived = Instant::now();
                let sent = published
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&frame.seq())
                    .copied();
                if let Some(sent) = sent {
                    latencies.push(arrived.duration_since(sent).as_secs_f64() * 1_000.0);
                }
            }
            latencies
        });
    }
    let secs = (a.events as u64 * a.event_interval_ms).div_ceil(1_000) + 2;
    let page = base.to_string();
    let load = tokio::task::spawn_blocking(move || tools::wrk(&page, 1, 32, secs, None));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let db = env.db().await;
    let mut redis = env.redis.clone();
    let channel = upcheck_streams::Keys::new(&env.settings).live_channel();
    for i in 0..a.events {
        let monitor = ids[i % ids.len()];
        let (from, to) = if i % 2 == 0 {
            (MonitorStatus::Up, MonitorStatus::Down)
        } else {
            (MonitorStatus::Down, MonitorStatus::Up)
        };
        let (event_id, at) = (Uuid::now_v7(), OffsetDateTime::now_utc());
        let seq: i64 = db
            .query_one(
                "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, occurred_at, applied_at) \
                 VALUES ($1, $2, $3, $4, true, $5, now()) RETURNING seq",
                &[&event_id, &monitor, &from.as_str(), &to.as_str(), &at],
            )
            .await?
            .get(0);
        let message = LiveMessage::Status(LiveStatus {
            seq,
            event_id,
            owner_id: Uuid::nil(),
            monitor_id: monitor,
            event: upcheck_domain::webhook_type(to).to_string(),
            status: to,
            previous_status: from,
            occurred_at: at,
            incident_id: None,
            incident: None,
        });
        let payload = serde_json::to_string(&message)?;
        published.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(seq, Instant::now());
        let _: i64 = redis::cmd("PUBLISH").arg(&channel).arg(payload).query_async(&mut redis).await?;
        tokio::time::sleep(Duration::from_millis(a.event_interval_ms)).await;
    }
    let mut latencies = Vec::new();
    let mut short = 0;
    while let Some(got) = readers.join_next().await {
        let got = got?;
        short += usize::from(got.len() < a.events);
        latencies.extend(got);
    }
    let load = load.await??;
    latencies.sort_by(f64::total_cmp);
    let received = latencies.len();
    Ok(vec![
        (
            format!(
                "status page: live feed under load ({} streams, 32 connections fetching the page)",
                a.streams
            ),
            format!(
                "publish → arrival p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} of {} deliveries; {short} streams short)",
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(f64::NAN),
                thousands(received as f64),
                thousands((a.events * a.streams) as f64),
            ),
        ),
        (
            "status page: GET /status/{slug} meanwhile (each event empties the page cache)".to_string(),
            format!(
                "{} req/s, p50 {:.2} ms, p99 {:.2} ms",
                thousands(load.requests_per_second),
                load.p50_ms,
                load.p99_ms
            ),
        ),
    ])
}
