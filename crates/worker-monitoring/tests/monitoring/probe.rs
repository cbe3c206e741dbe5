//! The HTTP probe against real local servers.

use upcheck_domain::{CheckOutcome, ExpectedStatus};
use upcheck_testkit::fixtures::spec;
use upcheck_testkit::{FlipTarget, SilentTarget};
use upcheck_worker_monitoring::probe::{HttpProbe, Probe};

fn probe() -> HttpProbe {
    crate::policy::probe_with(upcheck_domain::netpolicy::NetworkPolicy::default(), None)
}

#[tokio::test]
async fn a_healthy_target_is_up_with_its_status_and_latency() {
    let target = FlipTarget::start().await;

    let r = probe().probe(&spec(&target.url)).await;

    assert_eq!(r.outcome, CheckOutcome::Up);
    assert_eq!(r.http_status, Some(200));
    assert!(r.latency_ms.is_some());
    assert_eq!(r.error, None);
}

#[tokio::test]
async fn an_unexpected_status_is_down_and_says_what_was_expected() {
    let target = FlipTarget::start().await;
    target.set_status(503);

    let r = probe().probe(&spec(&target.url)).await;

    assert_eq!(r.outcome, CheckOutcome::Down);
    assert_eq!(r.http_status, Some(503));
    assert_eq!(r.error.as_deref(), Some("expected 2xx, got 503"));
}

#[tokio::test]
async fn expected_status_accepts_exact_codes_and_judges_redirects_unfollowed() {
    let target = FlipTarget::start().await;
    target.set_status(301);
    let mut s = spec(&target.url);
    s.expected_status = vec![ExpectedStatus::Class(2), ExpectedStatus::Code(301)];

    let r = probe().probe(&s).await;

    assert_eq!((r.outcome, r.http_status), (CheckOutcome::Up, Some(301)));
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);

    let r = probe().probe(&spec(&url)).await;

    assert_eq!(r.outcome, CheckOutcome::Down);
    assert_eq!(r.error.as_deref(), Some("connection refused"));
    assert_eq!(r.latency_ms, None);
}

#[tokio::test]
async fn a_target_that_never_answers_times_out_after_the_monitor_timeout() {
    let target = SilentTarget::start().await;
    let mut s = spec(&target.url);
    s.timeout_ms = 300;

    let started = std::time::Instant::now();
    let r = probe().probe(&s).await;

    assert_eq!(r.error.as_deref(), Some("timed out after 300 ms"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn a_dead_listener_fails_the_very_next_check_despite_pooled_connections() {
    // On a loopback address of its own: once it stops, no other test's server can take its
    // port on 127.0.0.1 and answer in its place.
    let target =
        upcheck_testkit::http_target::HttpTarget::start_on(std::net::Ipv4Addr::new(127, 0, 0, 77), |_| {
            upcheck_testkit::http_target::Reply::ok("ok")
        })
        .await;
    let p = probe();
    let s = spec(&format!("{}/", target.base));
    assert_eq!(p.probe(&s).await.outcome, CheckOutcome::Up);
    assert_eq!(p.probe(&s).await.outcome, CheckOutcome::Up);

    target.stop().await;
    let r = p.probe(&s).await;

    assert_eq!(r.outcome, CheckOutcome::Down);
    assert_eq!(r.error.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let receiver = upcheck_testkit::WebhookReceiver::start().await;
    let mut s = spec(&receiver.url);
    s.method = upcheck_domain::HttpMethod::Post;
    s.headers.insert("x-probe".into(), "yes".into());
    s.body = Some("{\"ping\":1}".into());

    let r = probe().probe(&s).await;

    assert_eq!(r.outcome, CheckOutcome::Up);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-probe"), Some("yes"));
    assert_eq!(got[0].body, b"{\"ping\":1}");
}

/// A server that answers the first request on each connection and closes the connection when a
/// second one arrives on it, as a server whose keep-alive timeout fires just then does.
async fn one_request_per_connection_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                let _ = socket.read(&mut buf).await; // the next request on this connection…
                // …is dropped unanswered: the connection closes.
            });
        }
    });
    url
}

#[tokio::test]
async fn a_keep_alive_connection_closed_by_a_live_server_is_not_an_outage() {
    let url = one_request_per_connection_server().await;
    let p = probe();
    let s = spec(&url);

    let first = p.probe(&s).await;
    let second = p.probe(&s).await;

    assert_eq!(first.outcome, CheckOutcome::Up);
    assert_eq!((second.outcome, second.error), (CheckOutcome::Up, None), "retried on a fresh connection");
}
