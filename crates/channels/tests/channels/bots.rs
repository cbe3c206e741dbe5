//! Telegram, PagerDuty and ntfy: provider base URLs are settings pointed at local fakes.

use crate::helpers::*;
use serde_json::json;
use upcheck_config::ChannelSettings;
use upcheck_domain::ChannelKind;
use upcheck_testkit::http_target::{HttpTarget, Reply};
use uuid::Uuid;

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const ROUTING_KEY: &str = "R01ABCDEF23456789ABCDEF012345678";

fn telegram_at(base: &str) -> ChannelSettings {
    ChannelSettings { telegram_api_url: base.to_string(), ..Default::default() }
}

#[tokio::test]
async fn telegram_gets_send_message_with_escaped_html_at_the_tokens_path() {
    let api = HttpTarget::start(|_| Reply::ok(r#"{"ok": true, "result": {"message_id": 1}}"#)).await;
    let config = json!({"bot_token": TOKEN, "chat_id": "-1001234567890", "message_thread_id": 7});

    let r = channels(telegram_at(&api.base))
        .deliver(Uuid::now_v7(), ChannelKind::Telegram, &config, &down())
        .await;

    assert!(r.delivered, "{:?}", r.error);
    let got = api.requests();
    assert_eq!(got[0].path, format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(
        got[0].json(),
        json!({
            "chat_id": -1_001_234_567_890_i64,
            "message_thread_id": 7,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
            "text": format!("<b>api is down</b>\n\n<b>Monitor:</b> api\n<b>URL:</b> {URL}\n<b>Status:</b> up → down\n\
                <b>Cause:</b> expected 2xx, got 503 &lt;html&gt;\n<b>Incident:</b> {INCIDENT}\n<b>At:</b> {AT}"),
        })
    );
}

#[tokio::test]
async fn telegrams_429_retry_after_in_the_body_is_honoured() {
    let api = HttpTarget::start(|_| Reply {
        status: 429,
        body: r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#.into(),
        ..Reply::default()
    })
    .await;

    let r = channels(telegram_at(&api.base))
        .deliver(Uuid::now_v7(), ChannelKind::Telegram, &json!({"bot_token": TOKEN, "chat_id": 42}), &down())
        .await;

    assert!(!r.delivered && !r.permanent);
    assert_eq!(r.retry_after_ms, Some(7_000));
    assert_eq!(r.error.as_deref(), Some("receiver answered 429: Too Many Requests: retry after 7"));
}

#[tokio::test]
async fn a_telegram_400_is_final_and_no_error_repeats_the_token() {
    let api = HttpTarget::start(|s| {
        let body = if s.path.contains("sendMessage") {
            format!(
                r#"{{"ok":false,"error_code":400,"description":"Bad Request: chat not found for {TOKEN}"}}"#
            )
        } else {
            String::new()
        };
        Reply { status: 400, body, ..Reply::default() }
    })
    .await;
    let config = json!({"bot_token": TOKEN, "chat_id": "@upcheck_ops"});

    let refused = channels(telegram_at(&api.base))
        .deliver(Uuid::now_v7(), ChannelKind::Telegram, &config, &down())
        .await;
    let unreachable = channels(telegram_at("http://127.0.0.77:1"))
        .deliver(Uuid::now_v7(), ChannelKind::Telegram, &config, &down())
        .await;

    assert!(!refused.delivered && refused.permanent);
    assert_eq!(refused.error.as_deref(), Some("receiver answered 400: Bad Request: chat not found for …"));
    assert_eq!(api.requests()[0].json()["chat_id"], "@upcheck_ops");
    assert!(!unreachable.delivered && !unreachable.permanent);
    let why = unreachable.error.unwrap();
    assert!(why.starts_with("cannot connect"), "{why}");
    assert!(!why.contains("AAHdq") && !why.contains("127.0.0.77"), "{why}");
}

#[tokio::test]
async fn pagerduty_triggers_on_down_and_resolves_on_up_keyed_by_the_incident() {
    let events = HttpTarget::start(|_| Reply {
        status: 202,
        body: r#"{"status":"success","message":"Event processed"}"#.into(),
        ..Reply::default()
    })
    .await;
    let settings =
        ChannelSettings { pagerduty_events_url: format!("{}/v2/enqueue", events.base), ..Default::default() };
    let (c, config) = (channels(settings), json!({"routing_key": ROUTING_KEY}));

    let down_r = c.deliver(Uuid::now_v7(), ChannelKind::PagerDuty, &config, &down()).await;
    let up_r = c.deliver(Uuid::now_v7(), ChannelKind::PagerDuty, &config, &up()).await;
    let cert_r = c.deliver(Uuid::now_v7(), ChannelKind::PagerDuty, &config, &expiring()).await;

    assert!(down_r.delivered && up_r.delivered && cert_r.delivered, "{:?}", down_r.error);
    let got = events.requests();
    assert!(got.iter().all(|s| s.path == "/v2/enqueue" && s.method == "POST"));
    assert_eq!(
        got[0].json(),
        json!({
            "routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": INCIDENT, "client": "Upcheck",
            "links": [{"href": URL, "text": "Monitored URL"}],
            "payload": {
                "summary": "api is down", "source": URL, "severity": "critical", "timestamp": AT,
                "component": "api", "class": "monitor.down",
                "custom_details": {"monitor": "api", "url": URL, "status": "up → down", "cause": CAUSE,
                    "incident_id": INCIDENT, "occurred_at": AT, "monitor_id": MONITOR, "event_id": EVENT},
            },
        })
    );
    assert_eq!(
        got[1].json(),
        json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": INCIDENT})
    );
    let cert = got[2].json();
    assert_eq!(
        (
            &cert["event_action"],
            &cert["dedup_key"],
            &cert["payload"]["severity"],
            &cert["payload"]["summary"]
        ),
        (
            &json!("trigger"),
            &json!(format!("certificate:{MONITOR}:ab12")),
            &json!("warning"),
            &json!("The certificate of api expires in 3 days")
        )
    );
}

#[tokio::test]
async fn a_pagerduty_400_is_final_without_the_routing_key_in_the_error() {
    let events = HttpTarget::start(|_| Reply {
        status: 400,
        body: format!(r#"{{"status":"invalid event","message":"Event object is invalid","errors":["routing_key {ROUTING_KEY} unknown"]}}"#),
        ..Reply::default()
    })
    .await;
    let settings =
        ChannelSettings { pagerduty_events_url: format!("{}/v2/enqueue", events.base), ..Default::default() };

    let r = channels(settings)
        .deliver(Uuid::now_v7(), ChannelKind::PagerDuty, &json!({"routing_key": ROUTING_KEY}), &down())
        .await;

    assert!(!r.delivered && r.permanent);
    assert_eq!(
        r.error.as_deref(),
        Some("receiver answered 400: Event object is invalid (routing_key … unknown)")
    );
}

#[tokio::test]
async fn ntfy_gets_a_json_message_at_the_server_root_with_the_token_as_bearer() {
    let own = HttpTarget::start(|_| Reply::ok(r#"{"id":"x","event":"message"}"#)).await;
    let default = HttpTarget::start(|_| Reply::ok(r#"{"id":"y","event":"message"}"#)).await;
    let c = channels(ChannelSettings { ntfy_default_server: default.base.clone(), ..Default::default() });
    let config = json!({"topic": "upcheck-ops", "server_url": format!("{}/", own.base), "tags": ["prod"], "token": "tk_secret0123"});

    let first = c.deliver(Uuid::now_v7(), ChannelKind::Ntfy, &config, &down()).await;
    let second =
        c.deliver(Uuid::now_v7(), ChannelKind::Ntfy, &json!({"topic": "t", "priority": 2}), &up()).await;

    assert!(first.delivered && second.delivered, "{:?} {:?}", first.error, second.error);
    let got = own.requests();
    assert_eq!((got[0].path.as_str(), got[0].header("authorization")), ("/", Some("Bearer tk_secret0123")));
    assert_eq!(
        got[0].json(),
        json!({
            "topic": "upcheck-ops", "title": "api is down", "priority": 5, "tags": ["rotating_light", "prod"], "click": URL,
            "message": format!("Monitor: api\nURL: {URL}\nStatus: up → down\nCause: {CAUSE}\nIncident: {INCIDENT}\nAt: {AT}"),
        })
    );
    let other = default.requests();
    assert_eq!((other[0].path.as_str(), other[0].header("authorization")), ("/", None));
    let body = other[0].json();
    assert_eq!(
        (&body["topic"], &body["priority"], &body["tags"]),
        (&json!("t"), &json!(2), &json!(["white_check_mark"]))
    );
}

#[tokio::test]
async fn a_stored_config_that_no_longer_parses_fails_permanently() {
    let c = channels(ChannelSettings::default());

    let r = c.deliver(Uuid::now_v7(), ChannelKind::Ntfy, &json!({"topic": "bad topic"}), &down()).await;

    assert!(!r.delivered && r.permanent);
    assert_eq!(r.error.as_deref(), Some("config.topic: must be 1 to 64 letters, digits, - or _"));
}
