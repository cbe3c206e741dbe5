//! Sign-up, log-in, refresh rotation, roles and token checks.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_first_user_is_admin_and_the_next_a_member() {
    let app = spawn_app().await;

    let first: serde_json::Value = app.signup("first@example.com").await.json().await.unwrap();
    let second: serde_json::Value = app.signup("second@example.com").await.json().await.unwrap();

    assert_eq!(first["role"], "admin");
    assert_eq!(second["role"], "member");
    assert_eq!(first["email"], "first@example.com");
    assert!(first.get("password_hash").is_none());
}

#[tokio::test]
async fn admin_email_decides_the_admin() {
    let app = spawn_app_with(|s| s.admin_email = Some("boss@example.com".into())).await;

    let first: serde_json::Value = app.signup("first@example.com").await.json().await.unwrap();
    let boss: serde_json::Value = app.signup("Boss@Example.com").await.json().await.unwrap();

    assert_eq!(first["role"], "member");
    assert_eq!(boss["role"], "admin");
}

#[tokio::test]
async fn a_duplicate_email_is_409_whatever_its_case() {
    let app = spawn_app().await;
    app.signup("dup@example.com").await;

    assert_problem(app.signup("DUP@example.com").await, 409, None).await;
}

#[tokio::test]
async fn signup_rejects_a_bad_email_or_short_password_naming_the_field() {
    let app = spawn_app().await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": "nope", "password": "long enough"})),
        )
        .await;
    assert_problem(r, 422, Some("email")).await;
    let r = app
        .call(Method::POST, "/api/v1/auth/signup", None, Some(json!({"email": "a@b.c", "password": "short"})))
        .await;
    assert_problem(r, 422, Some("password")).await;
}

#[tokio::test]
async fn login_gives_a_bearer_pair_and_me_answers_with_it() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;

    let pair = app.login("me@example.com").await;
    let me: serde_json::Value =
        app.get("/api/v1/me", pair["access_token"].as_str().unwrap()).await.json().await.unwrap();

    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert!(pair["refresh_token"].is_string());
    assert_eq!(me["email"], "me@example.com");
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_401() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;
    for body in [
        json!({"email": "me@example.com", "password": "wrong password"}),
        json!({"email": "who@example.com", "password": "whatever1"}),
    ] {
        let r = app.call(Method::POST, "/api/v1/auth/login", None, Some(body)).await;
        assert_problem(r, 401, None).await;
    }
}

#[tokio::test]
async fn a_refresh_token_works_once_and_gives_a_new_pair() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;
    let pair = app.login("me@example.com").await;
    let refresh = json!({"refresh_token": pair["refresh_token"]});

    let r = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh.clone())).await;
    assert_eq!(r.status(), 200);
    let new: serde_json::Value = r.json().await.unwrap();
    assert_ne!(new["refresh_token"], pair["refresh_token"]);
    assert_eq!(app.get("/api/v1/me", new["access_token"].as_str().unwrap()).await.status(), 200);

    let again = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(refresh)).await;
    assert_problem(again, 401, None).await;
}

#[tokio::test]
async fn missing_garbage_foreign_and_expired_tokens_are_401() {
    let app = spawn_app().await;
    assert_problem(app.call(Method::GET, "/api/v1/me", None, None).await, 401, None).await;
    assert_problem(app.get("/api/v1/me", "garbage").await, 401, None).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forge = |secret: &[u8], exp: i64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"sub": uuid::Uuid::now_v7(), "role": "admin", "exp": exp, "iat": now - 10}),
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let other_key = forge(b"another-secret-that-is-32-characters-long!", now + 600);
    assert_problem(app.get("/api/v1/me", &other_key).await, 401, None).await;
    // Expired five seconds ago: no grace period (jsonwebtoken's default would allow 60 s).
    let expired = forge(b"test-secret-that-is-at-least-32-characters-long", now - 5);
    assert_problem(app.get("/api/v1/me", &expired).await, 401, None).await;
}
