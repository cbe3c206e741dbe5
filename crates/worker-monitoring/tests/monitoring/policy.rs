//! The HTTP probe under the network policy: redirects hop by hop, each hop judged; names
//! judged on the addresses they resolve to, at connect time. `127.0.0.3` stands for a blocked
//! range (PROBE_BLOCKED_NETWORKS), so a wrong answer still never leaves this machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use upcheck_config::ProbeSettings;
use upcheck_domain::netpolicy::{NetworkPolicy, parse_networks};
use upcheck_domain::{CheckOutcome, HttpMethod};
use upcheck_net::Outbound;
use upcheck_testkit::dns::DnsServer;
use upcheck_testkit::fixtures::spec;
use upcheck_testkit::http_target::{HttpTarget, Reply, Seen};
use upcheck_worker_monitoring::probe::{HttpProbe, MAX_REDIRECTS, Probe};

const ALLOWED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const BLOCKED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A probe under `policy`, resolving names through `dns` (else through a loopback port that
/// answers nothing).
pub(crate) fn probe_with(policy: NetworkPolicy, dns: Option<&DnsServer>) -> HttpProbe {
    upcheck_config::install_crypto_provider();
    let dns_servers = vec![dns.map_or_else(|| "127.0.0.1:9".parse().unwrap(), |d| d.addr)];
    let outbound = Outbound::new(&ProbeSettings {
        policy,
        dns_servers,
        dns_timeout_ms: 300,
        ..ProbeSettings::default()
    })
    .unwrap();
    HttpProbe::new(outbound).unwrap()
}

fn blocking_127_0_0_3() -> NetworkPolicy {
    NetworkPolicy { blocked: parse_networks("127.0.0.3/32").unwrap(), ..NetworkPolicy::default() }
}

async fn blocked_target(port: u16) -> HttpTarget {
    HttpTarget::start_at(SocketAddr::from((BLOCKED, port)), |_| Reply::ok("secret")).await
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_blocked_one_fails_without_reaching_it() {
    let blocked = blocked_target(0).await;
    let location = format!("http://127.0.0.3:{}/admin", blocked.addr.port());
    let start = HttpTarget::start_on(ALLOWED, move |_| Reply::redirect(302, location.clone())).await;

    let r = probe_with(blocking_127_0_0_3(), None).probe(&spec(&format!("{}/", start.base))).await;

    assert_eq!(r.outcome, CheckOutcome::Down);
    assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    assert_eq!((start.hits(), blocked.hits()), (1, 0));
}

#[tokio::test]
async fn a_redirect_to_a_name_that_resolves_to_a_blocked_address_fails_at_connect() {
    let dns = DnsServer::start().await;
    dns.set_a("intranet.test", &[BLOCKED]);
    let blocked = blocked_target(0).await;
    let location = format!("http://intranet.test:{}/", blocked.addr.port());
    let start = HttpTarget::start_on(ALLOWED, move |_| Reply::redirect(307, location.clone())).await;

    let r = probe_with(blocking_127_0_0_3(), Some(&dns)).probe(&spec(&format!("{}/", start.base))).await;

    assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    assert_eq!(blocked.hits(), 0);
}

#[tokio::test]
async fn a_monitor_name_rebound_to_a_blocked_address_fails_its_next_check() {
    let dns = DnsServer::start().await;
    dns.set_a("svc.test", &[ALLOWED]);
    let allowed = HttpTarget::start_on(ALLOWED, |_| Reply::ok("fine").closing()).await;
    let blocked = blocked_target(allowed.addr.port()).await;
    let p = probe_with(blocking_127_0_0_3(), Some(&dns));
    let s = spec(&format!("http://svc.test:{}/", allowed.addr.port()));

    let first = p.probe(&s).await;
    dns.set_a("svc.test", &[BLOCKED]);
    let second = p.probe(&s).await;

    assert_eq!(first.outcome, CheckOutcome::Up, "{:?}", first.error);
    assert_eq!(second.outcome, CheckOutcome::Down);
    assert_eq!(second.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    assert_eq!(blocked.hits(), 0);
}

#[tokio::test]
async fn a_literal_blocked_address_is_refused_before_connecting() {
    let blocked = blocked_target(0).await;

    let r = probe_with(blocking_127_0_0_3(), None).probe(&spec(&format!("{}/", blocked.base))).await;

    assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.3 (blocked network)"));
    assert_eq!(blocked.hits(), 0);
}

#[tokio::test]
async fn loopback_is_refused_when_private_networks_are_not_allowed() {
    let target = HttpTarget::start(|_| Reply::ok("x")).await;
    let strict = NetworkPolicy { allow_private: false, ..NetworkPolicy::default() };

    let r = probe_with(strict.clone(), None).probe(&spec(&format!("{}/", target.base))).await;
    let named =
        probe_with(strict, None).probe(&spec(&format!("http://localhost:{}/", target.addr.port()))).await;

    assert_eq!(r.error.as_deref(), Some("blocked address 127.0.0.1 (loopback)"));
    assert_eq!(named.error.as_deref(), Some("blocked address 127.0.0.1 (loopback)"));
    assert_eq!(target.hits(), 0);
}

#[tokio::test]
async fn redirects_are_followed_with_rfc_9110_method_rules_and_credentials_stay_on_their_origin() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let other_seen = seen.clone();
    let other = HttpTarget::start_on(ALLOWED, move |s| {
        other_seen.lock().unwrap().push(s.clone());
        Reply::ok("landed")
    })
    .await;
    let other_base = other.base.clone();
    let start_seen = seen.clone();
    let start = HttpTarget::start(move |s| {
        start_seen.lock().unwrap().push(s.clone());
        match s.path.as_str() {
            "/form" => Reply::redirect(303, "/same-origin"),
            "/same-origin" => Reply::redirect(308, format!("{other_base}/elsewhere")),
            _ => Reply::ok("?"),
        }
    })
    .await;
    let mut s = spec(&format!("{}/form", start.base));
    s.method = HttpMethod::Post;
    s.body = Some("a=1".into());
    s.headers.insert("authorization".into(), "Bearer t0k3n".into());
    s.headers.insert("x-trace".into(), "kept".into());

    let r = probe_with(NetworkPolicy::default(), None).probe(&s).await;

    assert_eq!(r.outcome, CheckOutcome::Up, "{:?}", r.error);
    let seen = seen.lock().unwrap();
    let trail: Vec<_> = seen.iter().map(|s| (s.method.as_str(), s.path.as_str())).collect();
    assert_eq!(trail, [("POST", "/form"), ("GET", "/same-origin"), ("GET", "/elsewhere")]);
    assert_eq!(seen[0].body, b"a=1");
    assert!(seen[1].body.is_empty());
    assert_eq!(seen[1].header("authorization"), Some("Bearer t0k3n"), "same origin keeps it");
    assert_eq!(seen[2].header("authorization"), None, "another origin never sees it");
    assert_eq!(seen[2].header("x-trace"), Some("kept"));
}

#[tokio::test]
async fn a_redirect_loop_fails_after_the_redirect_limit() {
    let target = HttpTarget::start(|s| {
        let n: usize = s.path.trim_start_matches("/r").parse().unwrap_or(0);
        Reply::redirect(302, format!("/r{}", n + 1))
    })
    .await;

    let r = probe_with(NetworkPolicy::default(), None).probe(&spec(&format!("{}/r0", target.base))).await;

    assert_eq!(r.error, Some(format!("too many redirects (more than {MAX_REDIRECTS})")));
    assert_eq!(target.hits(), MAX_REDIRECTS as u64 + 1);
}
