//! `stats`: `/stats` over long histories. `--stats-monitors` monitors with `--days` days of 1 s
//! checks as retention leaves them: raw checks for the last `--raw-days` days, minute rollups for
//! the last `--minute-days`, hour, day and month rollups for all of it, and a status change every
//! few days; then `wrk` at 32 connections against `/stats` for 24h, 7d, 30d, 90d, 365d and a
//! random `from`/`to`, each request for a random monitor, each window measured after a
//! `--warmup-seconds` run of the same requests (one API process throughout: its rollup cache
//! keeps what earlier windows read).
//!
//! The history is generated with SQL (no worker runs): raw rows by `generate_series`, rollup rows
//! from one synthetic minute, hour and day (60, 3,600 and 86,400 checks with latencies spread over
//! 20–500 ms, as many histogram buckets as such a spread fills), and month rows of as many checks
//! as their days, the way the workers would have written them.

use crate::cli::StatsArgs;
use crate::report::{Rows, thousands};
use crate::stack::{Stack, insert_monitors};
use crate::tools;
use anyhow::Context;
use std::time::Instant;
use time::OffsetDateTime;
use upcheck_domain::ProbeSpec;
use upcheck_domain::rollup::Rollup;
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::spec;
use uuid::Uuid;

/// A synthetic bucket of `n` checks, one in 1,000 failing, latencies spread over 20–500 ms
/// (mostly 20–100).
fn synthetic(n: i64) -> Rollup {
    let mut r = Rollup::default();
    for i in 0..n {
        let ms = if i % 10 == 9 { 100 + (i * 37) % 400 } else { 20 + (i * 13) % 80 };
        r.add(i % 1_000 == 999, false, Some(ms as i32));
    }
    r
}

/// A Postgres error with the server's message (tokio-postgres displays only "db error").
fn pg(e: tokio_postgres::Error) -> anyhow::Error {
    anyhow::anyhow!("{}", e.as_db_error().map_or_else(|| e.to_string(), ToString::to_string))
}

/// Rows of `r` in `table` for every monitor of `ids` and every `unit` (a Postgres interval) from
/// `from` up to `until`.
async fn rollup_rows(
    db: &tokio_postgres::Client,
    table: &str,
    ids: &[Uuid],
    unit: &str,
    (from, until): (OffsetDateTime, OffsetDateTime),
    r: &Rollup,
) -> anyhow::Result<()> {
    // Every row has the same histogram: its bytes are computed once here instead of by V31's
    // trigger for each of millions of rows (about 43 µs a row), which would add minutes.
    db.batch_execute(&format!("ALTER TABLE {table} DISABLE TRIGGER {table}_histogram_bytes"))
        .await
        .map_err(pg)?;
    db.execute(
        &format!(
            "INSERT INTO {table} (monitor_id, region, bucket, checks, failures, degraded, latency_count, \
               latency_sum, latency_min, latency_max, histogram, histogram_bytes) \
             SELECT m, 'local', b, $4, $5, 0, $6, $7, $8, $9, $10, bytes \
             FROM (SELECT check_rollup_histogram_bytes($10::int8[]) AS bytes) x, unnest($1::uuid[]) AS m, \
               generate_series($2::timestamptz, $3::timestamptz - interval '{unit}', interval '{unit}') AS b"
        ),
        &[
            &ids,
            &from,
            &until,
            &(r.checks as i32),
            &(r.failures as i32),
            &(r.latency_count as i32),
            &r.latency_sum,
            &r.latency_min,
            &r.latency_max,
            &r.packed_histogram(),
        ],
    )
    .await
    .map_err(pg)?;
    db.batch_execute(&format!("ALTER TABLE {table} ENABLE TRIGGER {table}_histogram_bytes"))
        .await
        .map_err(pg)?;
    Ok(())
}

