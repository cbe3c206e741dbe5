//! Checks, stats, incidents and the delivery log, over rows written as the workers write them.

use crate::helpers::*;
use reqwest::Method;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// Inserts `n` checks one second apart ending now, every third failing. Returns that `now`: the
/// last check is one second before it.
async fn checks(app: &TestApp, monitor: Uuid, n: i64) -> OffsetDateTime {
    let db = app.env.db().await;
    let now = OffsetDateTime::now_utc();
    for i in 0..n {
        let at = now - time::Duration::seconds(n - i);
        let up = i % 3 != 0;
        db.execute(
            "INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error) \
             VALUES ($1, $2, 'local', $3, $3, $4, $5, $6, $7)",
            &[&monitor, &format!("{i}-0"), &at, &(if up { "up" } else { "down" }), &((i + 1) as i32 * 10), &(if up { 200i16 } else { 503 }), &(if up { None } else { Some("expected 2xx, got 503") })],
        )
        .await
        .unwrap();
    }
    now
}

async fn setup() -> (TestApp, String, Uuid) {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    (app, token, id)
}

#[tokio::test]
async fn checks_come_newest_first_in_pages_and_respect_since() {
    let (app, token, id) = setup().await;
    let now = checks(&app, id, 7).await;

    let first: Value =
        app.get(&format!("/api/v1/monitors/{id}/checks?limit=4"), &token).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("/api/v1/monitors/{id}/checks?limit=4&cursor={cursor}"), &token)
        .await
        .json()
        .await
        .unwrap();

    let items: Vec<Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .cloned()
        .collect();
    assert_eq!(items.len(), 7);
    let times: Vec<&str> = items.iter().map(|c| c["checked_at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    assert_eq!(items[0]["latency_ms"], 70);
    assert_eq!(items[6]["error"], "expected 2xx, got 503");
    assert_eq!(items[6]["http_status"], 503);
    assert_eq!(items[0]["region"], "local");
    assert!(second["next_cursor"].is_null());

    // From the inserts' own `now`, not the clock's: the test's requests take time.
    let since = now - time::Duration::milliseconds(3_500);
    let since = since.format(&time::format_description::well_known::Rfc3339).unwrap();
    let recent: Value = app
        .get(&format!("/api/v1/monitors/{id}/checks?since={}", since.replace('+', "%2B")), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(recent["items"].as_array().unwrap().len(), 3);
    assert_problem(
        app.get(&format!("/api/v1/monitors/{id}/checks?since=yesterday"), &token).await,
        400,
        Some("since"),
    )
    .await;
}

#[tokio::test]
async fn stats_give_uptime_and_latency_percentiles_over_the_window() {
    let (app, token, id) = setup().await;
    let empty: Value = app.get(&format!("/api/v1/monitors/{id}/stats"), &token).await.json().await.unwrap();
    assert!(empty["uptime_percent"].is_null());
    checks(&app, id, 9).await; // three of nine fail; latencies 10..=90 ms

    let s: Value =
        app.get(&format!("/api/v1/monitors/{id}/stats?window=7d"), &token).await.json().await.unwrap();

    assert_eq!(s["window"], "7d");
    assert_eq!((s["checks"].as_i64(), s["failures"].as_i64()), (Some(9), Some(3)));
    // Uptime is measured on status changes (none recorded here), not by counting checks.
    assert!(s["uptime_percent"].is_null());
    assert_eq!(s["latency_ms"]["p50"].as_f64(), Some(50.0));
    assert!(s["latency_ms"]["p99"].as_f64().unwrap() > 89.0);
    assert_problem(
        app.get(&format!("/api/v1/monitors/{id}/stats?window=1y"), &token).await,
        400,
        Some("window"),
    )
    .await;
}

async fn incident(app: &TestApp, monitor: Uuid, state: &str) -> Uuid {
    let id = Uuid::now_v7();
    app.env
        .db()
        .await
        .execute(
            "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_at, resolved_at, cause) \
             VALUES ($1, $2, $3, $4, now(), CASE WHEN $3 = 'resolved' THEN now() END, 'connection refused')",
            &[&id, &monitor, &state, &Uuid::now_v7()],
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn incidents_filter_by_state_and_can_be_acknowledged_once() {
    let (app, token, id) = setup().await;
    let resolved = incident(&app, id, "resolved").await;
    let open = incident(&app, id, "open").await;

    let opens: Value = app.get("/api/v1/incidents?state=open", &token).await.json().await.unwrap();
    let all: Value = app.get(&format!("/api/v1/monitors/{id}/incidents"), &token).await.json().await.unwrap();
    assert_eq!(opens["items"].as_array().unwrap().len(), 1);
    assert_eq!(opens["items"][0]["id"], open.to_string());
    assert_eq!(opens["items"][0]["cause"], "connection refused");
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert_eq!(all["items"][0]["id"], open.to_string(), "newest first");
    assert_problem(app.get("/api/v1/incidents?state=closed", &token).await, 400, Some("state")).await;

    let acked: Value = app
        .call(Method::POST, &format!("/api/v1/incidents/{open}/acknowledge"), Some(&token), None)
        .await
        .json()
        .await
        .unwrap();
    let again: Value = app
        .call(Method::POST, &format!("/api/v1/incidents/{open}/acknowledge"), Some(&token), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(acked["acknowledged_at"].is_string());
    assert_eq!(acked["acknowledged_at"], again["acknowledged_at"], "the first acknowledgement is kept");
    let one: Value = app.get(&format!("/api/v1/incidents/{resolved}"), &token).await.json().await.unwrap();
    assert_eq!(one["state"], "resolved");

    let stranger = app.user("b@example.com").await;
    assert_problem(app.get(&format!("/api/v1/incidents/{open}"), &stranger).await, 404, None).await;
    let r =
        app.call(Method::POST, &format!("/api/v1/incidents/{open}/acknowledge"), Some(&stranger), None).await;
    assert_problem(r, 404, None).await;
    let theirs: Value = app.get("/api/v1/incidents", &stranger).await.json().await.unwrap();
    assert_eq!(theirs["items"], serde_json::json!([]));
}

#[tokio::test]
async fn the_delivery_log_lists_each_notification_with_its_state() {
    let (app, token, id) = setup().await;
    let db = app.env.db().await;
    for (state, attempts, error) in [("delivered", 1, None), ("dead", 8, Some("receiver answered 500"))] {
        db.execute(
            "INSERT INTO notifications (id, event_id, monitor_id, channel_kind, event_type, payload, state, attempts, last_error, delivered_at) \
             VALUES ($1, $2, $3, 'webhook', 'monitor.down', '{}', $4, $5, $6, CASE WHEN $4 = 'delivered' THEN now() END)",
            &[&Uuid::now_v7(), &Uuid::now_v7(), &id, &state, &attempts, &error],
        )
        .await
        .unwrap();
    }

    let log: Value =
        app.get(&format!("/api/v1/monitors/{id}/notifications"), &token).await.json().await.unwrap();

    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let dead = items.iter().find(|n| n["state"] == "dead").unwrap();
    assert_eq!(
        (dead["attempts"].as_i64(), dead["last_error"].as_str()),
        (Some(8), Some("receiver answered 500"))
    );
    assert_eq!(dead["event"], "monitor.down");
    assert!(items.iter().find(|n| n["state"] == "delivered").unwrap()["delivered_at"].is_string());
}
