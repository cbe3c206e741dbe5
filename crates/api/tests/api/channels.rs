//! Webhook channels and the signed test send.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use upcheck_testkit::WebhookReceiver;

async fn channel(app: &TestApp, token: &str, config: Value) -> reqwest::Response {
    app.call(
        Method::POST,
        "/api/v1/channels",
        Some(token),
        Some(json!({"kind": "webhook", "name": "ops", "config": config})),
    )
    .await
}

#[tokio::test]
async fn a_webhook_channel_gets_a_generated_secret_and_a_verifiable_test_send() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let receiver = WebhookReceiver::start().await;

    let c: Value = channel(&app, &token, json!({"url": receiver.url})).await.json().await.unwrap();
    let secret = c["config"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = c["id"].as_str().unwrap();

    let r: Value = app
        .call(Method::POST, &format!("/api/v1/channels/{id}/test"), Some(&token), None)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!((r["delivered"].as_bool(), r["http_status"].as_u64()), (Some(true), Some(200)));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let h = &got[0];
    let ts: i64 = h.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!(upcheck_domain::webhook::verify(
        &secret,
        h.header("webhook-id").unwrap(),
        ts,
        &h.body,
        h.header("webhook-signature").unwrap()
    ));
    assert_eq!(h.json()["type"], "test");
}

#[tokio::test]
async fn a_failing_receiver_is_reported_by_the_test_send() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let receiver = WebhookReceiver::start().await;
    receiver.set_status(500);

    let r = app.test_send_to(&token, &receiver.url).await;

    assert_eq!(r, json!({"delivered": false, "http_status": 500}));
}

#[tokio::test]
async fn channel_config_is_validated_field_by_field() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    assert_problem(channel(&app, &token, json!({"url": "ftp://x"})).await, 422, Some("config.url")).await;
    assert_problem(channel(&app, &token, json!({})).await, 422, Some("config.url")).await;
    assert_problem(
        channel(&app, &token, json!({"url": "https://x.io", "secret": "plain"})).await,
        422,
        Some("config.secret"),
    )
    .await;
    assert_problem(
        channel(&app, &token, json!({"url": "https://x.io", "extra": 1})).await,
        422,
        Some("config.extra"),
    )
    .await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(&token),
            Some(json!({"kind": "pager", "name": "n", "config": {}})),
        )
        .await;
    assert_problem(r, 422, Some("kind")).await;
}

#[tokio::test]
async fn channels_are_listed_patched_deleted_and_private() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let other = app.user("b@example.com").await;
    let c: Value =
        channel(&app, &token, json!({"url": "https://hooks.example.com/a"})).await.json().await.unwrap();
    let id = c["id"].as_str().unwrap();
    let secret = c["config"]["secret"].clone();

    let patched: Value = app
        .call(
            Method::PATCH,
            &format!("/api/v1/channels/{id}"),
            Some(&token),
            Some(json!({"name": "renamed", "config": {"url": "https://hooks.example.com/b"}})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["config"]["url"], "https://hooks.example.com/b");
    let masked = upcheck_secrets::mask::mask_token(secret.as_str().unwrap());
    assert_eq!(patched["config"]["secret"], masked, "the secret is kept, and shown masked");
    let list: Value = app.get("/api/v1/channels", &token).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_problem(app.get(&format!("/api/v1/channels/{id}"), &other).await, 404, None).await;
    assert_problem(
        app.call(Method::DELETE, &format!("/api/v1/channels/{id}"), Some(&other), None).await,
        404,
        None,
    )
    .await;

    assert_eq!(
        app.call(Method::DELETE, &format!("/api/v1/channels/{id}"), Some(&token), None).await.status(),
        204
    );
    assert_problem(app.get(&format!("/api/v1/channels/{id}"), &token).await, 404, None).await;
}