async fn history(env: &TestEnv, ids: &[Uuid], a: &StatsArgs) -> anyhow::Result<()> {
    // Generating days of history takes minutes per statement.
    let db = crate::stack::bulk_connection(env).await?;
    let now = OffsetDateTime::now_utc();
    let mark = upcheck_store::rollups::floor_minute(now);
    let raw_from = mark - time::Duration::days(i64::from(a.raw_days));
    // Raw 1 s checks for the last --raw-days days, up to now.
    db.execute(
        "INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status) \
         SELECT m, s::text || '-0', 'local', to_timestamp(s), to_timestamp(s), \
                CASE WHEN s % 1000 = 0 THEN 'down' ELSE 'up' END, 20 + (s * 13) % 80, 200 \
         FROM unnest($1::uuid[]) AS m, generate_series($2::int8, $3::int8) AS s",
        &[&ids, &raw_from.unix_timestamp(), &now.unix_timestamp()],
    )
    .await
    .map_err(pg)?;
    for (table, unit, from, n) in [
        ("check_rollups_minute", "1 minute", mark - time::Duration::days(i64::from(a.minute_days)), 60),
        (
            "check_rollups_hour",
            "1 hour",
            upcheck_store::rollups::floor_hour(mark) - time::Duration::days(i64::from(a.days)),
            3_600,
        ),
        (
            "check_rollups_day",
            "1 day",
            upcheck_store::rollups::floor_day(mark) - time::Duration::days(i64::from(a.days)),
            86_400,
        ),
    ] {
        let r = synthetic(n);
        let until = match unit {
            "1 minute" => mark,
            "1 hour" => upcheck_store::rollups::floor_hour(mark),
            _ => upcheck_store::rollups::floor_day(mark),
        };
        rollup_rows(&db, table, ids, unit, (from, until), &r).await?;
    }
    // Month rows for the whole months before the mark's, each as many checks as its day rows.
    let first_day = upcheck_store::rollups::floor_day(mark) - time::Duration::days(i64::from(a.days));
    let last = upcheck_store::rollups::floor_month(mark);
    let mut month = upcheck_store::rollups::floor_month(first_day);
    while month < last {
        let next = upcheck_store::rollups::floor_month(month + time::Duration::days(32));
        let r = synthetic(86_400 * (next - month.max(first_day)).whole_days());
        rollup_rows(&db, "check_rollups_month", ids, "1 month", (month, next), &r).await?;
        month = next;
    }
    db.execute(
        "INSERT INTO check_rollup_marks (monitor_id, region, closed_until) SELECT m, 'local', $2 FROM unnest($1::uuid[]) AS m",
        &[&ids, &mark],
    )
    .await
    .map_err(pg)?;
    // Up since the start; a 10-minute outage every 5 days.
    db.execute(
        "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, occurred_at, published_at, applied_at) \
         SELECT gen_random_uuid(), m, f, t, true, at, at, at FROM unnest($1::uuid[]) AS m, \
           LATERAL (SELECT 'pending' AS f, 'up' AS t, $2::timestamptz AS at \
                    UNION ALL SELECT 'up', 'down', d FROM generate_series($2 + interval '1 day', now(), interval '5 days') AS d \
                    UNION ALL SELECT 'down', 'up', d + interval '10 minutes' \
                      FROM generate_series($2 + interval '1 day', now(), interval '5 days') AS d) e \
         ORDER BY at",
        &[&ids, &(mark - time::Duration::days(i64::from(a.days)))],
    )
    .await
    .map_err(pg)?;
    for table in [
        "check_results",
        "check_rollups_minute",
        "check_rollups_hour",
        "check_rollups_day",
        "check_rollups_month",
        "status_events",
    ] {
        db.batch_execute(&format!("VACUUM ANALYZE {table}")).await.map_err(pg)?;
    }
    Ok(())
}

