//! Every component serves Prometheus metrics that count what the pipeline did, and every
//! binary's `healthcheck` subcommand tells a live health endpoint from a dead one.

use crate::helpers::{Stack, WAIT};
use upcheck_testkit::{FlipTarget, WebhookReceiver, wait_for};

/// The value of the first sample of `name` whose labels contain every `label="value"` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        if metric != name {
            return None;
        }
        labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))).then(|| value.parse().ok())?
    })
}

async fn scrape(http: &reqwest::Client, url: String) -> String {
    let r = http.get(&url).send().await.expect("GET /metrics");
    assert_eq!(r.status(), 200, "{url}");
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{url}: {content_type}");
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_component_exports_what_the_pipeline_did() {
    let stack = Stack::start().await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    // Waiting for it to be up reads GET /monitors/{id}, counted below.
    stack.watched(&target.url, &receiver.url, 1).await;
    target.set_status(500);
    wait_for("the down webhook", WAIT, || async { receiver.received().into_iter().next() }).await;

    let s = &stack.env.settings.streams;
    let [monitoring, status_change, notification] =
        stack.health_ports.map(|p| format!("http://127.0.0.1:{p}/metrics"));

    let api = scrape(&stack.http, stack.api_metrics.clone()).await;
    let created = [("route", "/api/v1/monitors"), ("method", "POST"), ("status", "201")];
    assert!(sample(&api, "upcheck_http_requests_total", &created) >= Some(1.0), "{api}");
    assert!(sample(&api, "upcheck_http_request_duration_seconds_count", &created) >= Some(1.0));
    let read = [("route", "/api/v1/monitors/{id}"), ("method", "GET"), ("status", "200")];
    assert!(sample(&api, "upcheck_http_requests_total", &read) >= Some(1.0), "routes are patterns");
    assert_eq!(sample(&api, "upcheck_db_pool_max_connections", &[]), Some(8.0));

    let m = scrape(&stack.http, monitoring).await;
    let stream = stack.env.prefix.clone() + "monitoring:{0}";
    let group = [("stream", stream.as_str()), ("group", s.monitoring_group.as_str())];
    assert!(sample(&m, "upcheck_checks_total", &[("outcome", "up")]) >= Some(1.0), "{m}");
    assert!(sample(&m, "upcheck_checks_total", &[("outcome", "down")]) >= Some(1.0));
    assert!(sample(&m, "upcheck_probe_duration_seconds_count", &[("outcome", "down")]) >= Some(1.0));
    assert!(sample(&m, "upcheck_schedule_lag_seconds_bucket", &[("le", "+Inf")]) >= Some(2.0));
    assert!(sample(&m, "upcheck_status_changes_total", &[("to", "down")]) >= Some(1.0));
    assert!(sample(&m, "upcheck_stream_entries_read_total", &group) >= Some(2.0));
    assert!(sample(&m, "upcheck_stream_entries_acknowledged_total", &group) >= Some(2.0));
    assert!(sample(&m, "upcheck_stream_pending_entries", &group).is_some(), "pending is reported");
    assert!(sample(&m, "upcheck_stream_lag_entries", &group).is_some(), "lag is reported");
    assert!(sample(&m, "upcheck_stream_length", &[("stream", stream.as_str())]) >= Some(2.0));
    assert_eq!(
        sample(&m, "upcheck_stream_dead_letters", &[("stream", stream.as_str())]),
        Some(0.0),
        "dead letters are counted"
    );

    let sc = scrape(&stack.http, status_change).await;
    let group = [("stream", s.status_change.as_str()), ("group", s.status_change_group.as_str())];
    assert!(sample(&sc, "upcheck_stream_entries_acknowledged_total", &group) >= Some(1.0), "{sc}");
    assert_eq!(sample(&sc, "upcheck_stream_pending_entries", &group), Some(0.0));

    let delivered = [("channel", "webhook"), ("outcome", "delivered")];
    let group = [("stream", s.notification.as_str()), ("group", s.notification_group.as_str())];
    let n = wait_for("the delivery counted", WAIT, || async {
        let n = scrape(&stack.http, notification.clone()).await;
        (sample(&n, "upcheck_stream_entries_acknowledged_total", &group) >= Some(1.0)).then_some(n)
    })
    .await;
    assert!(sample(&n, "upcheck_notification_deliveries_total", &delivered) >= Some(1.0), "{n}");
    assert!(sample(&n, "upcheck_db_pool_connections", &[("state", "idle")]).is_some());

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_subcommand_passes_only_while_the_health_endpoint_answers() {
    let stack = Stack::start().await;
    let port = stack.health_ports[0];
    assert_eq!(upcheck_runtime::healthcheck("test", port).await, std::process::ExitCode::SUCCESS);
    let api_port: u16 = stack.api.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(upcheck_runtime::healthcheck("test", api_port).await, std::process::ExitCode::SUCCESS);
    stack.stop().await;
    assert_eq!(upcheck_runtime::healthcheck("test", port).await, std::process::ExitCode::FAILURE);
    assert_eq!(upcheck_runtime::healthcheck("test", api_port).await, std::process::ExitCode::FAILURE);
}
