//! Trace context through real Redis: the producer writes it beside the message, the runner
//! makes it the parent of the span the handler runs in.

use crate::helpers::*;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use upcheck_domain::TraceParent;
use upcheck_streams::{HandleError, Handler, Producer, Runner, StreamMessage};
use upcheck_testkit::{TestEnv, wait_for};

/// Keeps the trace context current in each call.
#[derive(Default)]
struct Seen(Mutex<Vec<Option<TraceParent>>>);

impl Handler for Seen {
    async fn handle(&self, _: &StreamMessage) -> Result<(), HandleError> {
        self.0.lock().unwrap().push(upcheck_streams::trace::current());
        Ok(())
    }
}

// A current-thread runtime, so the subscriber set for this thread sees every task: no global
// subscriber, nothing leaks into the other tests.
#[tokio::test]
async fn a_handler_continues_the_trace_of_the_span_that_added_its_entry() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);
    let env = TestEnv::new().await;
    let conns = conns(&env).await;
    let config = config(&env, "c1");
    let stream = config.stream.clone();
    let producer = Producer::new(conns.commands.clone(), 10_000);

    let span = tracing::info_span!("produce");
    let sent = span.in_scope(upcheck_streams::trace::current).expect("the producing span has a context");
    tracing::Instrument::instrument(producer.add(&stream, &"traced"), span).await.unwrap();
    producer.add(&stream, &"untraced").await.unwrap();
    let fields = entries(&env, &stream).await;
    assert_eq!(fields[0].get(upcheck_streams::trace::TRACE_FIELD), Some(&sent.to_string()));
    assert_eq!(fields[0].get("m").map(String::as_str), Some("\"traced\""), "the message is unchanged");
    assert!(!fields[1].contains_key(upcheck_streams::trace::TRACE_FIELD), "no span, no context");

    let seen = Arc::new(Seen::default());
    let runner = Runner::new(config, &conns, seen.clone());
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move { runner.run(cancel).await.unwrap() }
    });
    wait_for("both handled", Duration::from_secs(10), || async {
        (seen.0.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    cancel.cancel();
    task.await.unwrap();

    let seen = seen.0.lock().unwrap().clone();
    let traced = seen[0].expect("the handler runs in a traced span");
    assert_eq!(traced.trace_id, sent.trace_id, "the handler continues the producer's trace");
    let fresh = seen[1].expect("an entry without context still gets a span");
    assert_ne!(fresh.trace_id, sent.trace_id, "and a trace of its own");
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let entry = spans
        .iter()
        .find(|s| s.name == "stream_entry" && s.span_context.trace_id().to_bytes() == sent.trace_id)
        .expect("the runner's span is exported in the producer's trace");
    assert_eq!(entry.parent_span_id.to_bytes(), sent.span_id, "child of the producing span");
    let attribute =
        |key: &str| entry.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string());
    assert_eq!(attribute("stream"), Some(stream));
    assert_eq!(attribute("group"), Some("workers".to_string()));
    assert_eq!(attribute("deliveries"), Some("1".to_string()));
    assert!(attribute("stream_id").is_some());
}