/// `/stats` p99 at 32 connections over long histories.
pub(crate) async fn run(a: &StatsArgs) -> anyhow::Result<Rows> {
    let env = TestEnv::with_env(&a.overrides.vars()).await;
    let stack = Stack::start(&env, 0).await?;
    let client = reqwest::Client::new();
    let creds = serde_json::json!({"email": "bench@example.com", "password": "bench-password"});
    let post = |path: &str| {
        let request = client.post(format!("{}{path}", stack.api_url)).json(&creds);
        async move { anyhow::Ok(request.send().await?.error_for_status()?.json::<serde_json::Value>().await?) }
    };
    post("/api/v1/auth/signup").await?;
    let tokens = post("/api/v1/auth/login").await?;
    let token = tokens["access_token"].as_str().context("login returned no access_token")?.to_string();
    let me: serde_json::Value =
        client.get(format!("{}/api/v1/me", stack.api_url)).bearer_auth(&token).send().await?.json().await?;
    let owner: Uuid = me["id"].as_str().context("/me returned no id")?.parse()?;
    let specs: Vec<ProbeSpec> = (0..a.stats_monitors).map(|_| spec("http://127.0.0.1:9/")).collect();
    insert_monitors(&env, owner, &specs).await?;
    let ids: Vec<Uuid> = specs.iter().map(|s| s.monitor_id).collect();
    let started = Instant::now();
    history(&env, &ids, a).await?;
    let mut rows = vec![(
        "stats: history generated".to_string(),
        format!(
            "{} monitors × {} days: raw 1 s checks for the last {} days ({} rows), minute rollups for {} days, \
             hour, day and month rollups for all ({:.0} s)",
            a.stats_monitors,
            a.days,
            a.raw_days,
            thousands((a.stats_monitors * u64::from(a.raw_days) * 86_400) as f64),
            a.minute_days,
            started.elapsed().as_secs_f64()
        ),
    )];
    let dir = tempfile::tempdir()?;
    let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    let header = format!("Authorization: Bearer {token}");
    for window in ["24h", "7d", "30d", "90d", "365d", "from/to"] {
        let script = dir.path().join(format!("stats-{}.lua", window.replace('/', "-")));
        let query = if window == "from/to" {
            // A random span of 1 minute to 400 days ending within the history.
            format!(
                "local to = os.time() - math.random(0, {span})\n  local from = to - math.random(60, {max})\n  \
                 local q = \"?from=\" .. os.date(\"!%Y-%m-%dT%H:%M:%SZ\", from) .. \"&to=\" .. os.date(\"!%Y-%m-%dT%H:%M:%SZ\", to)",
                span = 30 * 86_400,
                max = 370 * 86_400
            )
        } else {
            format!("local q = \"?window={window}\"")
        };
        std::fs::write(
            &script,
            format!(
                "local ids = {{{}}}\nrequest = function()\n  {query}\n  \
                 return wrk.format(\"GET\", \"/api/v1/monitors/\" .. ids[math.random(#ids)] .. \"/stats\" .. q)\nend\n",
                list.join(",")
            ),
        )?;
        let (url, h) = (format!("{}/", stack.api_url), header.clone());
        let r = tokio::task::spawn_blocking({
            let (warmup, secs) = (a.warmup_seconds, a.seconds);
            move || {
                if warmup > 0 {
                    tools::wrk_script(&url, 1, 32, warmup, Some(&h), Some(&script))?;
                }
                tools::wrk_script(&url, 1, 32, secs, Some(&h), Some(&script))
            }
        })
        .await??;
        anyhow::ensure!(r.non_2xx == 0, "/stats {window}: {} responses were not 2xx", r.non_2xx);
        rows.push((
            format!(
                "stats: GET /api/v1/monitors/{{id}}/stats {window}, 32 connections, random monitor, after {} s of warm-up",
                a.warmup_seconds
            ),
            format!(
                "{} req/s, p50 {:.2} ms, p99 {:.2} ms",
                thousands(r.requests_per_second),
                r.p50_ms,
                r.p99_ms
            ),
        ));
    }
    stack.stop().await;
    Ok(rows)
}
