//! Admin user routes: list, disable (every credential of the user stops working), enable; a
//! member gets 403 and an admin cannot disable themselves.

use crate::helpers::*;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn an_admin_lists_users_a_page_at_a_time() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    app.signup("a@example.com").await;
    app.signup("b@example.com").await;

    let first: Value = app.get("/api/v1/admin/users?limit=2", &admin).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value =
        app.get(&format!("/api/v1/admin/users?limit=2&cursor={cursor}"), &admin).await.json().await.unwrap();

    let emails: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@example.com", "a@example.com", "b@example.com"]);
    assert!(second["next_cursor"].is_null());
    assert_eq!(first["items"][0]["role"], "admin");
    assert_eq!(first["items"][1]["disabled"], false);
    assert!(first["items"][0].get("password_hash").is_none());
    assert_problem(app.get("/api/v1/admin/users?limit=0", &admin).await, 400, Some("limit")).await;
}

#[tokio::test]
async fn a_member_gets_403_on_the_admin_user_routes() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;
    let me: Value = app.get("/api/v1/me", &admin).await.json().await.unwrap();
    let path = format!("/api/v1/admin/users/{}/disable", me["id"].as_str().unwrap());

    assert_problem(app.get("/api/v1/admin/users", &member).await, 403, None).await;
    assert_problem(app.call(Method::POST, &path, Some(&member), None).await, 403, None).await;
    assert_eq!(app.get("/api/v1/me", &admin).await.status(), 200);
}

#[tokio::test]
async fn an_admin_cannot_disable_themselves() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let me: Value = app.get("/api/v1/me", &admin).await.json().await.unwrap();

    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/users/{}/disable", me["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;

    assert_problem(r, 422, Some("id")).await;
    assert_eq!(app.get("/api/v1/me", &admin).await.status(), 200);
}

#[tokio::test]
async fn a_disabled_users_token_key_session_and_login_are_refused_until_enabled() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    app.signup("member@example.com").await;
    let session = app.login("member@example.com").await;
    let access = session["access_token"].as_str().unwrap();
    let key = app.api_key(access, &["read"], None).await;
    let key = key["key"].as_str().unwrap();
    let me: Value = app.get("/api/v1/me", access).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap();

    let r = app.call(Method::POST, &format!("/api/v1/admin/users/{id}/disable"), Some(&admin), None).await;
    assert_eq!(r.status(), 200);
    let disabled: Value = r.json().await.unwrap();
    assert_eq!(disabled["disabled"], true);

    assert_problem(app.get("/api/v1/me", access).await, 401, None).await;
    assert_problem(app.get("/api/v1/me", key).await, 401, None).await;
    assert_problem(app.refresh(&session["refresh_token"]).await, 401, None).await;
    let login = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"email": "member@example.com", "password": "long enough password"})),
        )
        .await;
    assert_problem(login, 401, None).await;

    let r = app.call(Method::POST, &format!("/api/v1/admin/users/{id}/enable"), Some(&admin), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get("/api/v1/me", key).await.status(), 200, "keys work again");
    assert_eq!(app.get("/api/v1/me", access).await.status(), 200);
    assert_problem(app.refresh(&session["refresh_token"]).await, 401, None).await;
    app.login("member@example.com").await;
}

#[tokio::test]
async fn disabling_an_unknown_user_is_404() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let path = format!("/api/v1/admin/users/{}/disable", uuid::Uuid::now_v7());

    assert_problem(app.call(Method::POST, &path, Some(&admin), None).await, 404, None).await;
}
