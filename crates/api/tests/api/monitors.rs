//! Monitor CRUD, ownership, pagination and the Redis schedule kept in step.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use upcheck_streams::{Keys, Schedule};
use uuid::Uuid;

async fn schedule(app: &TestApp) -> Schedule {
    let conns = upcheck_streams::connect(&app.env.settings.redis).await.unwrap();
    Schedule::new(conns.commands, Keys::new(&app.env.settings), 10_000)
}

async fn stored_spec(app: &TestApp, id: &str) -> Option<Value> {
    let keys = Keys::new(&app.env.settings);
    let id: Uuid = id.parse().unwrap();
    let raw: Option<String> = redis::cmd("HGET")
        .arg(keys.specs(keys.shard_of(id)))
        .arg(id.to_string())
        .query_async(&mut app.env.redis.clone())
        .await
        .unwrap();
    raw.map(|r| serde_json::from_str(&r).unwrap())
}

#[tokio::test]
async fn a_created_monitor_has_the_documented_defaults_and_is_scheduled_now() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - 1000;

    let m = app.monitor(&token).await;

    assert_eq!(m["status"], "pending");
    assert_eq!(m["kind"], "http");
    assert_eq!(m["method"], "GET");
    assert_eq!(m["interval_seconds"], 60);
    assert_eq!(m["timeout_ms"], 10_000);
    assert_eq!(m["expected_status"], json!(["2xx"]));
    assert_eq!((m["failure_threshold"].as_u64(), m["recovery_threshold"].as_u64()), (Some(2), Some(1)));
    assert_eq!(m["paused"], false);
    let id = m["id"].as_str().unwrap();
    let due = schedule(&app).await.due_at(id.parse().unwrap()).await.unwrap().expect("scheduled");
    assert!(due >= before, "due now");
    assert_eq!(stored_spec(&app, id).await.unwrap()["url"], "http://127.0.0.1:1/health");
}

