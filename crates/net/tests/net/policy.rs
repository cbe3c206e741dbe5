use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use upcheck_config::ProbeSettings;
use upcheck_domain::netpolicy::{NetworkPolicy, parse_networks};
use upcheck_net::{ConnectError, Outbound};
use upcheck_testkit::dns::DnsServer;
use upcheck_testkit::http_target::{HttpTarget, Reply};

const ALLOWED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const BLOCKED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn outbound(dns: &DnsServer) -> Outbound {
    upcheck_config::install_crypto_provider();
    Outbound::new(&ProbeSettings {
        policy: NetworkPolicy {
            blocked: parse_networks("127.0.0.3/32").unwrap(),
            ..NetworkPolicy::default()
        },
        dns_servers: vec![dns.addr],
        dns_timeout_ms: 500,
        ca_cert: None,
        ..ProbeSettings::default()
    })
    .unwrap()
}

/// A target on the allowed address and one on the blocked address, on the same port.
async fn twin_targets() -> (HttpTarget, HttpTarget) {
    let allowed = HttpTarget::start_on(ALLOWED, |_| Reply::ok("allowed")).await;
    let blocked =
        HttpTarget::start_at(SocketAddr::from((BLOCKED, allowed.addr.port())), |_| Reply::ok("blocked"))
            .await;
    (allowed, blocked)
}

#[tokio::test]
async fn a_name_resolving_to_a_blocked_address_is_refused_before_any_connection() {
    let dns = DnsServer::start().await;
    dns.set_a("internal.test", &[BLOCKED]);
    let (_allowed, blocked) = twin_targets().await;
    let out = outbound(&dns);
    let client = out.http_client().build().unwrap();

    let err = client.get(format!("http://internal.test:{}/", blocked.addr.port())).send().await.unwrap_err();

    assert_eq!(
        Outbound::connect_error_in(&err).as_deref(),
        Some("blocked address 127.0.0.3 (blocked network)")
    );
    assert_eq!(blocked.hits(), 0);
}

#[tokio::test]
async fn an_answer_rebound_to_a_blocked_address_after_a_good_one_is_refused_at_connect() {
    let dns = DnsServer::start().await;
    dns.set_a("rebind.test", &[ALLOWED]);
    let (allowed, blocked) = twin_targets().await;
    let out = outbound(&dns);
    let client = out.http_client().pool_max_idle_per_host(0).build().unwrap();
    let url = format!("http://rebind.test:{}/", allowed.addr.port());

    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.text().await.unwrap(), "allowed");
    dns.set_a("rebind.test", &[BLOCKED]);
    let err = client.get(&url).send().await.unwrap_err();

    assert_eq!(
        Outbound::connect_error_in(&err).as_deref(),
        Some("blocked address 127.0.0.3 (blocked network)")
    );
    assert_eq!((allowed.hits(), blocked.hits()), (1, 0));
}

#[tokio::test]
async fn only_the_allowed_addresses_of_a_mixed_answer_are_used() {
    let dns = DnsServer::start().await;
    dns.set_a("mixed.test", &[BLOCKED, ALLOWED]);
    let out = outbound(&dns);

    assert_eq!(out.resolve("mixed.test").await.unwrap(), vec![std::net::IpAddr::V4(ALLOWED)]);
}

#[tokio::test]
async fn tcp_connects_obey_the_policy_for_names_and_literals() {
    let dns = DnsServer::start().await;
    dns.set_a("db.test", &[BLOCKED]);
    let (allowed, blocked) = twin_targets().await;
    let out = outbound(&dns);
    let port = allowed.addr.port();

    assert!(matches!(out.connect_tcp("db.test", port).await, Err(ConnectError::Blocked(_))));
    assert!(matches!(out.connect_tcp("127.0.0.3", port).await, Err(ConnectError::Blocked(_))));
    assert!(matches!(out.connect_tcp("[::ffff:127.0.0.3]", port).await, Err(ConnectError::Blocked(_))));
    out.connect_tcp("127.0.0.2", port).await.expect("the allowed address connects");
    assert_eq!(blocked.hits(), 0);
}

#[tokio::test]
async fn literal_ips_in_urls_are_judged_without_a_lookup() {
    let dns = DnsServer::start().await;
    let out = outbound(&dns);
    let url = |s: &str| url::Url::parse(s).unwrap();

    assert!(out.check_url(&url("http://127.0.0.3:80/")).is_err());
    assert!(out.check_url(&url("http://[::ffff:7f00:3]/")).is_err());
    assert!(out.check_url(&url("http://169.254.169.254/latest/meta-data/")).is_err());
    assert!(out.check_url(&url("http://127.0.0.2/")).is_ok());
    assert!(out.check_url(&url("http://anything.test/")).is_ok());
    assert_eq!(dns.queries(), 0);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_fails_fast_with_a_dns_error() {
    let dns = DnsServer::start().await;
    let out = outbound(&dns);
    let started = std::time::Instant::now();

    let err = out.resolve("nowhere.test").await.unwrap_err();

    assert!(matches!(err, ConnectError::Dns(_)), "{err}");
    assert!(err.to_string().starts_with("dns lookup failed"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
