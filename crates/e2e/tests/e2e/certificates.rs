//! An expiring certificate is reported once per certificate: a `tls` monitor and an `https`
//! monitor with a certificate check, against a TLS server whose certificate (from a test CA
//! trusted through PROBE_CA_CERT) expires in three days.

use crate::helpers::{Stack, WAIT};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use upcheck_testkit::tls_target::{TestCa, TlsTarget};
use upcheck_testkit::{TestEnv, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expiring_within_the_warning_is_reported_once_per_monitor() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = ca.write_pem(dir.path());
    let now = OffsetDateTime::now_utc();
    let (chain, key) = ca.leaf(&["localhost"], now - time::Duration::days(1), now + time::Duration::days(3));
    let server = TlsTarget::start(chain, key).await;
    let env = TestEnv::with_env(&[("PROBE_CA_CERT", ca_path.to_str().unwrap())]).await;
    let stack = Stack::start_in(env).await;
    let receiver = WebhookReceiver::start().await;
    let channel = stack
        .post("/channels", json!({"kind": "webhook", "name": "ops", "config": {"url": receiver.url}}))
        .await;
    let tls = stack
        .post(
            "/monitors",
            json!({"name": "cert", "kind": "tls", "interval_seconds": 1, "timeout_ms": 800,
                   "config": {"host": "localhost", "port": server.addr.port(), "expiry_warning_days": 14},
                   "channel_ids": [channel["id"]]}),
        )
        .await;
    let https = stack
        .post(
            "/monitors",
            json!({"name": "site", "url": format!("https://localhost:{}/", server.addr.port()),
                   "interval_seconds": 1, "timeout_ms": 800, "config": {"certificate": {"expiry_warning_days": 7}},
                   "channel_ids": [channel["id"]]}),
        )
        .await;

    let notices = wait_for("a notice per monitor", WAIT, || async {
        let hooks: Vec<Value> = receiver.received().iter().map(|h| h.json()).collect();
        (hooks.len() >= 2).then_some(hooks)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await; // three more checks of each
    let all: Vec<Value> = receiver.received().iter().map(|h| h.json()).collect();

    assert_eq!(all.len(), 2, "once per certificate, however many checks see it: {all:?}");
    let mut monitors: Vec<&str> = notices.iter().map(|n| n["monitor"]["id"].as_str().unwrap()).collect();
    monitors.sort_unstable();
    let mut expected = [tls["id"].as_str().unwrap(), https["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(monitors, expected);
    for n in &notices {
        assert_eq!(n["type"], "certificate.expiring");
        assert_eq!(n["status"], "up", "the check itself is up");
        assert!(n["incident"].is_null());
        assert!((2..=3).contains(&n["certificate"]["days_left"].as_i64().unwrap()), "{n}");
        assert_eq!(n["certificate"]["fingerprint"].as_str().unwrap().len(), 64);
        assert!(n["cause"].as_str().unwrap().starts_with("certificate expires in "));
    }
    let open = stack.get("/incidents?state=open").await;
    assert_eq!(open["items"], json!([]), "no incident opens");
    assert!(server.handshakes() >= 4);
    stack.stop().await;
}
