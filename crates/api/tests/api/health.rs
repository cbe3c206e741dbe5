//! Liveness and readiness.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn readyz_is_200_when_postgres_and_redis_answer() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["postgres"].as_str(), body["redis"].as_str()), (Some("ok"), Some("ok")));
    let live = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test]
async fn readyz_is_503_naming_redis_when_redis_is_down_and_the_rest_still_works() {
    let app = spawn_app_with(|s| s.redis.url = secrecy::SecretString::from("redis://127.0.0.1:1")).await;

    let r = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();

    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["postgres"], "ok");
    assert!(body["redis"].as_str().unwrap().starts_with("error"), "{body}");
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
    assert!(body["postgres"].as_str().unwrap().starts_with("error"), "{body}");

    let signup = app.signup("a@example.com").await;
    assert_problem(signup, 503, None).await;
}
