//! Bad input gets a clear problem+json naming the field.

use crate::helpers::*;
use serde_json::{Value, json};

fn base() -> Value {
    json!({"name": "api", "url": "https://example.com/health", "interval_seconds": 60, "timeout_ms": 5000})
}

fn with(key: &str, value: Value) -> Value {
    let mut b = base();
    b[key] = value;
    b
}

#[tokio::test]
async fn each_monitor_rule_is_422_naming_its_field() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let cases = [
        (with("url", json!("ftp://example.com")), "url"),
        (with("url", json!("not a url")), "url"),
        (with("interval_seconds", json!(0)), "interval_seconds"),
        (with("interval_seconds", json!(86_401)), "interval_seconds"),
        (with("interval_seconds", json!(-5)), "interval_seconds"),
        (with("timeout_ms", json!(99)), "timeout_ms"),
        (with("timeout_ms", json!(60_001)), "timeout_ms"),
        (
            json!({"name": "x", "url": "https://e.com", "interval_seconds": 2, "timeout_ms": 2000}),
            "timeout_ms",
        ),
        (with("expected_status", json!(["6xx"])), "expected_status[0]"),
        (with("failure_threshold", json!(0)), "failure_threshold"),
        (with("method", json!("TRACE")), "method"),
        (with("name", json!("")), "name"),
        (with("surprise", json!(1)), "surprise"),
        (json!({"url": "https://example.com"}), "name"),
        (with("channel_ids", json!([uuid::Uuid::now_v7()])), "channel_ids"),
    ];
    for (body, field) in cases {
        let r = app.create_monitor(&token, body.clone()).await;
        let problem = assert_problem(r, 422, Some(field)).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{body}");
    }
}

#[tokio::test]
async fn another_users_channel_cannot_be_linked() {
    let app = spawn_app().await;
    let owner = app.user("owner@example.com").await;
    let other = app.user("other@example.com").await;
    let channel: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/channels",
            Some(&owner),
            Some(json!({"kind": "webhook", "name": "n", "config": {"url": "http://127.0.0.1:1/"}})),
        )
        .await
        .json()
        .await
        .unwrap();

    let r = app.create_monitor(&other, with("channel_ids", json!([channel["id"]]))).await;

    assert_problem(r, 422, Some("channel_ids")).await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;

    let r = app.raw_post("/api/v1/monitors", &token, b"{\"name\": \"x\",".to_vec()).await;

    let p = assert_problem(r, 400, None).await;
    assert!(p["detail"].as_str().unwrap().contains("malformed JSON"));
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let big = serde_json::to_vec(&with("body", json!("x".repeat(70 * 1024)))).unwrap();

    assert_problem(app.raw_post("/api/v1/monitors", &token, big).await, 413, None).await;
}

#[tokio::test]
async fn a_patch_that_breaks_the_spec_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id = app.monitor(&token).await["id"].as_str().unwrap().to_string();

    let r = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/monitors/{id}"),
            Some(&token),
            Some(json!({"interval_seconds": 5})),
        )
        .await;

    assert_problem(r, 422, Some("timeout_ms")).await;
    let m: Value = app.get(&format!("/api/v1/monitors/{id}"), &token).await.json().await.unwrap();
    assert_eq!(m["interval_seconds"], 60);
}

#[tokio::test]
async fn a_bad_id_in_the_path_is_400_and_an_unknown_route_404() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    assert_problem(app.get("/api/v1/monitors/not-a-uuid", &token).await, 400, Some("id")).await;
    let p = assert_problem(app.get("/api/v1/nothing-here", &token).await, 404, None).await;
    assert_eq!(p["type"], "urn:upcheck:problem:no-such-route");
}
