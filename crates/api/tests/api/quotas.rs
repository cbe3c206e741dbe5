//! Per-user limits: MAX_MONITORS_PER_USER (admins exempt) and MIN_INTERVAL_SECONDS, and a
//! changed or resumed monitor is never due sooner than its last check plus its interval.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

fn paused(name: &str) -> Value {
    json!({"name": name, "url": "http://127.0.0.1:9/", "paused": true})
}

#[tokio::test]
async fn a_member_past_max_monitors_gets_a_409_naming_the_limit_and_admins_are_exempt() {
    let app = spawn_app_with(|s| s.quotas.max_monitors_per_user = 2).await;
    let admin = app.user("admin@example.com").await; // the first user is admin
    let member = app.user("member@example.com").await;

    for i in 0..3 {
        assert_eq!(app.create_monitor(&admin, paused(&format!("a{i}"))).await.status(), 201);
    }
    for i in 0..2 {
        assert_eq!(app.create_monitor(&member, paused(&format!("m{i}"))).await.status(), 201);
    }
    let over = assert_problem(app.create_monitor(&member, paused("m2")).await, 409, None).await;

    assert_eq!(over["limit"], "MAX_MONITORS_PER_USER");
    assert_eq!(over["detail"], "at most 2 monitors per user");
}

#[tokio::test]
async fn concurrent_creates_cannot_pass_the_limit() {
    let app = spawn_app_with(|s| s.quotas.max_monitors_per_user = 3).await;
    let _admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;

    let creates = (0..12).map(|i| app.create_monitor(&member, paused(&format!("m{i}"))));
    let statuses: Vec<u16> =
        futures::future::join_all(creates).await.iter().map(|r| r.status().as_u16()).collect();

    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 9, "{statuses:?}");
}

#[tokio::test]
async fn an_interval_below_min_interval_seconds_is_422() {
    let app = spawn_app_with(|s| s.quotas.min_interval_seconds = 30).await;
    let token = app.user("a@example.com").await;
    let mut body = paused("x");
    body["interval_seconds"] = json!(10);

    let problem = assert_problem(app.create_monitor(&token, body).await, 422, Some("interval_seconds")).await;

    assert!(problem["detail"].as_str().unwrap().contains("MIN_INTERVAL_SECONDS"));
}

/// Records that `id` was last checked `ago` (a Postgres interval) by region `local`.
async fn last_checked(app: &TestApp, id: uuid::Uuid, ago: &str) {
    app.env
        .db()
        .await
        .execute(
            "INSERT INTO monitor_region_state (monitor_id, region, status, last_checked_at) \
             VALUES ($1, 'local', 'up', now() - $2::text::interval)",
            &[&id, &ago],
        )
        .await
        .unwrap();
}

/// When `id` is next due in the Redis schedule, Unix ms.
async fn due_at(app: &TestApp, id: uuid::Uuid) -> Option<i64> {
    let keys = upcheck_streams::Keys::new(&app.env.settings);
    upcheck_streams::Schedule::new(app.env.redis.clone(), keys, 10_000).due_at(id).await.unwrap()
}

#[tokio::test]
async fn patch_and_resume_never_bring_the_next_check_before_last_check_plus_interval() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let mut body = paused("x");
    body["interval_seconds"] = json!(300);
    let m: Value = app.create_monitor(&token, body).await.json().await.unwrap();
    let id: uuid::Uuid = m["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/api/v1/monitors/{id}");
    last_checked(&app, id, "60 seconds").await;
    let expected = upcheck_domain::clock::now_ms() + 240_000;

    app.call(Method::POST, &format!("{path}/resume"), Some(&token), None).await;
    let after_resume = due_at(&app, id).await.expect("scheduled");
    app.call(Method::PATCH, &path, Some(&token), Some(json!({"name": "renamed"}))).await;
    let after_patch = due_at(&app, id).await.expect("scheduled");

    for due in [after_resume, after_patch] {
        assert!((due - expected).abs() < 5_000, "due {due}, expected about {expected}");
    }
}

#[tokio::test]
async fn a_resumed_heartbeat_gets_a_whole_window_before_its_deadline() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let body =
        json!({"name": "cron", "kind": "heartbeat", "config": {"period_seconds": 60, "grace_seconds": 30}});
    let m: Value = app.create_monitor(&token, body).await.json().await.unwrap();
    let id: uuid::Uuid = m["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/api/v1/monitors/{id}");
    last_checked(&app, id, "1 hour").await;
    app.call(Method::POST, &format!("{path}/pause"), Some(&token), None).await;

    app.call(Method::POST, &format!("{path}/resume"), Some(&token), None).await;

    let due = due_at(&app, id).await.expect("scheduled");
    let expected = upcheck_domain::clock::now_ms() + 90_000;
    assert!((due - expected).abs() < 5_000, "deadline {due}, expected about {expected} (a whole window)");
}
