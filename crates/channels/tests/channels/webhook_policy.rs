use serde_json::json;
use std::net::Ipv4Addr;
use std::time::Duration;
use upcheck_channels::{Channel, WebhookChannel};
use upcheck_config::ProbeSettings;
use upcheck_domain::netpolicy::{NetworkPolicy, parse_networks};
use upcheck_net::Outbound;
use upcheck_testkit::dns::DnsServer;
use upcheck_testkit::http_target::{HttpTarget, Reply};
use uuid::Uuid;

const BLOCKED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn sender(dns: &DnsServer) -> WebhookChannel {
    upcheck_config::install_crypto_provider();
    let outbound = Outbound::new(&ProbeSettings {
        policy: NetworkPolicy {
            blocked: parse_networks("127.0.0.3/32").unwrap(),
            ..NetworkPolicy::default()
        },
        dns_servers: vec![dns.addr],
        dns_timeout_ms: 300,
        ca_cert: None,
        ..ProbeSettings::default()
    })
    .unwrap();
    WebhookChannel::new(Duration::from_secs(2), outbound).unwrap()
}

fn config(url: &str) -> serde_json::Value {
    json!({"url": url, "secret": upcheck_domain::webhook::generate_secret()})
}

#[tokio::test]
async fn a_webhook_to_a_literal_blocked_address_fails_permanently_without_a_connection() {
    let dns = DnsServer::start().await;
    let receiver = HttpTarget::start_on(BLOCKED, |_| Reply::ok("")).await;

    let r = sender(&dns).deliver(Uuid::now_v7(), &config(&format!("{}/", receiver.base)), &json!({})).await;

    assert!(!r.delivered && r.permanent);
    assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    assert_eq!(receiver.hits(), 0);
}

#[tokio::test]
async fn a_webhook_to_a_name_rebound_to_a_blocked_address_is_refused_at_connect() {
    let dns = DnsServer::start().await;
    dns.set_a("hooks.test", &[Ipv4Addr::new(127, 0, 0, 2)]);
    let allowed = HttpTarget::start_on(Ipv4Addr::new(127, 0, 0, 2), |_| Reply::ok("").closing()).await;
    let blocked =
        HttpTarget::start_at(std::net::SocketAddr::from((BLOCKED, allowed.addr.port())), |_| Reply::ok(""))
            .await;
    let s = sender(&dns);
    let c = config(&format!("http://hooks.test:{}/", allowed.addr.port()));

    let first = s.deliver(Uuid::now_v7(), &c, &json!({})).await;
    dns.set_a("hooks.test", &[BLOCKED]);
    let second = s.deliver(Uuid::now_v7(), &c, &json!({})).await;

    assert!(first.delivered, "{:?}", first.error);
    assert!(!second.delivered);
    assert_eq!(second.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    assert_eq!((allowed.hits(), blocked.hits()), (1, 0));
}

#[tokio::test]
async fn final_refusals_retryable_answers_and_retry_after_are_told_apart() {
    let dns = DnsServer::start().await;
    let receiver = HttpTarget::start(|s| match s.path.as_str() {
        "/bad" => Reply { status: 400, ..Reply::default() },
        "/gone" => Reply { status: 410, ..Reply::default() },
        "/conflict" => Reply { status: 409, ..Reply::default() },
        "/slow-down" => Reply { status: 429, ..Reply::default() }.header("retry-after", "7"),
        "/busy" => {
            Reply { status: 503, ..Reply::default() }.header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
        }
        _ => Reply { status: 500, ..Reply::default() },
    })
    .await;
    let s = sender(&dns);
    let at = |path: &str| config(&format!("{}{path}", receiver.base));

    let bad = s.deliver(Uuid::now_v7(), &at("/bad"), &json!({})).await;
    let gone = s.deliver(Uuid::now_v7(), &at("/gone"), &json!({})).await;
    let conflict = s.deliver(Uuid::now_v7(), &at("/conflict"), &json!({})).await;
    let slow = s.deliver(Uuid::now_v7(), &at("/slow-down"), &json!({})).await;
    let busy = s.deliver(Uuid::now_v7(), &at("/busy"), &json!({})).await;
    let broken = s.deliver(Uuid::now_v7(), &at("/broken"), &json!({})).await;

    assert!(bad.permanent && gone.permanent, "a 400 or 410 is final at once");
    assert!(!conflict.permanent && !slow.permanent && !busy.permanent && !broken.permanent);
    assert_eq!(slow.retry_after_ms, Some(7_000));
    assert_eq!(busy.retry_after_ms, Some(0), "an HTTP-date in the past: retry now");
    assert_eq!(broken.retry_after_ms, None);
}
