//! Sign-up, log-in, refresh rotation, roles and token checks.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

/// The caller's `/me`, after signing `email` up and logging in.
async fn me_after_signup(app: &TestApp, email: &str) -> serde_json::Value {
    let token = app.user(email).await;
    app.get("/api/v1/me", &token).await.json().await.unwrap()
}

#[tokio::test]
async fn the_first_user_is_admin_and_the_next_a_member() {
    let app = spawn_app().await;

    let first = me_after_signup(&app, "first@example.com").await;
    let second = me_after_signup(&app, "second@example.com").await;

    assert_eq!(first["role"], "admin");
    assert_eq!(second["role"], "member");
    assert_eq!(first["email"], "first@example.com");
    assert!(first.get("password_hash").is_none());
}

#[tokio::test]
async fn admin_email_decides_the_admin() {
    let app = spawn_app_with(|s| s.admin_email = Some("boss@example.com".into())).await;

    let first = me_after_signup(&app, "first@example.com").await;
    let boss = me_after_signup(&app, "Boss@Example.com").await;

    assert_eq!(first["role"], "member");
    assert_eq!(boss["role"], "admin");
}

#[tokio::test]
async fn signup_answers_a_taken_address_exactly_as_a_free_one_and_keeps_its_password() {
    let app = spawn_app().await;
    let signup = |email: &'static str, password: &'static str| {
        app.call(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    let fresh = signup("dup@example.com", "long enough password").await;
    let (fresh_status, fresh_type) = (fresh.status(), fresh.headers()["content-type"].clone());
    let fresh_body: serde_json::Value = fresh.json().await.unwrap();

    let started = std::time::Instant::now();
    let taken = signup("dup@example.com", "another password").await;
    let taken_took = started.elapsed();
    let (taken_status, taken_type) = (taken.status(), taken.headers()["content-type"].clone());
    let taken_body: serde_json::Value = taken.json().await.unwrap();
    let started = std::time::Instant::now();
    signup("new@example.com", "long enough password").await;
    let fresh_took = started.elapsed();

    assert_eq!(fresh_status, 202);
    assert_eq!((taken_status, taken_type), (fresh_status, fresh_type));
    assert_eq!(taken_body, fresh_body);
    assert_eq!(fresh_body["status"], "accepted");
    // Both run one argon2 hash: the taken path is not the cheap one. Load only slows a request,
    // so the fastest of a few hashes here is a floor the taken path cannot beat.
    let one_hash = (0..3)
        .map(|_| {
            use argon2::password_hash::{PasswordHasher, SaltString};
            let started = std::time::Instant::now();
            let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
            argon2::Argon2::default().hash_password(b"long enough password", &salt).unwrap();
            started.elapsed()
        })
        .min()
        .unwrap();
    assert!(
        taken_took * 2 > one_hash,
        "taken {taken_took:?} vs one hash {one_hash:?} (fresh {fresh_took:?})"
    );
    // The owner's password still works; the second one does not.
    app.login("dup@example.com").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "DUP@example.com", "password": "another password"})),
        )
        .await;
    assert_problem(r, 401, None).await;
}

#[tokio::test]
async fn signup_refuses_control_and_bidi_characters_in_the_email() {
    let app = spawn_app().await;
    for email in ["a\u{202E}b@example.com", "a\tb@example.com", "a b@example.com"] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": "long enough password"})),
            )
            .await;
        assert_problem(r, 422, Some("email")).await;
    }
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
