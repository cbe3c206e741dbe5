//! Alert rules on monitor–channel links: `channels` on the monitor routes, validation naming
//! each field, the OpenAPI document, and acknowledge cancelling reminders and escalations.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn channel(app: &TestApp, token: &str, name: &str) -> String {
    let c: Value = app
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(token),
            Some(json!({"kind": "webhook", "name": name, "config": {"url": "http://127.0.0.1:1/hook"}})),
        )
        .await
        .json()
        .await
        .unwrap();
    c["id"].as_str().unwrap().to_string()
}

fn monitor_with(channels: Value) -> Value {
    json!({"name": "m", "url": "http://127.0.0.1:1/health", "channels": channels})
}

#[tokio::test]
async fn channels_with_rules_are_stored_and_shown_with_defaults_filled_in() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let (a, b) = (channel(&app, &token, "a").await, channel(&app, &token, "b").await);

    let r = app
        .create_monitor(
            &token,
            monitor_with(json!([
                {"channel_id": a, "events": ["monitor.down"], "delay_minutes": 5, "reminder_minutes": 30},
                {"channel_id": b, "escalate_after_minutes": 15},
            ])),
        )
        .await;

    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    let id = m["id"].as_str().unwrap();
    let shown: Value = app.get(&format!("/api/v1/monitors/{id}"), &token).await.json().await.unwrap();
    let mut expected = vec![
        json!({"channel_id": a, "events": ["monitor.down"], "delay_minutes": 5, "reminder_minutes": 30,
               "escalate_after_minutes": null}),
        json!({"channel_id": b, "events": ["monitor.down", "monitor.up", "certificate.expiring"],
               "delay_minutes": 0, "reminder_minutes": null, "escalate_after_minutes": 15}),
    ];
    expected.sort_by_key(|v| v["channel_id"].as_str().unwrap().to_string());
    assert_eq!(shown["channels"], json!(expected));
    assert_eq!(m["channels"], shown["channels"]);
    assert_eq!(shown["channel_ids"].as_array().unwrap().len(), 2);

    let patched: Value = app
        .call(
            Method::PATCH,
            &format!("/api/v1/monitors/{id}"),
            Some(&token),
            Some(json!({"channel_ids": [a]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        patched["channels"],
        json!([{"channel_id": a, "events": ["monitor.down", "monitor.up", "certificate.expiring"],
                "delay_minutes": 0, "reminder_minutes": null, "escalate_after_minutes": null}]),
        "channel_ids means the default rules"
    );
}

#[tokio::test]
async fn each_rule_field_is_422_naming_it() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let (a, b) = (channel(&app, &token, "a").await, channel(&app, &token, "b").await);
    let other = app.user("other@example.com").await;
    let foreign = channel(&app, &other, "theirs").await;
    let ok = json!({"channel_id": a});
    let cases = [
        (json!([ok, {"channel_id": b, "reminder_minutes": 0}]), "channels[1].reminder_minutes"),
        (json!([ok, {"channel_id": b, "reminder_minutes": 10_081}]), "channels[1].reminder_minutes"),
        (json!([{"channel_id": a, "events": ["monitor.sideways"]}]), "channels[0].events[0]"),
        (json!([{"channel_id": a, "events": []}]), "channels[0].events"),
        (json!([{"channel_id": a, "events": ["monitor.up", "monitor.up"]}]), "channels[0].events[1]"),
        (json!([{"channel_id": a, "delay_minutes": 1_441}]), "channels[0].delay_minutes"),
        (json!([{"channel_id": a, "delay_minutes": -1}]), "channels[0].delay_minutes"),
        (json!([{"channel_id": a, "delay_minutes": "soon"}]), "channels[0].delay_minutes"),
        (json!([{"channel_id": a, "escalate_after_minutes": 0}]), "channels[0].escalate_after_minutes"),
        (
            json!([{"channel_id": a, "escalate_after_minutes": 5, "delay_minutes": 5}]),
            "channels[0].delay_minutes",
        ),
        (json!([ok, ok]), "channels[1].channel_id"),
        (json!([{"channel_id": a, "surprise": 1}]), "channels[0].surprise"),
        (json!([{"events": ["monitor.down"]}]), "channels[0].channel_id"),
        (json!([ok, {"channel_id": foreign}]), "channels[1].channel_id"),
        (json!([ok, {"channel_id": Uuid::now_v7()}]), "channels[1].channel_id"),
    ];
    for (channels, field) in cases {
        let r = app.create_monitor(&token, monitor_with(channels.clone())).await;
        let problem = assert_problem(r, 422, Some(field)).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{channels}");
    }
    let both = json!({"name": "m", "url": "http://127.0.0.1:1/", "channel_ids": [a], "channels": [ok]});
    assert_problem(app.create_monitor(&token, both).await, 422, Some("channels")).await;
    let id = app.monitor(&token).await["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/monitors/{id}"),
            Some(&token),
            Some(json!({"channels": [{"channel_id": a, "reminder_minutes": -3}]})),
        )
        .await;
    assert_problem(r, 422, Some("channels[0].reminder_minutes")).await;
}

#[tokio::test]
async fn the_openapi_document_describes_channel_rules() {
    let app = spawn_app().await;

    let doc = app.openapi().await;

    let schemas = &doc["components"]["schemas"];
    let body = &schemas["ChannelRuleBody"]["properties"];
    for field in ["channel_id", "events", "delay_minutes", "reminder_minutes", "escalate_after_minutes"] {
        assert!(body.get(field).is_some(), "ChannelRuleBody.{field}");
        assert!(schemas["AlertRule"]["properties"].get(field).is_some(), "AlertRule.{field}");
    }
    assert!(schemas["CreateMonitor"]["properties"].get("channels").is_some());
    assert!(schemas["UpdateMonitor"]["properties"].get("channels").is_some());
    assert!(schemas["MonitorView"]["properties"].get("channels").is_some());
}

#[tokio::test]
async fn acknowledging_cancels_pending_reminders_and_escalations_but_not_delays() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let ch: Uuid = channel(&app, &token, "a").await.parse().unwrap();
    let monitor: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    let incident = Uuid::now_v7();
    let db = app.env.db().await;
    db.execute(
        "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_at) VALUES ($1, $2, 'open', $3, now())",
        &[&incident, &monitor, &Uuid::now_v7()],
    )
    .await
    .unwrap();
    for (kind, n) in [("reminder", 1), ("escalation", 0), ("delayed", 0)] {
        db.execute(
            "INSERT INTO alert_timers (incident_id, channel_id, kind, n, due_at) VALUES ($1, $2, $3, $4, now())",
            &[&incident, &ch, &kind, &n],
        )
        .await
        .unwrap();
    }

    let r = app
        .call(Method::POST, &format!("/api/v1/incidents/{incident}/acknowledge"), Some(&token), None)
        .await;

    assert_eq!(r.status(), 200);
    let states: Vec<(String, String)> = db
        .query("SELECT kind, state FROM alert_timers WHERE incident_id = $1 ORDER BY kind", &[&incident])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [("delayed", "pending"), ("escalation", "cancelled"), ("reminder", "cancelled")];
    assert_eq!(states, expected.map(|(k, s)| (k.to_string(), s.to_string())));
}
