//! Every monitor kind and assertion against real local servers: HTTP with chosen bodies,
//! headers, delays and redirects; TCP listeners with banners; a DNS server the test runs; TLS
//! servers with certificates from a test CA.

use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::time::Duration;
use time::OffsetDateTime;
use upcheck_config::ProbeSettings;
use upcheck_domain::netpolicy::{NetworkPolicy, parse_networks};
use upcheck_domain::probe_config::KindConfig;
use upcheck_domain::{CheckOutcome, MonitorKind, ProbeSpec};
use upcheck_net::Outbound;
use upcheck_testkit::dns::DnsServer;
use upcheck_testkit::fixtures::spec;
use upcheck_testkit::http_target::{HttpTarget, Reply};
use upcheck_testkit::tls_target::{TestCa, TlsTarget};
use upcheck_worker_monitoring::probe::{KindProbe, Probe, ProbeResult, TrustedRoots};

fn probes(dns: Option<&DnsServer>, ca: Option<&TestCa>) -> KindProbe {
    upcheck_config::install_crypto_provider();
    let outbound = Outbound::new(&ProbeSettings {
        policy: NetworkPolicy {
            blocked: parse_networks("127.0.0.3/32").unwrap(),
            ..NetworkPolicy::default()
        },
        dns_servers: vec![dns.map_or_else(|| "127.0.0.1:9".parse().unwrap(), |d| d.addr)],
        dns_timeout_ms: 300,
        ca_cert: None,
        ..ProbeSettings::default()
    })
    .unwrap();
    let roots = ca.map_or_else(TrustedRoots::default, |ca| TrustedRoots::with_extra(vec![ca.der()]));
    KindProbe::new(outbound, roots).unwrap()
}

fn kind_spec(kind: MonitorKind, config: Value) -> ProbeSpec {
    let config = KindConfig::from_json(kind, &config).unwrap();
    let mut s = spec("http://127.0.0.1:9/");
    s.url = config.target().unwrap_or(s.url);
    s.kind = kind;
    s.config = config;
    s.timeout_ms = 800;
    s.validate().unwrap();
    s
}

async fn http(target: &HttpTarget, path: &str, config: Value) -> ProbeResult {
    let mut s = kind_spec(MonitorKind::Http, config);
    s.url = format!("{}{path}", target.base);
    probes(None, None).probe(&s).await
}

