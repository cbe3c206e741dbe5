//! Monitor kinds through the REST API: each kind's config validated and shown with its
//! defaults, targets named as the monitor's url, policy checks on tcp/tls hosts and dns
//! resolvers. Monitors are created paused: nothing here is probed.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn create(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["paused"] = json!(true);
    app.create_monitor(token, body).await
}

#[tokio::test]
async fn each_kind_is_created_with_its_config_and_target() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let cases = [
        (
            json!({"name": "api", "url": "https://example.com/health", "config": {
                "assertions": [{"type": "json", "pointer": "/status", "op": "equals", "value": "ok"}],
                "degraded_latency_ms": 800}}),
            "https://example.com/health",
            json!({"assertions": [{"type": "json", "pointer": "/status", "op": "equals", "value": "ok"}],
                   "degraded_latency_ms": 800, "max_redirects": 10}),
        ),
        (
            json!({"name": "db", "kind": "tcp", "config": {"host": "db.example.com", "port": 5432}}),
            "tcp://db.example.com:5432",
            json!({"host": "db.example.com", "port": 5432}),
        ),
        (
            json!({"name": "cert", "kind": "tls", "config": {"host": "example.com"}}),
            "tls://example.com:443",
            json!({"host": "example.com", "port": 443, "expiry_warning_days": 14}),
        ),
        (
            json!({"name": "mx", "kind": "dns", "config": {"name": "example.com", "record_type": "MX", "expected": ["10 mx.example.com"]}}),
            "dns://example.com/MX",
            json!({"name": "example.com", "record_type": "MX", "expected": ["10 mx.example.com"], "match": "any"}),
        ),
    ];
    for (body, url, config) in cases {
        let r = create(&app, &token, body.clone()).await;
        assert_eq!(r.status(), 201, "{body}");
        let m: Value = r.json().await.unwrap();
        assert_eq!((&m["url"], &m["config"]), (&json!(url), &config), "{body}");
        let path = format!("/api/v1/monitors/{}", m["id"].as_str().unwrap());
        let again: Value = app.call(Method::GET, &path, Some(&token), None).await.json().await.unwrap();
        assert_eq!(again["config"], config, "stored as shown");
    }
}

#[tokio::test]
async fn kind_configs_are_422_naming_the_field() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let cases = [
        (json!({"name": "x", "kind": "tcp", "config": {"host": "db"}}), "config"),
        (json!({"name": "x", "kind": "tcp", "config": {"host": "db", "port": 0}}), "config.port"),
        (
            json!({"name": "x", "kind": "tcp", "url": "https://e.com", "config": {"host": "db", "port": 1}}),
            "url",
        ),
        (
            json!({"name": "x", "kind": "dns", "config": {"name": "e.com", "record_type": "SRV"}}),
            "config.record_type",
        ),
        (
            json!({"name": "x", "url": "https://e.com", "config": {"assertions": [{"type": "header", "name": "x", "op": "matches", "value": "("}]}}),
            "config.assertions[0].value",
        ),
        (
            json!({"name": "x", "url": "https://e.com", "timeout_ms": 1000, "config": {"degraded_latency_ms": 1000}}),
            "config.degraded_latency_ms",
        ),
        (
            json!({"name": "x", "url": "https://e.com", "config": {"max_redirects": 50}}),
            "config.max_redirects",
        ),
        (json!({"name": "x", "url": "https://e.com", "config": "x"}), "config"),
        (json!({"name": "x", "kind": "http"}), "url"),
        (json!({"name": "x", "kind": "smtp", "url": "https://e.com"}), "kind"),
    ];
    for (body, field) in cases {
        assert_problem(create(&app, &token, body.clone()).await, 422, Some(field)).await;
    }
}

#[tokio::test]
async fn changing_the_kind_needs_a_config_of_the_new_kind() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let m: Value =
        create(&app, &token, json!({"name": "x", "url": "https://example.com/"})).await.json().await.unwrap();
    let path = format!("/api/v1/monitors/{}", m["id"].as_str().unwrap());

    let missing = app.call(Method::PATCH, &path, Some(&token), Some(json!({"kind": "tcp"}))).await;
    let changed = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"kind": "tcp", "config": {"host": "db.example.com", "port": 6379}})),
        )
        .await;

    assert_problem(missing, 422, Some("config")).await;
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (changed["kind"].as_str(), changed["url"].as_str()),
        (Some("tcp"), Some("tcp://db.example.com:6379"))
    );
}

#[tokio::test]
async fn tcp_and_tls_hosts_and_dns_resolvers_obey_the_network_policy() {
    let app = spawn_app_with(|s| s.probe.policy.allow_private = false).await;
    let token = app.user("a@example.com").await;
    let cases = [
        (
            json!({"name": "x", "kind": "tcp", "config": {"host": "169.254.169.254", "port": 80}}),
            "config.host",
        ),
        (json!({"name": "x", "kind": "tcp", "config": {"host": "localhost", "port": 6379}}), "config.host"),
        (json!({"name": "x", "kind": "tls", "config": {"host": "10.1.2.3"}}), "config.host"),
        (
            json!({"name": "x", "kind": "dns", "config": {"name": "e.com", "resolver": "127.0.0.1:53"}}),
            "config.resolver",
        ),
        (
            json!({"name": "x", "kind": "dns", "config": {"name": "e.com", "resolver": "[fe80::1]:53"}}),
            "config.resolver",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_problem(create(&app, &token, body.clone()).await, 422, Some(field)).await;
        assert!(problem["detail"].as_str().unwrap().contains("blocked address"), "{problem}");
    }
}

#[tokio::test]
async fn an_up_monitor_whose_latest_check_was_slow_shows_as_degraded() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let m: Value =
        create(&app, &token, json!({"name": "x", "url": "http://127.0.0.1:9/"})).await.json().await.unwrap();
    let id: uuid::Uuid = m["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/api/v1/monitors/{id}");
    app.call(Method::POST, &format!("{path}/resume"), Some(&token), None).await;
    let db = app.env.db().await;
    db.execute("UPDATE monitor_state SET status = 'up' WHERE monitor_id = $1", &[&id]).await.unwrap();
    db.execute(
        "INSERT INTO monitor_region_state (monitor_id, region, status, last_checked_at, last_outcome) \
         VALUES ($1, 'local', 'up', now(), 'degraded')",
        &[&id],
    )
    .await
    .unwrap();

    let view: Value = app.call(Method::GET, &path, Some(&token), None).await.json().await.unwrap();

    assert_eq!(view["status"], "degraded");
}
