//! API keys: shown once, listed without the secret, held to their scopes, refused once
//! expired or deleted, and their last use recorded.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

fn secret(key: &Value) -> &str {
    key["key"].as_str().unwrap()
}

#[tokio::test]
async fn a_key_is_shown_once_and_lists_show_only_its_prefix() {
    let app = spawn_app().await;
    let token = app.user("me@example.com").await;

    let created = app.api_key(&token, &["read"], None).await;
    let listed: Value = app.get("/api/v1/api-keys", &token).await.json().await.unwrap();
    let one: Value = app
        .get(&format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap()), &token)
        .await
        .json()
        .await
        .unwrap();

    let key = secret(&created);
    assert!(key.starts_with("upk_") && key.len() == 4 + 43, "{key}");
    assert!(key[4..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_eq!(created["prefix"], key[..10]);
    assert_eq!(created["scopes"], json!(["read"]));
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["prefix"], created["prefix"]);
    assert_eq!(items[0]["name"], "ci script");
    assert!(items[0]["last_used_at"].is_null() && items[0]["expires_at"].is_null());
    for view in [&items[0], &one] {
        assert!(view.get("key").is_none(), "{view}");
        assert!(!view.to_string().contains(key), "the secret is never listed: {view}");
    }
    let stored: Vec<u8> =
        app.env.db().await.query_one("SELECT key_hash FROM api_keys", &[]).await.unwrap().get(0);
    assert_eq!(stored.len(), 32, "only the SHA-256 is stored");
}

#[tokio::test]
async fn a_read_key_can_get_but_is_403_for_post_naming_the_scope() {
    let app = spawn_app().await;
    let token = app.user("me@example.com").await;
    let r = app
        .create_monitor(&token, json!({"name": "api", "url": "http://127.0.0.1:1/", "paused": true}))
        .await;
    assert_eq!(r.status(), 201);
    let key = app.api_key(&token, &["read"], None).await;

    let monitors: Value = app.get("/api/v1/monitors", secret(&key)).await.json().await.unwrap();
    let me: Value = app.get("/api/v1/me", secret(&key)).await.json().await.unwrap();
    let post = app
        .create_monitor(secret(&key), json!({"name": "x", "url": "http://127.0.0.1:1/", "paused": true}))
        .await;

    assert_eq!(monitors["items"].as_array().unwrap().len(), 1);
    assert_eq!(me["email"], "me@example.com");
    let problem = assert_problem(post, 403, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("write"), "{problem}");
}

#[tokio::test]
async fn a_write_key_can_create_a_monitor() {
    let app = spawn_app().await;
    let token = app.user("me@example.com").await;
    let key = app.api_key(&token, &["write"], None).await;

    let r = app
        .create_monitor(secret(&key), json!({"name": "by key", "url": "http://127.0.0.1:1/", "paused": true}))
        .await;

    assert_eq!(r.status(), 201);
    let listed: Value = app.get("/api/v1/monitors", &token).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["name"], "by key");
}

#[tokio::test]
async fn expired_and_deleted_keys_are_401() {
    let app = spawn_app().await;
    let token = app.user("me@example.com").await;
    // 3 s: creating both keys and using them must fit before it, on a loaded machine too.
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let soon = expires_at.format(&time::format_description::well_known::Rfc3339).unwrap();
    let expiring = app.api_key(&token, &["read"], Some(&soon)).await;
    let deleted = app.api_key(&token, &["read"], None).await;
    assert_eq!(app.get("/api/v1/me", secret(&expiring)).await.status(), 200);
    assert_eq!(app.get("/api/v1/me", secret(&deleted)).await.status(), 200);

    let path = format!("/api/v1/api-keys/{}", deleted["id"].as_str().unwrap());
    assert_eq!(app.call(Method::DELETE, &path, Some(&token), None).await.status(), 204);
    let until_expired = expires_at - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(200);
    tokio::time::sleep(until_expired.try_into().unwrap_or_default()).await;

    assert_problem(app.get("/api/v1/me", secret(&expiring)).await, 401, None).await;
    assert_problem(app.get("/api/v1/me", secret(&deleted)).await, 401, None).await;
    assert_problem(app.get(&path, &token).await, 404, None).await;
}

