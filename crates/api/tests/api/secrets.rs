//! Secrets through the API: channel secrets and monitor headers shown masked, the webhook
//! secret in full only at creation and on rotation, a masked value sent back keeping the
//! secret, and `upcheck-api rotate-secrets` re-sealing under a new key.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use upcheck_secrets::mask::mask_token;
use upcheck_testkit::WebhookReceiver;

async fn create_channel(app: &TestApp, token: &str, url: &str) -> Value {
    let r = app
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(token),
            Some(json!({"kind": "webhook", "name": "ops", "config": {"url": url}})),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.call(Method::PATCH, path, Some(token), Some(body)).await
}

/// The test send's signature verified against `secret`.
async fn test_send_verifies(
    app: &TestApp,
    token: &str,
    id: &str,
    receiver: &WebhookReceiver,
    secret: &str,
) -> bool {
    let before = receiver.received().len();
    app.call(Method::POST, &format!("/api/v1/channels/{id}/test"), Some(token), None).await;
    let got = receiver.received();
    let h = &got[before];
    let ts: i64 = h.header("webhook-timestamp").unwrap().parse().unwrap();
    upcheck_domain::webhook::verify(
        secret,
        h.header("webhook-id").unwrap(),
        ts,
        &h.body,
        h.header("webhook-signature").unwrap(),
    )
}

#[tokio::test]
async fn the_webhook_secret_is_shown_once_then_masked_and_a_masked_patch_keeps_it() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let receiver = WebhookReceiver::start().await;
    let created = create_channel(&app, &token, &receiver.url).await;
    let secret = created["config"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "in full at creation");
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/channels/{id}");

    let one: Value = app.get(&path, &token).await.json().await.unwrap();
    let list: Value = app.get("/api/v1/channels", &token).await.json().await.unwrap();

    assert_eq!(one["config"]["secret"], mask_token(&secret));
    assert!(one["config"]["secret"].as_str().unwrap().starts_with("••••"));
    assert_eq!(one["config"]["url"], receiver.url.as_str(), "a webhook's URL is not secret");
    assert_eq!(list["items"][0]["config"]["secret"], mask_token(&secret));
    let raw: String = app
        .env
        .db()
        .await
        .query_one("SELECT config::text || config_sealed::text FROM channels", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!raw.contains(&secret), "{raw}");

    // The config as GET shows it, sent back with a new name: the secret is kept.
    let r = patch(&app, &token, &path, json!({"name": "renamed", "config": one["config"]})).await;
    assert_eq!(r.status(), 200);
    let patched: Value = r.json().await.unwrap();
    assert_eq!(patched["config"]["secret"], mask_token(&secret));
    assert!(test_send_verifies(&app, &token, id, &receiver, &secret).await, "signed with the stored secret");
    // A mask that is not the stored secret's is refused, naming the field.
    let stale = json!({"config": {"url": receiver.url, "secret": "••••abcd"}});
    assert_problem(patch(&app, &token, &path, stale).await, 422, Some("config.secret")).await;
}