#[tokio::test]
async fn http_assertions_hold_or_are_each_named_in_the_error() {
    let target = HttpTarget::start(|s| match s.path.as_str() {
        "/ok" => Reply::ok(r#"{"status":"ok","deps":["db"]}"#).header("content-type", "application/json"),
        _ => Reply::ok(r#"{"status":"degraded"}"#).header("content-type", "text/plain"),
    })
    .await;
    let assertions = json!({"assertions": [
        {"type": "body_contains", "value": "status"},
        {"type": "body_not_contains", "value": "panic"},
        {"type": "json", "pointer": "/status", "op": "equals", "value": "ok"},
        {"type": "json", "pointer": "/deps", "op": "contains", "value": "db"},
        {"type": "header", "name": "Content-Type", "op": "matches", "value": "^application/json"},
        {"type": "latency_below", "ms": 700}
    ]});

    let good = http(&target, "/ok", assertions.clone()).await;
    let bad = http(&target, "/bad", assertions).await;

    assert_eq!((good.outcome, good.error), (CheckOutcome::Up, None));
    assert_eq!(bad.outcome, CheckOutcome::Down);
    assert_eq!(
        bad.error.as_deref(),
        Some(
            "json /status: expected \"ok\", got \"degraded\"; json /deps: not found; \
             header content-type: \"text/plain\" does not match /^application/json/"
        )
    );
}

#[tokio::test]
async fn a_status_failure_and_an_assertion_failure_are_both_named() {
    let target = HttpTarget::start(|_| Reply { status: 503, body: "busy".into(), ..Reply::default() }).await;

    let r = http(&target, "/", json!({"assertions": [{"type": "body_contains", "value": "OK"}]})).await;

    assert_eq!(r.error.as_deref(), Some("expected 2xx, got 503; body: keyword \"OK\" not found"));
}

#[tokio::test]
async fn a_slow_success_is_degraded_and_a_slower_limit_fails() {
    let target =
        HttpTarget::start(|_| Reply { delay: Duration::from_millis(150), ..Reply::ok("fine") }).await;

    let degraded = http(&target, "/", json!({"degraded_latency_ms": 100})).await;
    let fast_enough = http(&target, "/", json!({"degraded_latency_ms": 600})).await;
    let too_slow = http(&target, "/", json!({"assertions": [{"type": "latency_below", "ms": 100}]})).await;

    assert_eq!((degraded.outcome, degraded.error), (CheckOutcome::Degraded, None));
    assert_eq!(fast_enough.outcome, CheckOutcome::Up);
    assert_eq!(too_slow.outcome, CheckOutcome::Down);
    assert!(too_slow.error.unwrap().starts_with("latency: "), "names the latency");
}

#[tokio::test]
async fn max_redirects_refuses_or_limits_redirects() {
    let target = HttpTarget::start(|s| match s.path.as_str() {
        "/a" => Reply::redirect(302, "/b"),
        "/b" => Reply::redirect(302, "/c"),
        _ => Reply::ok("landed"),
    })
    .await;

    let refused = http(&target, "/a", json!({"max_redirects": 0})).await;
    let too_few = http(&target, "/a", json!({"max_redirects": 1})).await;
    let enough = http(&target, "/a", json!({"max_redirects": 2})).await;

    assert_eq!((refused.http_status, refused.error.as_deref()), (Some(302), Some("expected 2xx, got 302")));
    assert_eq!(too_few.error.as_deref(), Some("too many redirects (more than 1)"));
    assert_eq!((enough.outcome, enough.http_status), (CheckOutcome::Up, Some(200)));
}

/// A TCP listener that writes `banner` on connect, then echoes what it reads.
async fn banner_server(banner: &'static str) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = socket.write_all(banner.as_bytes()).await;
                let mut buf = [0u8; 256];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tcp_connects_and_checks_a_banner() {
    let addr = banner_server("SSH-2.0-test\r\n").await;
    let closed = std::net::TcpListener::bind("127.0.0.78:0").unwrap().local_addr().unwrap();
    let p = probes(None, None);
    let tcp = |host: &str, port: u16, extra: Value| {
        let mut c = json!({"host": host, "port": port});
        c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        kind_spec(MonitorKind::Tcp, c)
    };

    let open = p.probe(&tcp("127.0.0.1", addr.port(), json!({}))).await;
    let banner = p.probe(&tcp("127.0.0.1", addr.port(), json!({"expect": "SSH-2.0"}))).await;
    let wrong = p.probe(&tcp("127.0.0.1", addr.port(), json!({"expect": "220 "}))).await;
    let refused = p.probe(&tcp("127.0.0.78", closed.port(), json!({}))).await;
    let blocked = p.probe(&tcp("127.0.0.3", addr.port(), json!({}))).await;

    assert_eq!((open.outcome, banner.outcome), (CheckOutcome::Up, CheckOutcome::Up));
    assert_eq!(wrong.error.as_deref(), Some("banner: expected \"220 \", got \"SSH-2.0-test\\r\\n\""));
    assert_eq!(refused.error.as_deref(), Some("connection refused"));
    assert_eq!(blocked.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
}

#[tokio::test]
async fn tcp_sends_bytes_and_expects_the_answer() {
    let addr = banner_server("").await;
    let p = probes(None, None);
    let c = json!({"host": "127.0.0.1", "port": addr.port(), "send": "PING\r\n", "expect": "PING"});

    let r = p.probe(&kind_spec(MonitorKind::Tcp, c)).await;

    assert_eq!((r.outcome, r.error), (CheckOutcome::Up, None));
}

#[tokio::test]
async fn dns_answers_are_matched_any_or_all() {
    use upcheck_testkit::dns::{RData, RecordType, name};
    let dns = DnsServer::start().await;
    dns.set_a("app.test", &[Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 11)]);
    dns.set("app.test", RecordType::MX, vec![RData::MX(upcheck_testkit::dns::mx(10, "mail.app.test"))]);
    dns.set("app.test", RecordType::TXT, vec![RData::TXT(upcheck_testkit::dns::txt("v=spf1 -all"))]);
    let _ = name("app.test");
    let p = probes(Some(&dns), None);
    let d = |c: Value| kind_spec(MonitorKind::Dns, c);

    let any = p.probe(&d(json!({"name": "app.test", "expected": ["192.0.2.11", "192.0.2.99"]}))).await;
    let all = p
        .probe(&d(json!({"name": "app.test", "expected": ["192.0.2.11", "192.0.2.99"], "match": "all"})))
        .await;
    let mx = p
        .probe(&d(json!({"name": "app.test", "record_type": "MX", "expected": ["10 mail.app.test."]})))
        .await;
    let txt =
        p.probe(&d(json!({"name": "app.test", "record_type": "TXT", "expected": ["v=spf1 -all"]}))).await;
    let missing = p.probe(&d(json!({"name": "nowhere.test"}))).await;
    let via_own_server = {
        let mut s =
            d(json!({"name": "app.test", "resolver": dns.addr.to_string(), "expected": ["192.0.2.10"]}));
        s.timeout_ms = 800;
        probes(None, None).probe(&s).await
    };

    assert_eq!((any.outcome, any.error), (CheckOutcome::Up, None));
    assert_eq!(
        all.error.as_deref(),
        Some("dns A app.test: expected all of [192.0.2.11, 192.0.2.99], got [192.0.2.10, 192.0.2.11]")
    );
    assert_eq!((mx.outcome, mx.error), (CheckOutcome::Up, None));
    assert_eq!((txt.outcome, txt.error), (CheckOutcome::Up, None));
    assert_eq!(missing.error.as_deref(), Some("dns lookup failed: no such name"));
    assert_eq!((via_own_server.outcome, via_own_server.error), (CheckOutcome::Up, None));
}

#[tokio::test]
async fn dns_aaaa_cname_and_ns_answers_are_compared_as_text() {
    use upcheck_testkit::dns::{CNAME, NS, RData, RecordType, name};
    let dns = DnsServer::start().await;
    dns.set(
        "v6.test",
        RecordType::AAAA,
        vec![RData::AAAA("2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().into())],
    );
    dns.set("www.test", RecordType::CNAME, vec![RData::CNAME(CNAME(name("edge.cdn.test.")))]);
    dns.set("zone.test", RecordType::NS, vec![RData::NS(NS(name("ns1.zone.test.")))]);
    let p = probes(Some(&dns), None);
    let d = |c: Value| kind_spec(MonitorKind::Dns, c);

    let v6 =
        p.probe(&d(json!({"name": "v6.test", "record_type": "AAAA", "expected": ["2001:db8::1"]}))).await;
    let cname =
        p.probe(&d(json!({"name": "www.test", "record_type": "CNAME", "expected": ["EDGE.cdn.test"]}))).await;
    let ns =
        p.probe(&d(json!({"name": "zone.test", "record_type": "NS", "expected": ["ns2.zone.test"]}))).await;

    assert_eq!((v6.outcome, v6.error), (CheckOutcome::Up, None));
    assert_eq!(
        (cname.outcome, cname.error),
        (CheckOutcome::Up, None),
        "names compare without case or final dot"
    );
    assert_eq!(
        ns.error.as_deref(),
        Some("dns NS zone.test: expected any of [ns2.zone.test], got [ns1.zone.test]")
    );
}

#[tokio::test]
async fn a_dns_monitor_cannot_ask_a_blocked_name_server() {
    let p = probes(None, None);

    let r =
        p.probe(&kind_spec(MonitorKind::Dns, json!({"name": "app.test", "resolver": "127.0.0.3:53"}))).await;

    assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
}

async fn tls_target(ca: &TestCa, names: &[&str], days_valid_from: i64, days_valid_to: i64) -> TlsTarget {
    let now = OffsetDateTime::now_utc();
    let (chain, key) = ca.leaf(
        names,
        now + time::Duration::days(days_valid_from),
        now + time::Duration::days(days_valid_to),
    );
    TlsTarget::start(chain, key).await
}

fn tls_spec(host: &str, port: u16) -> ProbeSpec {
    kind_spec(MonitorKind::Tls, json!({"host": host, "port": port, "expiry_warning_days": 14}))
}

#[tokio::test]
async fn tls_checks_the_chain_the_host_name_and_the_expiry() {
    let ca = TestCa::new();
    let valid = tls_target(&ca, &["localhost"], -1, 90).await;
    let expired = tls_target(&ca, &["localhost"], -30, -1).await;
    let other_host = tls_target(&ca, &["other.test"], -1, 90).await;
    let expiring = tls_target(&ca, &["localhost"], -1, 3).await;
    let p = probes(None, Some(&ca));

    let ok = p.probe(&tls_spec("localhost", valid.addr.port())).await;
    let old = p.probe(&tls_spec("localhost", expired.addr.port())).await;
    let wrong = p.probe(&tls_spec("localhost", other_host.addr.port())).await;
    let soon = p.probe(&tls_spec("localhost", expiring.addr.port())).await;
    let untrusted = probes(None, None).probe(&tls_spec("localhost", valid.addr.port())).await;

    assert_eq!((ok.outcome, ok.error.as_deref()), (CheckOutcome::Up, None));
    let days = ok.certificate.as_ref().unwrap().days_left(OffsetDateTime::now_utc());
    assert!((88..=90).contains(&days), "{days}");
    assert_eq!(old.error.as_deref(), Some("certificate expired"));
    assert_eq!(wrong.error.as_deref(), Some("certificate not valid for host localhost"));
    assert_eq!(soon.outcome, CheckOutcome::Up, "an expiring certificate is still valid");
    assert!(soon.certificate.unwrap().days_left(OffsetDateTime::now_utc()) <= 3);
    assert_eq!(untrusted.error.as_deref(), Some("certificate signed by an unknown issuer"));
}

#[tokio::test]
async fn an_https_monitor_with_a_certificate_check_reports_the_certificate() {
    let ca = TestCa::new();
    let target = tls_target(&ca, &["localhost"], -1, 3).await;
    let mut s = kind_spec(MonitorKind::Http, json!({"certificate": {"expiry_warning_days": 14}}));
    s.url = format!("https://localhost:{}/", target.addr.port());

    let r = probes(None, Some(&ca)).probe(&s).await;

    assert_eq!((r.outcome, r.error.as_deref()), (CheckOutcome::Up, None));
    assert!(r.certificate.unwrap().days_left(OffsetDateTime::now_utc()) <= 3);
}