#[tokio::test]
async fn last_used_at_appears_after_use() {
    let app = spawn_app().await;
    let token = app.user("me@example.com").await;
    let key = app.api_key(&token, &["read"], None).await;
    let path = format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap());
    let before: Value = app.get(&path, &token).await.json().await.unwrap();

    assert_eq!(app.get("/api/v1/monitors", secret(&key)).await.status(), 200);
    let after: Value = app.get(&path, &token).await.json().await.unwrap();

    assert!(before["last_used_at"].is_null());
    let used = time::OffsetDateTime::parse(
        after["last_used_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((time::OffsetDateTime::now_utc() - used).whole_seconds().abs() < 60);
}

#[tokio::test]
async fn bad_scopes_and_expiry_are_422_naming_the_field() {
    let app = spawn_app().await;
    let _admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;
    let cases = [
        (json!({"name": "k", "scopes": []}), "scopes"),
        (json!({"name": "k", "scopes": ["read", "root"]}), "scopes[1]"),
        (json!({"name": "k", "scopes": ["admin"]}), "scopes[0]"),
        (json!({"name": "", "scopes": ["read"]}), "name"),
        (json!({"name": "nul\u{0}name", "scopes": ["read"]}), "name"),
        (json!({"name": "k", "scopes": ["read"], "expires_at": "tomorrow"}), "expires_at"),
        (json!({"name": "k", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"name": "k", "scopes": "read"}), "scopes"),
    ];
    for (body, field) in cases {
        let r = app.call(Method::POST, "/api/v1/api-keys", Some(&member), Some(body)).await;
        assert_problem(r, 422, Some(field)).await;
    }
}

#[tokio::test]
async fn a_key_cannot_make_a_key_with_more_scopes_than_its_own() {
    let app = spawn_app().await;
    let token = app.user("admin@example.com").await;
    let write = app.api_key(&token, &["write"], None).await;

    let r = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(secret(&write)),
            Some(json!({"name": "escalate", "scopes": ["read", "admin"]})),
        )
        .await;
    let ok = app.api_key(secret(&write), &["read"], None).await;

    assert_problem(r, 422, Some("scopes[1]")).await;
    assert_eq!(ok["scopes"], json!(["read"]));
}

#[tokio::test]
async fn admin_routes_need_the_admin_scope_and_an_admin_owner() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let admin_key = app.api_key(&admin, &["admin"], None).await;
    let write_key = app.api_key(&admin, &["write"], None).await;

    let with_admin = app.get("/api/v1/admin/users", secret(&admin_key)).await;
    let with_write = app.get("/api/v1/admin/users", secret(&write_key)).await;
    let admin_key_on_monitors = app.get("/api/v1/monitors", secret(&admin_key)).await;
    app.env.db().await.execute("UPDATE users SET role = 'member'", &[]).await.unwrap();
    let demoted = app.get("/api/v1/admin/users", secret(&admin_key)).await;

    assert_eq!(with_admin.status(), 200);
    let problem = assert_problem(with_write, 403, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("admin"), "{problem}");
    assert_problem(admin_key_on_monitors, 403, None).await;
    assert_problem(demoted, 403, None).await;
}

#[tokio::test]
async fn another_users_key_is_404() {
    let app = spawn_app().await;
    let mine = app.user("me@example.com").await;
    let theirs = app.user("them@example.com").await;
    let key = app.api_key(&theirs, &["read"], None).await;
    let path = format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap());

    assert_problem(app.get(&path, &mine).await, 404, None).await;
    assert_problem(app.call(Method::DELETE, &path, Some(&mine), None).await, 404, None).await;
    assert_eq!(app.get("/api/v1/me", secret(&key)).await.status(), 200);
}
