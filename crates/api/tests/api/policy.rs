//! The network policy at the API: literal blocked addresses are 422s naming the field (nothing
//! stored, nothing scheduled), and test sends obey the policy and tell nothing about the
//! connection. Blocked ranges are loopback addresses configured as blocked; no request in these
//! tests is made to any address off this machine, and the monitors are created paused.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use upcheck_domain::netpolicy::parse_networks;
use upcheck_testkit::http_target::{HttpTarget, Reply};

async fn strict_app() -> TestApp {
    spawn_app_with(|s| {
        s.probe.policy.allow_private = false;
        s.probe.policy.blocked = parse_networks("127.0.0.3/32").unwrap();
    })
    .await
}

fn paused_monitor(url: &str) -> Value {
    json!({"name": "m", "url": url, "paused": true})
}

#[tokio::test]
async fn literal_blocked_addresses_in_monitor_urls_are_422_naming_url() {
    let app = strict_app().await;
    let token = app.user("a@example.com").await;
    let cases = [
        ("http://169.254.169.254/latest/meta-data/", "blocked address 169.254.169.254 (cloud metadata)"),
        ("http://[fd00:ec2::254]/", "blocked address fd00:ec2::254 (cloud metadata)"),
        ("http://169.254.1.1/", "blocked address 169.254.1.1 (link-local)"),
        ("http://[fe80::1]/", "blocked address fe80::1 (link-local)"),
        ("http://127.0.0.1:6379/", "blocked address 127.0.0.1 (loopback)"),
        ("http://localhost:5432/", "blocked address 127.0.0.1 (loopback)"),
        ("http://2130706433/", "blocked address 127.0.0.1 (loopback)"),
        ("http://[::ffff:127.0.0.1]/", "blocked address ::ffff:127.0.0.1 (loopback)"),
        ("http://10.0.0.1/", "blocked address 10.0.0.1 (private)"),
        ("http://172.16.5.4/", "blocked address 172.16.5.4 (private)"),
        ("http://192.168.1.1/", "blocked address 192.168.1.1 (private)"),
        ("http://100.64.0.1/", "blocked address 100.64.0.1 (shared address space)"),
        ("http://[fc00::1]/", "blocked address fc00::1 (unique local)"),
        ("http://0.0.0.0/", "blocked address 0.0.0.0 (unspecified)"),
        ("http://224.0.0.1/", "blocked address 224.0.0.1 (multicast)"),
        ("http://255.255.255.255/", "blocked address 255.255.255.255 (broadcast)"),
        ("http://127.0.0.3/", "blocked address 127.0.0.3 (blocked network)"),
    ];
    for (url, detail) in cases {
        let problem =
            assert_problem(app.create_monitor(&token, paused_monitor(url)).await, 422, Some("url")).await;
        assert!(problem["detail"].as_str().unwrap().contains(detail), "{url}: {problem}");
    }
    let list: Value =
        app.call(Method::GET, "/api/v1/monitors", Some(&token), None).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_patch_to_a_blocked_address_is_422_and_leaves_the_monitor_as_it_was() {
    let app = strict_app().await;
    let token = app.user("a@example.com").await;
    let m: Value =
        app.create_monitor(&token, paused_monitor("https://example.com/")).await.json().await.unwrap();
    let path = format!("/api/v1/monitors/{}", m["id"].as_str().unwrap());

    let r =
        app.call(Method::PATCH, &path, Some(&token), Some(json!({"url": "http://169.254.169.254/"}))).await;

    assert_problem(r, 422, Some("url")).await;
    let now: Value = app.call(Method::GET, &path, Some(&token), None).await.json().await.unwrap();
    assert_eq!(now["url"], "https://example.com/");
}

#[tokio::test]
async fn link_local_and_metadata_are_refused_by_default_while_private_networks_are_allowed() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;

    let metadata = app.create_monitor(&token, paused_monitor("http://169.254.169.254/")).await;
    let lan = app.create_monitor(&token, paused_monitor("http://192.168.1.10/")).await;

    assert_problem(metadata, 422, Some("url")).await;
    assert_eq!(lan.status(), 201);
}

#[tokio::test]
async fn webhook_urls_with_blocked_addresses_are_422_naming_config_url() {
    let app = strict_app().await;
    let token = app.user("a@example.com").await;
    for url in ["http://169.254.169.254/hook", "http://127.0.0.3:8080/", "http://[::1]:9/"] {
        let r = app
            .call(
                Method::POST,
                "/api/v1/channels",
                Some(&token),
                Some(json!({"kind": "webhook", "name": "n", "config": {"url": url}})),
            )
            .await;
        assert_problem(r, 422, Some("config.url")).await;
    }
}

#[tokio::test]
async fn a_test_send_to_a_name_that_resolves_to_a_blocked_address_reaches_nothing_and_says_only_not_delivered()
 {
    let dns = upcheck_testkit::dns::DnsServer::start().await;
    dns.set_a("hooks.test", &[std::net::Ipv4Addr::new(127, 0, 0, 3)]);
    let blocked = HttpTarget::start_on(std::net::Ipv4Addr::new(127, 0, 0, 3), |_| Reply::ok("")).await;
    let app = spawn_app_with(|s| {
        s.probe.policy.blocked = parse_networks("127.0.0.3/32").unwrap();
        s.probe.dns_servers = vec![dns.addr];
    })
    .await;
    let token = app.user("a@example.com").await;
    let url = format!("http://hooks.test:{}/", blocked.addr.port());

    let r = app.test_send_to(&token, &url).await;

    assert_eq!(r, json!({"delivered": false, "http_status": null}));
    assert_eq!(blocked.hits(), 0);
}

#[tokio::test]
async fn a_test_send_to_a_closed_port_tells_nothing_about_the_connection() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let closed = std::net::TcpListener::bind("127.0.0.79:0").unwrap().local_addr().unwrap();

    let r = app.test_send_to(&token, &format!("http://{closed}/")).await;

    assert_eq!(r, json!({"delivered": false, "http_status": null}));
}
