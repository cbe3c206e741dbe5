//! One alert is one trace: the span that probed the deciding check, the status-change span
//! that opened the incident and the span that delivered the `monitor.down` webhook share a
//! trace id, the context crossing both streams and the outbox.

use crate::helpers::{Stack, WAIT};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};
use upcheck_domain::TraceParent;
use upcheck_testkit::{FlipTarget, WebhookReceiver, wait_for};

/// Installs, for this process, a subscriber exporting every span to memory, with Upcheck's
/// per-check `debug` spans, as `TRACES_FILTER`'s default does. Global because the stack runs on
/// many threads; nextest runs each test in a process of its own, so the crate's other tests
/// never see it (under plain `cargo test` they would only export spans no one reads).
fn export_to_memory() -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("e2e"))
        .with_filter(EnvFilter::new(upcheck_runtime::DEFAULT_TRACES_FILTER));
    let logs = std::env::var_os("TEST_LOG").map(|_| {
        tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
    });
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel).with(logs))
        .expect("no other subscriber in this process");
    (exporter, provider)
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

/// The one finished span named `name` whose `key` is `value`.
fn span_with(spans: &[SpanData], name: &str, key: &str, value: &str) -> Option<SpanData> {
    spans.iter().find(|s| s.name == name && attribute(s, key).as_deref() == Some(value)).cloned()
}

fn parent_of<'a>(spans: &'a [SpanData], child: &SpanData) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.span_context.span_id() == child.parent_span_id)
        .unwrap_or_else(|| panic!("the parent of {:?} was exported", child.name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_alert_is_one_trace_from_the_probe_to_the_webhook() {
    let (exporter, provider) = export_to_memory();
    let stack = Stack::start().await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let (monitor_id, _) = stack.watched(&target.url, &receiver.url, 2).await;

    // Act: the target fails until the down webhook arrives.
    target.set_status(500);
    let hook = wait_for("the down webhook", WAIT, || async { receiver.received().into_iter().next() }).await;
    let notification_id = hook.header("webhook-id").expect("webhook-id").to_string();
    let event_id = hook.json()["event_id"].as_str().expect("event_id").to_string();
    assert_eq!(hook.json()["type"], "monitor.down");

    // The spans of the delivery and of the status change, once the delivery's have ended.
    let finished = || {
        provider.force_flush().expect("flush");
        exporter.get_finished_spans().expect("spans")
    };
    let (deliver, status_change) = wait_for("the delivery's and the status change's spans", WAIT, || async {
        let spans = finished();
        let deliver = span_with(&spans, "channel_deliver", "notification_id", &notification_id)?;
        let status_change = span_with(&spans, "status_change", "event_id", &event_id)?;
        let notification = spans.iter().find(|s| s.span_context.span_id() == deliver.parent_span_id)?;
        spans.iter().any(|s| s.span_context.span_id() == notification.parent_span_id).then_some(())?;
        Some((deliver, status_change))
    })
    .await;

    // Assert: one trace id from the probe to the webhook.
    let trace = deliver.span_context.trace_id();
    assert_ne!(trace, TraceId::INVALID);
    assert_eq!(attribute(&deliver, "http_status").as_deref(), Some("200"));
    assert_eq!(attribute(&deliver, "kind").as_deref(), Some("webhook"));
    assert_eq!(status_change.span_context.trace_id(), trace, "the status change is in the alert's trace");
    assert_eq!(attribute(&status_change, "monitor_id"), Some(monitor_id.clone()));
    assert!(attribute(&status_change, "incident_id").is_some(), "the incident is recorded on the span");
    let in_trace = |s: &SpanData| s.name == "check" && s.span_context.trace_id() == trace;
    let spans = wait_for("the deciding check's spans in the alert's trace", WAIT, || async {
        let spans = finished();
        let parent_ended = |c: &SpanData| spans.iter().any(|s| s.span_context.span_id() == c.parent_span_id);
        let check = spans.iter().find(|s| in_trace(s))?;
        parent_ended(check).then_some(())?;
        Some(spans)
    })
    .await;
    let checks: Vec<&SpanData> = spans.iter().filter(|s| in_trace(s)).collect();
    let [check] = checks[..] else { panic!("one check in the alert's trace, got {}", checks.len()) };
    assert_eq!(attribute(check, "monitor_id"), Some(monitor_id.clone()));
    assert_eq!(attribute(check, "outcome").as_deref(), Some("down"));

    // The chain, link by link: check ← status-change entry ← status change ← notification
    // entry ← notification ← delivery.
    let notification = parent_of(&spans, &deliver);
    assert_eq!(notification.name, "notification");
    assert_eq!(attribute(notification, "notification_id"), Some(notification_id.clone()));
    let notification_entry = parent_of(&spans, notification);
    assert_eq!(notification_entry.name, "stream_entry");
    assert_eq!(
        attribute(notification_entry, "stream"),
        Some(stack.env.settings.streams.notification.clone())
    );
    assert_eq!(notification_entry.parent_span_id, status_change.span_context.span_id());
    let status_entry = parent_of(&spans, &status_change);
    assert_eq!(attribute(status_entry, "stream"), Some(stack.env.settings.streams.status_change.clone()));
    assert_eq!(status_entry.parent_span_id, check.span_context.span_id(), "continues the check's span");
    let check_entry = parent_of(&spans, check);
    assert_eq!(check_entry.name, "stream_entry");
    assert_eq!(check_entry.parent_span_id, SpanId::INVALID, "the probe's entry starts the trace");

    // The deciding check is the stored failing check of that job, and the outbox kept its
    // context with the event (for a relay after a crash).
    let job_id = attribute(check_entry, "stream_id").expect("the check's entry id");
    let db = stack.env.db().await;
    let status: String =
        db.query_one("SELECT status FROM check_results WHERE job_id = $1", &[&job_id]).await.unwrap().get(0);
    assert_eq!(status, "down");
    let stored: Option<String> = db
        .query_one("SELECT trace_context FROM status_events WHERE id = $1::text::uuid", &[&event_id])
        .await
        .unwrap()
        .get(0);
    let stored = TraceParent::parse(&stored.expect("the outbox keeps the context")).unwrap();
    assert_eq!(stored.trace_id, trace.to_bytes());
    assert_eq!(stored.span_id, check.span_context.span_id().to_bytes());

    stack.stop().await;
}
