//! `/stats` over rollups and exact uptime, and the latency series, over checks stored as the
//! monitoring worker stores them.

use crate::helpers::*;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use upcheck_domain::{CheckOutcome, Thresholds};
use upcheck_store::checks::{CheckRecord, record_checks};
use uuid::Uuid;

fn record(monitor_id: Uuid, at: OffsetDateTime, outcome: CheckOutcome, latency_ms: i32) -> CheckRecord {
    let due_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
    CheckRecord {
        monitor_id,
        job_id: format!("{due_ms}-0"),
        region: "local".into(),
        due_at_ms: due_ms,
        checked_at: at,
        outcome,
        latency_ms: Some(latency_ms),
        http_status: Some(200),
        error: None,
        thresholds: Thresholds { failure: 2, recovery: 1 },
        degraded_latency_ms: None,
        trace_parent: None,
        quorum: Default::default(),
        expiring_certificate: None,
    }
}

fn q(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap().replace('+', "%2B")
}

/// 40 minutes of checks every 30 s ending now (latencies 1..=80 ms), down for the 10 minutes
/// from minute 20 (every check failing there), stored in batches as the worker does.
async fn history(app: &TestApp, m: Uuid) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let start = now.replace_nanosecond(0).unwrap().replace_second(0).unwrap() - Duration::minutes(40);
    let all: Vec<CheckRecord> = (0..80)
        .map(|i| {
            let at = start + Duration::seconds(30 * i);
            let down = (40..60).contains(&i);
            record(m, at, if down { CheckOutcome::Down } else { CheckOutcome::Up }, i as i32 + 1)
        })
        .collect();
    for batch in all.chunks(7) {
        record_checks(&app.env.pool, batch).await.unwrap();
    }
    start
}

#[tokio::test]
async fn stats_count_checks_from_rollups_and_measure_uptime_on_status_changes() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    let start = history(&app, id).await;

    let s: Value =
        app.get(&format!("/api/v1/monitors/{id}/stats?window=24h"), &token).await.json().await.unwrap();

    assert_eq!((s["checks"].as_i64(), s["failures"].as_i64()), (Some(80), Some(20)));
    assert_eq!(s["latency_ms"]["p50"].as_f64(), Some(40.0));
    assert_eq!(s["latency_ms"]["max"].as_i64(), Some(80));
    assert_eq!(s["latency_ms"]["avg"].as_f64(), Some(40.5));
    // Up from the first check to now; down from the second failure (minute 20.5) to the first
    // success after (minute 30): 9.5 minutes.
    let monitored = s["monitored_seconds"].as_i64().unwrap();
    let elapsed = (OffsetDateTime::now_utc() - start).whole_seconds();
    assert!((elapsed - 2..=elapsed).contains(&monitored), "{monitored} of {elapsed}");
    assert_eq!(s["downtime_seconds"].as_i64(), Some(570));
    let uptime = s["uptime_percent"].as_f64().unwrap();
    let want = (monitored - 570) as f64 * 100.0 / monitored as f64;
    assert!((uptime - want).abs() < 0.1, "{uptime} vs {want}");

    // A range covering minutes 0..20 only: no failure, full uptime.
    let (from, to) = (start, start + Duration::minutes(19) + Duration::seconds(59));
    let s: Value = app
        .get(&format!("/api/v1/monitors/{id}/stats?from={}&to={}", q(from), q(to)), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["window"], "custom");
    assert_eq!((s["checks"].as_i64(), s["failures"].as_i64()), (Some(40), Some(0)));
    assert_eq!(s["uptime_percent"].as_f64(), Some(100.0));
    for window in ["7d", "30d", "90d", "365d"] {
        let s: Value = app
            .get(&format!("/api/v1/monitors/{id}/stats?window={window}"), &token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(s["checks"].as_i64(), Some(80), "{window}");
    }
}

