//! tcp and dns monitors created through the REST API, probed by the pipeline: up, then down
//! with a webhook when the listener goes away and when the name's answer changes.

use crate::helpers::{Stack, WAIT};
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use upcheck_testkit::dns::DnsServer;
use upcheck_testkit::{TestEnv, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_dns_monitors_go_up_then_down_with_a_webhook_each() {
    let dns = DnsServer::start().await;
    dns.set_a("app.test", &[Ipv4Addr::new(192, 0, 2, 10)]);
    let env = TestEnv::with_env(&[("PROBE_DNS_SERVERS", &dns.addr.to_string())]).await;
    let stack = Stack::start_in(env).await;
    let receiver = WebhookReceiver::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.80:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let channel = stack
        .post("/channels", json!({"kind": "webhook", "name": "ops", "config": {"url": receiver.url}}))
        .await;
    let monitor = |name: &str, kind: &str, config: Value| {
        json!({"name": name, "kind": kind, "config": config, "interval_seconds": 1, "timeout_ms": 500,
               "failure_threshold": 1, "channel_ids": [channel["id"]]})
    };
    let tcp =
        stack.post("/monitors", monitor("db", "tcp", json!({"host": "127.0.0.80", "port": port}))).await;
    let dns_monitor = stack
        .post("/monitors", monitor("app", "dns", json!({"name": "app.test", "expected": ["192.0.2.10"]})))
        .await;
    for m in [&tcp, &dns_monitor] {
        let id = m["id"].as_str().unwrap();
        wait_for("up", WAIT, || async {
            (stack.get(&format!("/monitors/{id}")).await["status"] == "up").then_some(())
        })
        .await;
    }

    accept.abort();
    dns.set_a("app.test", &[Ipv4Addr::new(192, 0, 2, 99)]);
    let hooks = wait_for("both down webhooks", WAIT, || async {
        let hooks: Vec<Value> = receiver.received().iter().map(|h| h.json()).collect();
        (hooks.len() >= 2).then_some(hooks)
    })
    .await;

    let cause = |id: &Value| {
        hooks.iter().find(|h| h["monitor"]["id"] == *id).map(|h| h["cause"].as_str().unwrap().to_string())
    };
    assert_eq!(cause(&tcp["id"]).as_deref(), Some("connection refused"));
    assert_eq!(
        cause(&dns_monitor["id"]).as_deref(),
        Some("dns A app.test: expected any of [192.0.2.10], got [192.0.2.99]")
    );
    assert_eq!(tcp["url"], format!("tcp://127.0.0.80:{port}"));
    stack.stop().await;
}
