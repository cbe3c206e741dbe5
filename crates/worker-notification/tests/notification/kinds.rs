//! Deliveries over the non-webhook kinds through the worker, to local fake providers whose
//! base URLs are the worker's settings.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_testkit::fixtures::{apply_down, channel, enqueue_notifications, monitor, spec, user};
use upcheck_testkit::http_target::{HttpTarget, Reply};
use upcheck_testkit::{TestEnv, wait_for};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);
const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// A monitor named "test monitor" with one `kind` channel, a `down` event applied and its
/// notification job enqueued; returns the notification id and the incident id.
async fn down_notification(env: &TestEnv, kind: &str, config: serde_json::Value) -> (Uuid, Uuid) {
    let owner = user(env).await;
    let s = spec("http://127.0.0.1:1/health");
    monitor(env, owner, &s).await;
    channel(env, owner, s.monitor_id, kind, &config).await;
    let notification = apply_down(env, s.monitor_id).await[0].pending_notifications[0];
    let incident: Uuid = env
        .db()
        .await
        .query_one("SELECT id FROM incidents WHERE monitor_id = $1", &[&s.monitor_id])
        .await
        .unwrap()
        .get(0);
    enqueue_notifications(env, &[notification]).await;
    (notification, incident)
}

async fn start(env: &TestEnv) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let worker = upcheck_worker_notification::start(env.settings.clone(), cancel.clone()).await.unwrap();
    (cancel, tokio::spawn(worker.wait()))
}

async fn finished(env: &TestEnv, id: Uuid) -> (String, i32, Option<String>) {
    wait_for("a finished delivery", WAIT, || async {
        let r = env
            .db()
            .await
            .query_one("SELECT state, attempts, last_error FROM notifications WHERE id = $1", &[&id])
            .await
            .unwrap();
        let state: String = r.get(0);
        (state != "pending").then(|| (state, r.get(1), r.get(2)))
    })
    .await
}

#[tokio::test]
async fn a_down_alert_reaches_telegram_through_the_worker() {
    upcheck_config::install_crypto_provider();
    let api = HttpTarget::start(|_| Reply::ok(r#"{"ok": true, "result": {"message_id": 9}}"#)).await;
    let env = TestEnv::with_env(&[("TELEGRAM_API_URL", &api.base)]).await;
    let (notification, incident) =
        down_notification(&env, "telegram", serde_json::json!({"bot_token": TOKEN, "chat_id": 4242})).await;
    let (cancel, task) = start(&env).await;

    let outcome = finished(&env, notification).await;

    assert_eq!(outcome, ("delivered".into(), 1, None));
    let got = api.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, format!("/bot{TOKEN}/sendMessage"));
    let body = got[0].json();
    assert_eq!(
        (&body["chat_id"], &body["parse_mode"]),
        (&serde_json::json!(4242), &serde_json::json!("HTML"))
    );
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("<b>test monitor is down</b>\n"), "{text}");
    assert!(text.contains("<b>Cause:</b> connection refused"), "{text}");
    assert!(text.contains(&format!("<b>Incident:</b> {incident}")), "{text}");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_pagerduty_refusal_fails_the_notification_at_once_and_a_stored_unknown_kind_is_failed_unsent() {
    upcheck_config::install_crypto_provider();
    let events = HttpTarget::start(|_| Reply {
        status: 400,
        body: r#"{"status":"invalid event","message":"Event object is invalid"}"#.into(),
        ..Reply::default()
    })
    .await;
    let env = TestEnv::with_env(&[("PAGERDUTY_EVENTS_URL", &format!("{}/v2/enqueue", events.base))]).await;
    let (refused, incident) = down_notification(
        &env,
        "pagerduty",
        serde_json::json!({"routing_key": "R01ABCDEF23456789ABCDEF012345678"}),
    )
    .await;
    let (unknown, _) = down_notification(&env, "carrier-pigeon", serde_json::json!({})).await;
    let (cancel, task) = start(&env).await;

    let refused_outcome = finished(&env, refused).await;
    let unknown_outcome = finished(&env, unknown).await;

    assert_eq!(
        refused_outcome,
        ("failed".into(), 1, Some("receiver answered 400: Event object is invalid".into()))
    );
    assert_eq!(events.requests().len(), 1);
    assert_eq!(events.requests()[0].json()["dedup_key"], incident.to_string());
    assert_eq!(unknown_outcome.0, "failed");
    assert_eq!(unknown_outcome.2.as_deref(), Some("unsupported channel kind \"carrier-pigeon\""));
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_down_alert_reaches_an_smtp_server_through_the_worker_as_one_message() {
    use upcheck_testkit::smtp::{SmtpServer, SmtpTls};
    upcheck_config::install_crypto_provider();
    let smtp = SmtpServer::start(SmtpTls::Plain, None).await;
    let port = smtp.addr.port().to_string();
    let env = TestEnv::with_env(&[
        ("SMTP_HOST", "127.0.0.1"),
        ("SMTP_PORT", &port),
        ("SMTP_SECURITY", "none"),
        ("SMTP_FROM", "Upcheck <alerts@upcheck.test>"),
    ])
    .await;
    let (notification, _) =
        down_notification(&env, "email", serde_json::json!({"to": ["ops@example.com"]})).await;
    let (cancel, task) = start(&env).await;

    assert_eq!(finished(&env, notification).await, ("delivered".into(), 1, None));
    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_to, ["ops@example.com"]);
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.contains(&format!("Message-ID: <{notification}@upcheck>")), "{text}");
    assert!(text.contains("Subject: [Upcheck] test monitor is down"), "{text}");
    cancel.cancel();
    task.await.unwrap();
}