#[tokio::test]
async fn stats_ranges_are_validated_naming_the_field() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id = app.monitor(&token).await["id"].as_str().unwrap().to_string();
    let now = OffsetDateTime::now_utc();
    let path = |query: String| format!("/api/v1/monitors/{id}/stats?{query}");

    for (query, status, field) in [
        (format!("from={}&to={}", q(now), q(now - Duration::hours(1))), 422, "to"),
        (format!("from={}&to={}", q(now), q(now)), 422, "to"),
        (format!("from={}&to={}", q(now - Duration::days(401)), q(now)), 422, "from"),
        (format!("to={}", q(now)), 422, "from"),
        (format!("window=7d&from={}", q(now - Duration::hours(1))), 422, "window"),
        ("from=yesterday".to_string(), 400, "from"),
        ("window=1y".to_string(), 400, "window"),
    ] {
        assert_problem(app.get(&path(query), &token).await, status, Some(field)).await;
    }
    let ok = app.get(&path(format!("from={}", q(now - Duration::days(399)))), &token).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn the_latency_series_has_one_point_per_bucket_and_a_bounded_size() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    let start = history(&app, id).await;
    let end = start + Duration::minutes(40);

    let s: Value = app
        .get(&format!("/api/v1/monitors/{id}/latency?from={}&to={}&bucket=1m", q(start), q(end)), &token)
        .await
        .json()
        .await
        .unwrap();

    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), 40);
    assert_eq!(points[0]["checks"], 2);
    assert_eq!(
        (points[0]["p50"].as_f64(), points[0]["p99"].as_f64(), points[0]["avg"].as_f64()),
        (Some(1.0), Some(2.0), Some(1.5))
    );
    assert_eq!(points[25]["failures"], 2);
    assert_eq!(points.iter().map(|p| p["checks"].as_i64().unwrap()).sum::<i64>(), 80);
    let hourly: Value = app
        .get(
            &format!("/api/v1/monitors/{id}/latency?from={}&bucket=1h", q(start - Duration::hours(2))),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        hourly["points"].as_array().unwrap().iter().map(|p| p["checks"].as_i64().unwrap()).sum::<i64>(),
        80
    );

    let long = format!("/api/v1/monitors/{id}/latency?from={}&bucket=1m", q(start - Duration::days(2)));
    assert_problem(app.get(&long, &token).await, 422, Some("bucket")).await;
    let bad = format!("/api/v1/monitors/{id}/latency?from={}&bucket=5m", q(start));
    assert_problem(app.get(&bad, &token).await, 400, Some("bucket")).await;
    assert_problem(app.get(&format!("/api/v1/monitors/{id}/latency"), &token).await, 422, Some("from")).await;
}

#[tokio::test]
async fn checks_inside_a_maintenance_window_are_counted_apart() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    let start = history(&app, id).await;
    // A window over the first 10 minutes: their 20 checks are held.
    let body = serde_json::json!({"name": "deploy", "monitor_ids": [id],
        "starts_at": start.format(&Rfc3339).unwrap(),
        "ends_at": (start + Duration::minutes(10)).format(&Rfc3339).unwrap()});
    let r = app.call(reqwest::Method::POST, "/api/v1/maintenance-windows", Some(&token), Some(body)).await;
    assert_eq!(r.status(), 201);

    let s: Value =
        app.get(&format!("/api/v1/monitors/{id}/stats?window=24h"), &token).await.json().await.unwrap();

    assert_eq!((s["checks"].as_i64(), s["maintenance_checks"].as_i64()), (Some(60), Some(20)));
    assert_eq!(s["failures"].as_i64(), Some(20));
    assert_eq!(s["latency_ms"]["min"].as_i64(), Some(21));
    // The held 10 minutes are not monitored time; the outage after them still is.
    let monitored = s["monitored_seconds"].as_i64().unwrap();
    let elapsed = (OffsetDateTime::now_utc() - start).whole_seconds() - 600;
    assert!((elapsed - 2..=elapsed).contains(&monitored), "{monitored} of {elapsed}");
    assert_eq!(s["downtime_seconds"].as_i64(), Some(570));
}

/// The API's `upcheck_rollup_cache_ranges_total{result="hit"}` (0 before any).
async fn cache_hits(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.metrics_address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("upcheck_rollup_cache_ranges_total{result=\"hit\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn a_repeated_read_takes_closed_ranges_from_the_rollup_cache_with_the_same_figures() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    history(&app, id).await;
    let path = format!("/api/v1/monitors/{id}/stats?window=24h");
    let figures = |s: &Value| {
        (s["checks"].clone(), s["failures"].clone(), s["degraded"].clone(), s["latency_ms"].clone())
    };

    let first: Value = app.get(&path, &token).await.json().await.unwrap();
    let hits = cache_hits(&app).await;
    let second: Value = app.get(&path, &token).await.json().await.unwrap();

    assert_eq!(figures(&second), figures(&first));
    assert_eq!(first["checks"].as_i64(), Some(80));
    assert!(cache_hits(&app).await > hits, "the second read summed closed ranges from the cache");
    // Another user still gets a 404, whatever the cache holds.
    let other = app.user("b@example.com").await;
    assert_eq!(app.get(&path, &other).await.status(), 404);
}
