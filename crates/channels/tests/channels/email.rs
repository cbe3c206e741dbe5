use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};
use std::path::PathBuf;
use time::{Duration as Days, OffsetDateTime};
use upcheck_channels::{Channel, EmailChannel};
use upcheck_config::{ProbeSettings, SmtpSettings};
use upcheck_domain::channel::SmtpSecurity;
use upcheck_domain::{MonitorStatus, WebhookIncident, WebhookMonitor, WebhookPayload};
use upcheck_net::Outbound;
use upcheck_testkit::smtp::{SmtpServer, SmtpStep, SmtpTls};
use upcheck_testkit::tls_target::TestCa;
use uuid::Uuid;

/// A test CA, its PEM on disk, and servers presenting its certificates.
pub(crate) struct Mail {
    pub(crate) ca: TestCa,
    pub(crate) ca_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mail {
    pub(crate) fn new() -> Self {
        upcheck_config::install_crypto_provider();
        let ca = TestCa::new();
        let dir = tempfile::tempdir().unwrap();
        let ca_path = ca.write_pem(dir.path());
        Self { ca, ca_path, _dir: dir }
    }

    /// A server securing its connections as `tls` says, with a certificate for `names`.
    pub(crate) async fn server(&self, tls: SmtpTls, names: &[&str]) -> SmtpServer {
        let now = OffsetDateTime::now_utc();
        SmtpServer::start(tls, Some(self.ca.leaf(names, now - Days::days(1), now + Days::days(30)))).await
    }

    /// The operator's settings pointing at `server` on `localhost`, trusting the test CA.
    pub(crate) fn settings(&self, server: &SmtpServer, security: SmtpSecurity) -> SmtpSettings {
        SmtpSettings {
            host: Some("localhost".into()),
            port: server.addr.port(),
            security,
            from: Some("Upcheck <alerts@upcheck.test>".into()),
            timeout_ms: 5_000,
            ca_cert: Some(self.ca_path.clone()),
            ..SmtpSettings::default()
        }
    }
}

pub(crate) fn channel(settings: &SmtpSettings, probe: &ProbeSettings) -> EmailChannel {
    EmailChannel::new(settings, Outbound::new(probe).unwrap()).unwrap()
}

pub(crate) fn down_payload() -> Value {
    let at = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
    serde_json::to_value(WebhookPayload {
        event_id: Uuid::now_v7(),
        kind: "monitor.down".into(),
        monitor: WebhookMonitor {
            id: Uuid::now_v7(),
            name: "api".into(),
            url: "https://api.example.com/health".into(),
        },
        incident: Some(WebhookIncident { id: Uuid::now_v7(), opened_at: at, resolved_at: None }),
        previous_status: MonitorStatus::Up,
        status: MonitorStatus::Down,
        occurred_at: at,
        cause: Some("expected 2xx, got 503 <b>".into()),
        certificate: None,
        degraded: None,
        reminder: None,
        escalation: false,
        flapping: None,
    })
    .unwrap()
}

fn to_ops() -> Value {
    json!({"to": ["ops@example.com", "dev@example.com"]})
}

#[tokio::test]
async fn a_starttls_delivery_arrives_as_one_multipart_message_with_both_parts() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    let id = Uuid::now_v7();

    let r = channel(&mail.settings(&server, SmtpSecurity::Starttls), &ProbeSettings::default())
        .deliver(id, &to_ops(), &down_payload())
        .await;

    assert!(r.delivered, "{:?}", r.error);
    let got = server.messages();
    assert_eq!(got.len(), 1, "one message for both recipients");
    let m = &got[0];
    assert!(m.tls, "sent after STARTTLS");
    assert_eq!(m.mail_from, "alerts@upcheck.test");
    assert_eq!(m.rcpt_to, ["ops@example.com", "dev@example.com"]);
    let parsed = MessageParser::default().parse(&m.data).expect("a parsable message");
    let from = parsed.from().and_then(|a| a.first()).unwrap();
    assert_eq!((from.name(), from.address()), (Some("Upcheck"), Some("alerts@upcheck.test")));
    let to: Vec<_> = parsed.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["ops@example.com", "dev@example.com"]);
    assert_eq!(parsed.subject(), Some("[Upcheck] api is down (https://api.example.com/health)"));
    assert_eq!(parsed.message_id(), Some(format!("{id}@upcheck").as_str()));
    assert!(parsed.date().is_some());
    assert_eq!(parsed.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    assert_eq!(parsed.root_part().content_type().and_then(|c| c.subtype()), Some("alternative"));
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains("Status: up → down") && text.contains("Cause: expected 2xx, got 503 <b>"),
        "{text}"
    );
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("<td>expected 2xx, got 503 &lt;b&gt;</td>"), "{html}");
    assert!(html.contains("<a href=\"https://api.example.com/health\">"), "{html}");
}

#[tokio::test]
async fn an_implicit_tls_delivery_arrives() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Implicit, &["localhost"]).await;

    let r = channel(&mail.settings(&server, SmtpSecurity::Tls), &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;

    assert!(r.delivered, "{:?}", r.error);
    let got = server.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
}

