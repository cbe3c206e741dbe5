//! Liveness and readiness, on the public port: terse bodies that name a failing dependency
//! and nothing about why.

use crate::helpers::*;
use serde_json::{Value, json};

/// What a readiness body may hold: `status` and one `ok`/`unavailable` word per dependency.
fn assert_terse(body: &Value) {
    let fields = body.as_object().unwrap();
    assert_eq!(fields.len(), 3, "{body}");
    for dep in ["postgres", "redis"] {
        assert!(matches!(body[dep].as_str(), Some("ok" | "unavailable")), "{body}");
    }
}

#[tokio::test]
async fn readyz_is_200_when_postgres_and_redis_answer() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"status": "ready", "postgres": "ok", "redis": "ok"}));
    let live = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn readyz_is_503_naming_redis_when_redis_is_down_and_the_rest_still_works() {
    let app = spawn_app_with(|s| s.redis.url = secrecy::SecretString::from("redis://127.0.0.1:1")).await;

    let r = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();

    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"status": "not ready", "postgres": "ok", "redis": "unavailable"}));
    // Monitors are still created (Postgres is the system of record; the reconcile schedules them).
    let token = app.user("a@example.com").await;
    assert_eq!(app.monitor(&token).await["status"], "pending");
}

#[tokio::test]
async fn postgres_down_is_503_on_what_needs_it_and_named_by_readyz() {
    let app = spawn_app_with(|s| {
        let mut env = std::collections::HashMap::new();
        env.insert("DATABASE_URL".to_string(), "postgres://postgres@127.0.0.1:1/none".to_string());
        s.database = upcheck_config::Settings::from_env_map(env).unwrap().database;
    })
    .await;

    let r = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["postgres"], "unavailable", "{body}");

    let signup = app.signup("a@example.com").await;
    assert_problem(signup, 503, None).await;
}

#[tokio::test]
async fn a_failing_readyz_tells_the_caller_nothing_about_why() {
    // Both down: the errors would name the addresses (127.0.0.1:1) and the OS's reason.
    let app = spawn_app_with(|s| {
        let mut env = std::collections::HashMap::new();
        env.insert("DATABASE_URL".to_string(), "postgres://postgres@127.0.0.1:1/none".to_string());
        s.database = upcheck_config::Settings::from_env_map(env).unwrap().database;
        s.redis.url = secrecy::SecretString::from("redis://127.0.0.1:1");
    })
    .await;

    let r = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();

    assert_eq!(r.status(), 503);
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body, json!({"status": "not ready", "postgres": "unavailable", "redis": "unavailable"}));
    assert_terse(&body);
    for leak in ["127.0.0.1", ":1", "error", "refused", "timed out", "postgres://", "redis://"] {
        assert!(!text.contains(leak), "readyz leaks {leak:?}: {text}");
    }
}
