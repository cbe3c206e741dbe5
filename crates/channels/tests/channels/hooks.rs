//! Slack, Discord and Teams: the user's webhook URL gets the documented payload.

use crate::helpers::*;
use serde_json::json;
use upcheck_config::ChannelSettings;
use upcheck_domain::ChannelKind;
use upcheck_testkit::http_target::{HttpTarget, Reply};
use uuid::Uuid;

#[tokio::test]
async fn slack_gets_block_kit_blocks_with_an_escaped_text_fallback() {
    let slack = HttpTarget::start(|_| Reply::ok("ok")).await;
    let url = format!("{}/services/T000/B000/XXXX", slack.base);

    let r = channels(ChannelSettings::default())
        .deliver(Uuid::now_v7(), ChannelKind::Slack, &json!({"url": url}), &down())
        .await;

    assert!(r.delivered, "{:?}", r.error);
    let got = slack.requests();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].method.as_str(), got[0].path.as_str()), ("POST", "/services/T000/B000/XXXX"));
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(
        got[0].json(),
        json!({"text": "api is down", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "api is down", "emoji": true}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Monitor*\napi"},
                {"type": "mrkdwn", "text": format!("*URL*\n{URL}")},
                {"type": "mrkdwn", "text": "*Status*\nup → down"},
                {"type": "mrkdwn", "text": "*Cause*\nexpected 2xx, got 503 &lt;html&gt;"},
                {"type": "mrkdwn", "text": format!("*Incident*\n{INCIDENT}")},
            ]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Upcheck · monitor.down · {AT}")}]},
        ]})
    );
}

#[tokio::test]
async fn slack_urls_outside_slack_webhook_hosts_are_refused_without_a_request() {
    let slack = HttpTarget::start(|_| Reply::ok("ok")).await;
    let settings =
        ChannelSettings { slack_webhook_hosts: vec!["hooks.slack.com".into()], ..Default::default() };

    let r = channels(settings)
        .deliver(Uuid::now_v7(), ChannelKind::Slack, &json!({"url": format!("{}/x", slack.base)}), &down())
        .await;

    assert!(!r.delivered && r.permanent);
    assert_eq!(r.error.as_deref(), Some("config.url: host not allowed by SLACK_WEBHOOK_HOSTS"));
    assert_eq!(slack.hits(), 0);
}

#[tokio::test]
async fn discord_gets_one_embed_that_can_ping_nobody() {
    let discord = HttpTarget::start(|_| Reply { status: 204, ..Reply::default() }).await;
    let url = format!("{}/api/webhooks/1234/token", discord.base);

    let r = channels(ChannelSettings::default())
        .deliver(Uuid::now_v7(), ChannelKind::Discord, &json!({"url": url}), &down())
        .await;

    assert!(r.delivered, "{:?}", r.error);
    let got = discord.requests();
    assert_eq!(got[0].path, "/api/webhooks/1234/token");
    let field = |name: &str, value: &str| json!({"name": name, "value": value, "inline": true});
    assert_eq!(
        got[0].json(),
        json!({"embeds": [{
            "title": "api is down",
            "color": 0xD9_2D_20,
            "fields": [field("Monitor", "api"), field("URL", URL), field("Status", "up → down"),
                       field("Cause", CAUSE), field("Incident", INCIDENT)],
            "footer": {"text": "Upcheck · monitor.down"},
            "timestamp": AT,
            "url": URL,
        }], "allowed_mentions": {"parse": []}})
    );
}

#[tokio::test]
async fn discords_429_retry_after_header_is_honoured() {
    let discord = HttpTarget::start(|_| {
        Reply {
            status: 429,
            body: r#"{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}"#.into(),
            ..Reply::default()
        }
        .header("retry-after", "2")
    })
    .await;

    let r = channels(ChannelSettings::default())
        .deliver(
            Uuid::now_v7(),
            ChannelKind::Discord,
            &json!({"url": format!("{}/api/webhooks/1/t", discord.base)}),
            &down(),
        )
        .await;

    assert!(!r.delivered && !r.permanent);
    assert_eq!(r.retry_after_ms, Some(2_000), "the header wins over the body");
    assert_eq!(r.error.as_deref(), Some("receiver answered 429: You are being rate limited."));
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_in_a_message() {
    let teams = HttpTarget::start(|_| Reply { status: 202, ..Reply::default() }).await;
    let url =
        format!("{}/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s", teams.base);

    let r = channels(ChannelSettings::default())
        .deliver(Uuid::now_v7(), ChannelKind::Teams, &json!({"url": url}), &up())
        .await;

    assert!(r.delivered, "{:?}", r.error);
    let got = teams.requests();
    assert_eq!(got[0].path, "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s");
    let fact = |title: &str, value: &str| json!({"title": title, "value": value});
    assert_eq!(
        got[0].json(),
        json!({"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "api is up again", "weight": "Bolder", "size": "Medium", "color": "Good", "wrap": true},
                    {"type": "FactSet", "facts": [fact("Monitor", "api"), fact("URL", URL), fact("Status", "down → up"),
                                                  fact("Incident", INCIDENT), fact("At", AT)]},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Open monitored URL", "url": URL}],
            },
        }]})
    );
}

#[tokio::test]
async fn slacks_plain_text_refusal_is_final_and_named() {
    let slack =
        HttpTarget::start(|_| Reply { status: 404, body: "no_service".into(), ..Reply::default() }).await;

    let r = channels(ChannelSettings::default())
        .deliver(
            Uuid::now_v7(),
            ChannelKind::Slack,
            &json!({"url": format!("{}/services/T/B/gone", slack.base)}),
            &down(),
        )
        .await;

    assert!(!r.delivered && r.permanent);
    assert_eq!((r.http_status, r.error.as_deref()), (Some(404), Some("receiver answered 404: no_service")));
}
