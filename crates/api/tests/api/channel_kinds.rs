//! Slack, Discord, Teams, Telegram, PagerDuty and ntfy channels: created with their configs
//! validated field by field, refused by kind, host list and network policy, and test sends
//! reaching local fake providers.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use upcheck_domain::netpolicy::parse_networks;
use upcheck_testkit::http_target::{HttpTarget, Reply};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const ROUTING_KEY: &str = "R01ABCDEF23456789ABCDEF012345678";

async fn create(app: &TestApp, token: &str, kind: &str, config: Value) -> reqwest::Response {
    app.call(
        Method::POST,
        "/api/v1/channels",
        Some(token),
        Some(json!({"kind": kind, "name": format!("{kind} alerts"), "config": config})),
    )
    .await
}

async fn test_send(app: &TestApp, token: &str, channel: &Value) -> Value {
    let path = format!("/api/v1/channels/{}/test", channel["id"].as_str().unwrap());
    app.call(Method::POST, &path, Some(token), None).await.json().await.unwrap()
}

#[tokio::test]
async fn every_kind_is_created_with_its_config_as_given_or_normalised() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let cases = [
        ("slack", json!({"url": "https://hooks.slack.com/services/T0/B0/x"}), None),
        ("discord", json!({"url": "https://discord.com/api/webhooks/1/x"}), None),
        ("teams", json!({"url": "https://x.logic.azure.com/workflows/1?sig=s"}), None),
        (
            "telegram",
            json!({"bot_token": TOKEN, "chat_id": "-1001234567890"}),
            Some(json!({"bot_token": TOKEN, "chat_id": -1_001_234_567_890_i64})),
        ),
        ("pagerduty", json!({"routing_key": ROUTING_KEY}), None),
        ("ntfy", json!({"topic": "ops", "priority": 4, "tags": ["prod"], "token": "tk_x"}), None),
    ];

    for (kind, config, stored) in cases {
        let r = create(&app, &token, kind, config.clone()).await;
        assert_eq!(r.status(), 201, "{kind}");
        let c: Value = r.json().await.unwrap();
        assert_eq!(c["kind"], kind);
        assert_eq!(c["config"], stored.unwrap_or(config), "{kind}");
    }
    let list: Value = app.get("/api/v1/channels", &token).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn each_kinds_bad_config_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let cases = [
        ("slack", json!({"url": "ftp://hooks.slack.com/x"}), "config.url"),
        ("slack", json!({}), "config.url"),
        ("discord", json!({"url": "https://discord.com/x", "username": "bot"}), "config.username"),
        ("teams", json!({"url": 7}), "config.url"),
        ("telegram", json!({"bot_token": "nope", "chat_id": 1}), "config.bot_token"),
        ("telegram", json!({"bot_token": TOKEN, "chat_id": "ops"}), "config.chat_id"),
        ("telegram", json!({"bot_token": TOKEN}), "config.chat_id"),
        ("pagerduty", json!({"routing_key": "too-short"}), "config.routing_key"),
        ("ntfy", json!({"topic": "a/b"}), "config.topic"),
        ("ntfy", json!({"topic": "t", "priority": 9}), "config.priority"),
        ("ntfy", json!({"topic": "t", "server_url": "ntfy.sh"}), "config.server_url"),
        ("ntfy", "not an object".into(), "config"),
    ];
    for (kind, config, field) in cases {
        let body = assert_problem(create(&app, &token, kind, config.clone()).await, 422, Some(field)).await;
        assert!(!body.to_string().contains("AAHdq"), "{body}");
    }
}

#[tokio::test]
async fn an_unknown_kind_is_a_422_naming_kind_and_listing_the_kinds() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;

    let body = assert_problem(create(&app, &token, "email-pigeon", json!({})).await, 422, Some("kind")).await;

    assert_eq!(
        body["errors"][0]["message"],
        "must be one of webhook, slack, discord, teams, telegram, pagerduty, ntfy, email"
    );
}

#[tokio::test]
async fn slack_and_discord_urls_obey_their_host_lists_and_every_url_the_network_policy() {
    let app = spawn_app_with(|s| {
        s.channels.slack_webhook_hosts = vec!["hooks.slack.com".into()];
        s.probe.policy.blocked = parse_networks("127.0.0.3/32").unwrap();
    })
    .await;
    let token = app.user("a@example.com").await;

    let elsewhere = create(&app, &token, "slack", json!({"url": "https://chat.example.org/hooks/x"})).await;
    let body = assert_problem(elsewhere, 422, Some("config.url")).await;
    assert_eq!(body["errors"][0]["message"], "host must be one of hooks.slack.com (SLACK_WEBHOOK_HOSTS)");
    let slack = create(&app, &token, "slack", json!({"url": "https://hooks.slack.com/services/T/B/x"})).await;
    assert_eq!(slack.status(), 201);
    let discord =
        create(&app, &token, "discord", json!({"url": "https://chat.example.org/api/webhooks/1/x"})).await;
    assert_eq!(discord.status(), 201, "no DISCORD_WEBHOOK_HOSTS: any host");
    let blocked =
        create(&app, &token, "ntfy", json!({"topic": "t", "server_url": "http://127.0.0.3:8080"})).await;
    assert_problem(blocked, 422, Some("config.server_url")).await;
    let blocked = create(&app, &token, "teams", json!({"url": "http://127.0.0.3/hook"})).await;
    assert_problem(blocked, 422, Some("config.url")).await;
}

