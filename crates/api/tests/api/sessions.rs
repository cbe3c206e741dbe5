//! Sessions (refresh-token families): replay revokes the family, logout and logout-all end
//! sessions, and a session's lifetime is fixed at login.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn pair(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 200, "refreshed");
    r.json().await.unwrap()
}

#[tokio::test]
async fn replaying_a_spent_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;
    let first = app.login("me@example.com").await;
    let second = pair(app.refresh(&first["refresh_token"]).await).await;
    let other_session = app.login("me@example.com").await;

    let replay = app.refresh(&first["refresh_token"]).await;
    let newest = app.refresh(&second["refresh_token"]).await;
    let other = app.refresh(&other_session["refresh_token"]).await;

    let problem = assert_problem(replay, 401, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("revoked"), "{problem}");
    assert_problem(newest, 401, None).await;
    assert_eq!(other.status(), 200, "another session of the same user lives on");
    let reason: Option<String> = app
        .env
        .db()
        .await
        .query_one(
            "SELECT f.revoked_reason FROM refresh_families f JOIN refresh_tokens t ON t.family_id = f.id \
             WHERE t.token_hash = sha256(convert_to($1, 'UTF8'))",
            &[&first["refresh_token"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason.as_deref(), Some("replay"));
}

#[tokio::test]
async fn logout_ends_the_session_of_the_refresh_token_only() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;
    let laptop = app.login("me@example.com").await;
    let phone = app.login("me@example.com").await;

    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": laptop["refresh_token"]})),
        )
        .await;
    let again = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": laptop["refresh_token"]})),
        )
        .await;
    let unknown = app
        .call(Method::POST, "/api/v1/auth/logout", None, Some(json!({"refresh_token": "not-a-token"})))
        .await;

    assert_eq!(r.status(), 204);
    assert_eq!(again.status(), 204);
    assert_problem(unknown, 401, None).await;
    assert_problem(app.refresh(&laptop["refresh_token"]).await, 401, None).await;
    assert_eq!(app.refresh(&phone["refresh_token"]).await.status(), 200);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_caller_only() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;
    app.signup("them@example.com").await;
    let laptop = app.login("me@example.com").await;
    let phone = app.login("me@example.com").await;
    let theirs = app.login("them@example.com").await;

    let r = app.call(Method::POST, "/api/v1/auth/logout-all", laptop["access_token"].as_str(), None).await;

    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["revoked_sessions"], 2);
    assert_problem(app.refresh(&laptop["refresh_token"]).await, 401, None).await;
    assert_problem(app.refresh(&phone["refresh_token"]).await, 401, None).await;
    assert_eq!(app.refresh(&theirs["refresh_token"]).await.status(), 200);
    assert_problem(app.call(Method::POST, "/api/v1/auth/logout-all", None, None).await, 401, None).await;
}

#[tokio::test]
async fn a_sessions_lifetime_is_fixed_at_login_whatever_the_refreshes() {
    let app = spawn_app().await;
    app.signup("me@example.com").await;
    let first = app.login("me@example.com").await;
    let db = app.env.db().await;
    let expiry = |token: Value| {
        let db = &db;
        async move {
            db.query_one(
                "SELECT expires_at FROM refresh_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
                &[&token.as_str().unwrap()],
            )
            .await
            .unwrap()
            .get::<_, time::OffsetDateTime>(0)
        }
    };
    let at_login = expiry(first["refresh_token"].clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let second = pair(app.refresh(&first["refresh_token"]).await).await;
    let third = pair(app.refresh(&second["refresh_token"]).await).await;

    assert_eq!(
        expiry(third["refresh_token"].clone()).await,
        at_login,
        "refreshing never extends the session"
    );
    let ttl = (at_login - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((2_591_900..=2_592_000).contains(&ttl), "REFRESH_TOKEN_TTL_SECONDS from login: {ttl}");
    // The session reaches its end: its newest token, issued a moment ago, ends with it.
    db.execute("UPDATE refresh_families SET expires_at = now() - interval '1 second'", &[]).await.unwrap();
    assert_problem(app.refresh(&third["refresh_token"]).await, 401, None).await;
}