#[tokio::test]
async fn rotating_the_secret_shows_the_new_one_once_and_signs_with_it() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let other = app.user("b@example.com").await;
    let receiver = WebhookReceiver::start().await;
    let created = create_channel(&app, &token, &receiver.url).await;
    let old = created["config"]["secret"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap();
    let rotate = format!("/api/v1/channels/{id}/secret/rotate");

    let r = app.call(Method::POST, &rotate, Some(&token), None).await;

    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let new = rotated["config"]["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old, "a new secret in full");
    let shown: Value = app.get(&format!("/api/v1/channels/{id}"), &token).await.json().await.unwrap();
    assert_eq!(shown["config"]["secret"], mask_token(&new));
    assert!(test_send_verifies(&app, &token, id, &receiver, &new).await);
    assert!(!test_send_verifies(&app, &token, id, &receiver, &old).await);
    assert_problem(app.call(Method::POST, &rotate, Some(&other), None).await, 404, None).await;
    let doc = app.openapi().await;
    assert!(doc["paths"]["/api/v1/channels/{id}/secret/rotate"]["post"].is_object());
}

#[tokio::test]
async fn monitor_headers_are_sealed_shown_masked_and_kept_by_a_masked_patch() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let auth = "Bearer sk_live_0123456789abcdef";
    let r = app
        .create_monitor(
            &token,
            json!({"name": "api", "url": "http://127.0.0.1:9/", "headers": {"Authorization": auth, "Accept": "text/plain"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    let id = m["id"].as_str().unwrap();
    assert_eq!(m["headers"], json!({"Authorization": "••••cdef", "Accept": "••••"}));

    let raw: String = app
        .env
        .db()
        .await
        .query_one("SELECT headers::text || coalesce(headers_sealed::text, '') FROM monitors", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!raw.contains("sk_live") && !raw.contains("Authorization"), "{raw}");
    let spec = redis_spec(&app, id).await;
    assert!(!spec.contains("sk_live") && !spec.contains("Authorization"), "the Redis spec: {spec}");

    let path = format!("/api/v1/monitors/{id}");
    let got: Value = app.get(&path, &token).await.json().await.unwrap();
    let list: Value = app.get("/api/v1/monitors", &token).await.json().await.unwrap();
    assert_eq!(got["headers"], m["headers"]);
    assert_eq!(list["items"][0]["headers"], m["headers"]);
    let mut headers = got["headers"].clone();
    headers["X-Extra"] = json!("1");
    let r = patch(&app, &token, &path, json!({"headers": headers})).await;
    assert_eq!(r.status(), 200);
    let stored = upcheck_store::monitors::get(&app.env.pool, owner_id(&app).await, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let opened = stored.spec.open_headers(app.env.keys()).unwrap();
    assert_eq!(opened["Authorization"], auth, "the masked value kept the stored one");
    assert_eq!((opened["Accept"].as_str(), opened["X-Extra"].as_str()), ("text/plain", "1"));
    let stale = json!({"headers": {"Authorization": "••••zzzz"}});
    assert_problem(patch(&app, &token, &path, stale).await, 422, Some("headers.Authorization")).await;
}

async fn owner_id(app: &TestApp) -> uuid::Uuid {
    app.env.db().await.query_one("SELECT id FROM users LIMIT 1", &[]).await.unwrap().get(0)
}

/// The monitor's spec as the schedule holds it in Redis.
async fn redis_spec(app: &TestApp, id: &str) -> String {
    let keys = upcheck_streams::Keys::new(&app.env.settings);
    let shard = keys.shard_of(id.parse().unwrap());
    let mut conn = app.env.redis.clone();
    redis::cmd("HGET").arg(keys.specs(shard)).arg(id).query_async(&mut conn).await.unwrap()
}

#[tokio::test]
async fn rotate_secrets_reseals_under_a_new_key_id_and_the_old_key_may_then_go() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let receiver = WebhookReceiver::start().await;
    let created = create_channel(&app, &token, &receiver.url).await;
    let secret = created["config"]["secret"].as_str().unwrap().to_string();
    let channel: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    app.create_monitor(
        &token,
        json!({"name": "api", "url": "http://127.0.0.1:9/", "headers": {"X-Token": "t0ps3cr3t-value"}}),
    )
    .await;
    let old_key = app.env.vars["SECRETS_KEY"].clone();
    let new_key = upcheck_secrets::generate_key();
    let mut vars = app.env.vars.clone();
    vars.insert("SECRETS_KEY".into(), new_key.clone());
    vars.insert("SECRETS_KEY_ID".into(), "k2".into());
    vars.insert("SECRETS_OLD_KEYS".into(), format!("k1:{old_key}"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_upcheck-api"))
        .args(["rotate-secrets", "--batch", "1"])
        .env_clear()
        .envs(&vars)
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("channel configs: 1 sealed under k2"), "{stdout}");
    assert!(stdout.contains("monitor header sets: 1 sealed under k2"), "{stdout}");
    let db = app.env.db().await;
    let kids: (String, String) = {
        let c = db.query_one("SELECT config_sealed->>'kid' FROM channels", &[]).await.unwrap();
        let m = db.query_one("SELECT headers_sealed->>'kid' FROM monitors", &[]).await.unwrap();
        (c.get(0), m.get(0))
    };
    assert_eq!(kids, ("k2".to_string(), "k2".to_string()));
    // Only the new key is needed from now on: the delivery path opens the channel with it.
    let only_new = upcheck_secrets::Keyring::from_parts(&new_key, "k2", "").unwrap();
    let owner = owner_id(&app).await;
    let c = upcheck_store::channels::get(&app.env.pool, &only_new, owner, channel).await.unwrap().unwrap();
    assert_eq!(c.config["secret"], secret.as_str());
    assert!(
        upcheck_store::channels::get(&app.env.pool, app.env.keys(), owner, channel).await.is_err(),
        "k1 alone no longer opens it"
    );
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_upcheck-api"))
        .arg("rotate-secrets")
        .env_clear()
        .envs(&vars)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("channel configs: 0 sealed"), "idempotent");
}

#[tokio::test]
async fn serve_without_secrets_key_stops_naming_it() {
    let env = upcheck_testkit::TestEnv::new().await;
    let mut vars = env.vars.clone();
    vars.remove("SECRETS_KEY");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_upcheck-api"))
        .env_clear()
        .envs(&vars)
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SECRETS_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_clear_legacy_channel_is_shown_masked_and_one_under_a_lost_key_is_a_500_not_a_panic() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let owner = owner_id(&app).await;
    let secret = "whsec_bGVnYWN5LXNlY3JldC12YWx1ZQ==";
    let legacy = uuid::Uuid::now_v7();
    app.env
        .db()
        .await
        .execute(
            "INSERT INTO channels (id, owner_id, kind, name, config) VALUES ($1, $2, 'webhook', 'old', $3)",
            &[&legacy, &owner, &json!({"url": "http://127.0.0.1:9/", "secret": secret})],
        )
        .await
        .unwrap();
    let lost = upcheck_secrets::Keyring::from_parts(&upcheck_secrets::generate_key(), "k0", "").unwrap();
    let config = json!({"url": "http://127.0.0.1:9/", "secret": secret});
    let orphan = upcheck_store::channels::create(
        &app.env.pool,
        &lost,
        owner,
        upcheck_domain::ChannelKind::Webhook,
        "lost",
        &config,
    )
    .await
    .unwrap()
    .id;

    let shown: Value = app.get(&format!("/api/v1/channels/{legacy}"), &token).await.json().await.unwrap();
    let broken = app.get(&format!("/api/v1/channels/{orphan}"), &token).await;

    assert_eq!(shown["config"]["secret"], mask_token(secret));
    assert_eq!(broken.status(), 500);
    let body = broken.text().await.unwrap();
    assert!(!body.contains(secret), "{body}");
    assert_eq!(app.get("/api/v1/monitors", &token).await.status(), 200, "the API still answers");
}