#[tokio::test]
async fn a_patch_replaces_the_config_validated_for_the_channels_kind() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let c: Value = create(&app, &token, "telegram", json!({"bot_token": TOKEN, "chat_id": 1}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/channels/{}", c["id"].as_str().unwrap());

    let bad =
        app.call(Method::PATCH, &path, Some(&token), Some(json!({"config": {"url": "https://x.io"}}))).await;
    assert_problem(bad, 422, Some("config.url")).await;
    let ok: Value = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"config": {"bot_token": TOKEN, "chat_id": "@upcheck_ops", "message_thread_id": 3}})),
        )
        .await
        .json()
        .await
        .unwrap();

    // Shown masked, as every read of a channel shows its secrets.
    let masked = upcheck_secrets::mask::mask_token(TOKEN);
    assert_eq!(ok["config"], json!({"bot_token": masked, "chat_id": "@upcheck_ops", "message_thread_id": 3}));
}

#[tokio::test]
async fn test_sends_reach_a_slack_webhook_and_the_telegram_bot_api_as_rendered_messages() {
    let slack = HttpTarget::start(|_| Reply::ok("ok")).await;
    let telegram = HttpTarget::start(|_| Reply::ok(r#"{"ok": true, "result": {}}"#)).await;
    let api_url = telegram.base.clone();
    let app = spawn_app_with(move |s| s.channels.telegram_api_url = api_url).await;
    let token = app.user("a@example.com").await;
    let s: Value = create(&app, &token, "slack", json!({"url": format!("{}/services/T/B/x", slack.base)}))
        .await
        .json()
        .await
        .unwrap();
    let t: Value = create(&app, &token, "telegram", json!({"bot_token": TOKEN, "chat_id": 77}))
        .await
        .json()
        .await
        .unwrap();

    let slack_answer = test_send(&app, &token, &s).await;
    let telegram_answer = test_send(&app, &token, &t).await;

    assert_eq!(slack_answer, json!({"delivered": true, "http_status": 200}));
    assert_eq!(telegram_answer, json!({"delivered": true, "http_status": 200}));
    let blocks = slack.requests()[0].json();
    assert_eq!(blocks["text"], "Test notification from Upcheck");
    assert_eq!(blocks["blocks"][1]["text"]["text"], "If you can read this, the channel works.");
    let sent = &telegram.requests()[0];
    assert_eq!(sent.path, format!("/bot{TOKEN}/sendMessage"));
    let text = sent.json()["text"].as_str().unwrap().to_string();
    assert!(text.starts_with("<b>Test notification from Upcheck</b>\nIf you can read this"), "{text}");
    assert!(text.contains(&format!("<b>Channel:</b> {}", t["id"].as_str().unwrap())), "{text}");
}

#[tokio::test]
async fn an_email_channel_is_created_through_the_operators_server_and_its_fields_are_named() {
    let app = spawn_app_with(|s| {
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.from = Some("Upcheck <alerts@upcheck.test>".into());
    })
    .await;
    let token = app.user("a@example.com").await;

    let r = create(&app, &token, "email", json!({"to": [" ops@example.com ", "oncall@example.com"]})).await;
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["kind"], "email");
    assert_eq!(c["config"]["to"], json!(["ops@example.com", "oncall@example.com"]));

    assert_problem(
        create(&app, &token, "email", json!({"to": ["not an address"]})).await,
        422,
        Some("config.to[0]"),
    )
    .await;
    assert_problem(create(&app, &token, "email", json!({"to": []})).await, 422, Some("config.to")).await;
    // Users may not name their own server unless the operator allows it.
    let own = json!({"to": ["ops@example.com"], "smtp": {"host": "smtp.example.com"}});
    assert_problem(create(&app, &token, "email", own).await, 422, Some("config.smtp")).await;
}

#[tokio::test]
async fn an_email_channels_own_smtp_password_is_shown_masked_and_kept_by_a_masked_patch() {
    let app = spawn_app_with(|s| s.smtp.allow_user_servers = true).await;
    let token = app.user("a@example.com").await;
    let password = "correct horse battery staple";
    let config = json!({"to": ["ops@example.com"], "smtp": {"host": "127.0.0.1", "port": 2525,
        "security": "starttls", "username": "alerts", "password": password, "from": "alerts@example.com"}});

    let created: Value = create(&app, &token, "email", config).await.json().await.unwrap();
    let path = format!("/api/v1/channels/{}", created["id"].as_str().unwrap());
    let shown: Value = app.get(&path, &token).await.json().await.unwrap();

    assert_eq!(shown["config"]["smtp"]["password"], "••••aple");
    assert!(!shown.to_string().contains(password));
    // Sending the config back as shown keeps the stored password.
    let patched =
        app.call(Method::PATCH, &path, Some(&token), Some(json!({"config": shown["config"]}))).await;
    assert_eq!(patched.status(), 200);
    let owner: uuid::Uuid = app.env.db().await.query_one("SELECT id FROM users", &[]).await.unwrap().get(0);
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let stored =
        upcheck_store::channels::get(&app.env.pool, app.env.keys(), owner, id).await.unwrap().unwrap();
    assert_eq!(stored.config["smtp"]["password"], password);
}