#[tokio::test]
async fn pause_unschedules_resume_reschedules_and_delete_forgets() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let m = app.monitor(&token).await;
    let id = m["id"].as_str().unwrap().to_string();
    let uuid: Uuid = id.parse().unwrap();
    let sched = schedule(&app).await;

    let paused: Value = app
        .call(Method::POST, &format!("/api/v1/monitors/{id}/pause"), Some(&token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((paused["paused"].as_bool(), paused["status"].as_str()), (Some(true), Some("paused")));
    assert_eq!(sched.due_at(uuid).await.unwrap(), None);
    assert!(stored_spec(&app, &id).await.is_none());

    let resumed: Value = app
        .call(Method::POST, &format!("/api/v1/monitors/{id}/resume"), Some(&token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["status"], "pending");
    assert!(sched.due_at(uuid).await.unwrap().is_some());

    let r = app.call(Method::DELETE, &format!("/api/v1/monitors/{id}"), Some(&token), None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(sched.due_at(uuid).await.unwrap(), None);
    assert_problem(app.get(&format!("/api/v1/monitors/{id}"), &token).await, 404, None).await;
}

#[tokio::test]
async fn patch_changes_only_the_given_fields_and_updates_the_stored_spec() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let id = app.monitor(&token).await["id"].as_str().unwrap().to_string();

    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/monitors/{id}"),
            Some(&token),
            Some(json!({"interval_seconds": 30, "name": "renamed"})),
        )
        .await;

    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!((m["interval_seconds"].as_u64(), m["name"].as_str()), (Some(30), Some("renamed")));
    assert_eq!(m["url"], "http://127.0.0.1:1/health");
    assert_eq!(stored_spec(&app, &id).await.unwrap()["interval_seconds"], 30);
}

#[tokio::test]
async fn another_users_monitor_is_404_for_every_route() {
    let app = spawn_app().await;
    let owner = app.user("owner@example.com").await;
    let other = app.user("other@example.com").await;
    let id = app.monitor(&owner).await["id"].as_str().unwrap().to_string();

    for (method, path) in [
        (Method::GET, format!("/api/v1/monitors/{id}")),
        (Method::PATCH, format!("/api/v1/monitors/{id}")),
        (Method::DELETE, format!("/api/v1/monitors/{id}")),
        (Method::POST, format!("/api/v1/monitors/{id}/pause")),
        (Method::POST, format!("/api/v1/monitors/{id}/resume")),
        (Method::GET, format!("/api/v1/monitors/{id}/checks")),
        (Method::GET, format!("/api/v1/monitors/{id}/stats")),
        (
            Method::GET,
            format!("/api/v1/monitors/{id}/latency?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"),
        ),
        (Method::GET, format!("/api/v1/monitors/{id}/incidents")),
        (Method::GET, format!("/api/v1/monitors/{id}/notifications")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"name": "mine now"}));
        let r = app.call(method.clone(), &path, Some(&other), body).await;
        assert_problem(r, 404, None).await;
    }
    assert_eq!(app.get(&format!("/api/v1/monitors/{id}"), &owner).await.status(), 200, "untouched");
    let list: Value = app.get("/api/v1/monitors", &other).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn the_list_pages_with_an_opaque_cursor() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.monitor(&token).await["id"].as_str().unwrap().to_string());
    }

    let first: Value = app.get("/api/v1/monitors?limit=2", &token).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value =
        app.get(&format!("/api/v1/monitors?limit=2&cursor={cursor}"), &token).await.json().await.unwrap();
    let cursor = second["next_cursor"].as_str().unwrap();
    let third: Value =
        app.get(&format!("/api/v1/monitors?limit=2&cursor={cursor}"), &token).await.json().await.unwrap();

    let seen: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(seen, ids);
    assert!(third["next_cursor"].is_null());
    let exact: Value = app.get("/api/v1/monitors?limit=5", &token).await.json().await.unwrap();
    assert_eq!(exact["items"].as_array().unwrap().len(), 5);
    assert!(exact["next_cursor"].is_null(), "a page ending at the last monitor has no next page");
    assert_problem(app.get("/api/v1/monitors?limit=0", &token).await, 400, Some("limit")).await;
    assert_problem(app.get("/api/v1/monitors?limit=501", &token).await, 400, Some("limit")).await;
    assert_problem(app.get("/api/v1/monitors?cursor=%25%25", &token).await, 400, Some("cursor")).await;
}

#[tokio::test]
async fn a_monitor_created_paused_is_not_scheduled() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;

    let r =
        app.create_monitor(&token, json!({"name": "p", "url": "https://example.com", "paused": true})).await;

    let m: Value = r.json().await.unwrap();
    assert_eq!(m["status"], "paused");
    assert_eq!(schedule(&app).await.due_at(m["id"].as_str().unwrap().parse().unwrap()).await.unwrap(), None);
}

#[tokio::test]
async fn channel_ids_link_on_create_and_a_patch_replaces_them() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let mut channels = Vec::new();
    for name in ["a", "b"] {
        let c: Value = app
            .call(
                Method::POST,
                "/api/v1/channels",
                Some(&token),
                Some(
                    json!({"kind": "webhook", "name": name, "config": {"url": "https://hooks.example.com"}}),
                ),
            )
            .await
            .json()
            .await
            .unwrap();
        channels.push(c["id"].clone());
    }
    let r = app
        .create_monitor(
            &token,
            json!({"name": "m", "url": "https://example.com", "channel_ids": [channels[0]]}),
        )
        .await;
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["channel_ids"], json!([channels[0]]));

    let id = m["id"].as_str().unwrap();
    let patched: Value = app
        .call(
            Method::PATCH,
            &format!("/api/v1/monitors/{id}"),
            Some(&token),
            Some(json!({"channel_ids": [channels[1]]})),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(patched["channel_ids"], json!([channels[1]]));
    let unchanged: Value = app
        .call(
            Method::PATCH,
            &format!("/api/v1/monitors/{id}"),
            Some(&token),
            Some(json!({"name": "renamed"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["channel_ids"], json!([channels[1]]), "a patch without channel_ids keeps the links");
}
