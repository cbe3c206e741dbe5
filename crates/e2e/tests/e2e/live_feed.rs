//! The live feed through a real nginx running the shipped `deploy/nginx/upcheck.conf`: a flip
//! of a monitored target reaches `GET /api/v1/events` within a second, with the proxy's
//! security headers, and check outcomes flow with `?checks=true`.

use crate::helpers::{Stack, WAIT};
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upcheck_testkit::sse::SseReader;
use upcheck_testkit::{FlipTarget, Nginx, WebhookReceiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flip_reaches_the_feed_through_nginx_within_a_second() {
    let stack = Stack::start().await;
    let api_port: u16 = stack.api.rsplit(':').next().unwrap().parse().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/upcheck.conf");
    let nginx = Nginx::start(&config, api_port).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let (id, _) = stack.watched(&target.url, &receiver.url, 1).await;

    let r = stack
        .http
        .get(format!("{}/api/v1/events?checks=true", nginx.url))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", nginx.error_log());
    let h = r.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(h.get("x-accel-buffering").is_none(), "nginx consumes X-Accel-Buffering");
    let mut feed = SseReader::new(r);

    // Checks come through unbuffered, one per second.
    let check = feed.next_event("check", WAIT).await.json();
    assert_eq!((check["monitor_id"].as_str(), check["status"].as_str()), (Some(id.as_str()), Some("up")));

    target.set_status(500);
    let flipped = std::time::Instant::now();
    let down = loop {
        let status = feed.next_event("status", WAIT).await;
        if status.json()["status"] == "down" {
            break status;
        }
    };
    let received = OffsetDateTime::now_utc();
    let body = down.json();
    assert_eq!(
        (body["monitor_id"].as_str(), body["type"].as_str()),
        (Some(id.as_str()), Some("monitor.down"))
    );
    let occurred = OffsetDateTime::parse(body["occurred_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let latency = received - occurred;
    eprintln!(
        "status change through nginx: {latency} after the deciding check, {:?} after the flip",
        flipped.elapsed()
    );
    assert!(latency < time::Duration::seconds(1), "the down event took {latency} from the check to the feed");
    let incident = feed.next_event("incident", Duration::from_secs(1)).await;
    assert_eq!(incident.seq(), down.seq(), "the incident opened by that event shares its id");
    assert_eq!(incident.json()["action"], "opened");
    assert_eq!(incident.json()["incident_id"], body["incident_id"]);

    drop(feed);
    drop(nginx);
    stack.stop().await;
}