#[tokio::test]
async fn the_operators_credentials_reach_the_server_and_a_wrong_password_is_final_and_unshown() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    server.require_auth("upcheck", "correct horse");
    let mut settings = mail.settings(&server, SmtpSecurity::Starttls);
    settings.username = Some("upcheck".into());
    settings.password = Some("correct horse".into());

    let ok = channel(&settings, &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;
    settings.password = Some("wrong battery".into());
    let refused = channel(&settings, &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;

    assert!(ok.delivered, "{:?}", ok.error);
    let got = server.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].auth, Some(("upcheck".to_string(), "correct horse".to_string())));
    assert!(!refused.delivered && refused.permanent, "535 is final");
    let error = refused.error.unwrap();
    assert!(error.contains("535") && !error.contains("wrong battery"), "{error}");
}

#[tokio::test]
async fn a_550_answer_is_final() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    server.refuse(SmtpStep::Rcpt, "550 5.1.1 no such user");

    let r = channel(&mail.settings(&server, SmtpSecurity::Starttls), &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;

    assert!(!r.delivered && r.permanent);
    assert_eq!(r.error.as_deref(), Some("SMTP server answered 550: 5.1.1 no such user"));
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_451_answer_is_retried() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    server.refuse(SmtpStep::Data, "451 4.3.0 try again later");

    let r = channel(&mail.settings(&server, SmtpSecurity::Starttls), &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;

    assert!(!r.delivered && !r.permanent);
    assert_eq!(r.error.as_deref(), Some("SMTP server answered 451: 4.3.0 try again later"));
}

#[tokio::test]
async fn a_server_whose_certificate_is_not_trusted_gets_nothing() {
    let mail = Mail::new();
    let starttls = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    let implicit = mail.server(SmtpTls::Implicit, &["localhost"]).await;
    let other_name = mail.server(SmtpTls::Implicit, &["mail.other.test"]).await;
    let untrusting = |s: &SmtpServer, security| SmtpSettings { ca_cert: None, ..mail.settings(s, security) };

    let probe = ProbeSettings::default();
    let a = channel(&untrusting(&starttls, SmtpSecurity::Starttls), &probe)
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;
    let b = channel(&untrusting(&implicit, SmtpSecurity::Tls), &probe)
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;
    let c = channel(&mail.settings(&other_name, SmtpSecurity::Tls), &probe)
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;

    for r in [&a, &b, &c] {
        assert!(!r.delivered && !r.permanent, "{r:?}");
        assert!(r.error.as_deref().unwrap().starts_with("TLS failed: invalid peer certificate"), "{r:?}");
    }
    assert!(
        starttls.messages().is_empty() && implicit.messages().is_empty() && other_name.messages().is_empty()
    );
}

#[tokio::test]
async fn a_redelivery_carries_the_same_message_id() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    let sender = channel(&mail.settings(&server, SmtpSecurity::Starttls), &ProbeSettings::default());
    let (id, other) = (Uuid::now_v7(), Uuid::now_v7());
    let payload = down_payload();

    for n in [id, id, other] {
        assert!(sender.deliver(n, &to_ops(), &payload).await.delivered);
    }

    let ids: Vec<String> = server
        .messages()
        .iter()
        .map(|m| MessageParser::default().parse(&m.data).unwrap().message_id().unwrap().to_string())
        .collect();
    assert_eq!(ids, [format!("{id}@upcheck"), format!("{id}@upcheck"), format!("{other}@upcheck")]);
}

#[tokio::test]
async fn starttls_is_required_when_asked_for_and_nothing_is_sent_without_it() {
    let mail = Mail::new();
    let plain = SmtpServer::start(SmtpTls::Plain, None).await;
    let mut settings = mail.settings(&plain, SmtpSecurity::Starttls);
    settings.username = Some("upcheck".into());
    settings.password = Some("never in clear".into());

    let r = channel(&settings, &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;

    assert!(!r.delivered && !r.permanent);
    assert_eq!(r.error.as_deref(), Some("the server does not offer STARTTLS"));
    assert!(plain.messages().is_empty());
}

#[tokio::test]
async fn a_refused_connection_and_a_silent_server_are_retried() {
    let mail = Mail::new();
    let server = mail.server(SmtpTls::Starttls, &["localhost"]).await;
    let mut refused = mail.settings(&server, SmtpSecurity::Starttls);
    refused.host = Some("127.0.0.81".into()); // nothing listens on this loopback address
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut slow = mail.settings(&server, SmtpSecurity::Starttls);
    slow.port = silent.local_addr().unwrap().port();
    slow.timeout_ms = 300;

    let a = channel(&refused, &ProbeSettings::default())
        .deliver(Uuid::now_v7(), &to_ops(), &down_payload())
        .await;
    let b =
        channel(&slow, &ProbeSettings::default()).deliver(Uuid::now_v7(), &to_ops(), &down_payload()).await;

    assert!(!a.delivered && !a.permanent, "{a:?}");
    assert_eq!(a.error.as_deref(), Some("connection refused"));
    assert!(!b.delivered && !b.permanent, "{b:?}");
    assert_eq!(b.error.as_deref(), Some("timed out"));
    assert!(b.latency_ms.unwrap() < 2_000);
}
