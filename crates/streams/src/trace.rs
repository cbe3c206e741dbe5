//! Trace context across the streams. The producer writes the current span's W3C
//! `traceparent` into each entry as the field [`TRACE_FIELD`], beside the message field `m`;
//! the runner reads it back and makes it the parent of the span it handles the entry in, so
//! one alert is one trace from the probe to the webhook.
//!
//! Why a field of its own rather than a key inside the JSON message: the runner sets the
//! handler span's parent before any handler decodes anything, for every stream alike, without
//! knowing the message types; the messages (and the dead letters and webhooks made from them)
//! stay exactly what they were; and a consumer that does not know the field ignores it, so
//! workers of either version can be deployed in any order.
//!
//! Everything here is a no-op unless the process installed an OpenTelemetry layer
//! (`tracing-opentelemetry`) and the span in question is enabled: without one, no field is
//! written and none is read.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use upcheck_domain::TraceParent;

/// The entry field holding the producer's W3C `traceparent`.
pub const TRACE_FIELD: &str = "tp";

/// The current span's trace context, if it has one (an OpenTelemetry layer is installed and the
/// span is enabled).
pub fn current() -> Option<TraceParent> {
    of(&tracing::Span::current())
}

/// `span`'s trace context, if it has one.
pub fn of(span: &tracing::Span) -> Option<TraceParent> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let otel = context.span();
    let sc = otel.span_context();
    sc.is_valid().then(|| TraceParent {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8(),
    })
}

/// Makes the remote span `parent` the parent of `span`, which must not have been entered yet.
/// Does nothing when no OpenTelemetry layer is installed or `span` is disabled.
pub fn set_parent(span: &tracing::Span, parent: TraceParent) {
    if span.is_disabled() {
        return;
    }
    let remote = SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.span_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    );
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// The trace context among an entry's fields, if one is there and well-formed.
pub(crate) fn from_fields(fields: &[(String, String)]) -> Option<TraceParent> {
    fields.iter().find(|(k, _)| k == TRACE_FIELD).and_then(|(_, v)| TraceParent::parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Entry;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt;

    fn subscriber() -> (impl tracing::Subscriber + Send + Sync, InMemorySpanExporter, SdkTracerProvider) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        (tracing_subscriber::registry().with(layer), exporter, provider)
    }

    #[test]
    fn a_context_written_into_an_entry_is_the_parent_of_the_span_that_reads_it() {
        let (subscriber, exporter, provider) = subscriber();
        tracing::subscriber::with_default(subscriber, || {
            // Inject: the producer's fields for a message sent inside a span.
            let producer = tracing::info_span!("produce");
            let fields = producer.in_scope(|| crate::producer::entry_fields("{}".into(), current()));
            let sent = of(&producer).expect("the producer span has a context");
            let entry = Entry {
                id: "1-0".into(),
                fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            };
            // Extract: the runner's parent for the span that handles the entry.
            let parent = from_fields(&entry.fields).expect("the entry carries a context");
            assert_eq!(parent, sent);
            let handler = tracing::info_span!("handle");
            set_parent(&handler, parent);
            let received = handler.in_scope(|| current().expect("the handler span has a context"));
            assert_eq!(received.trace_id, sent.trace_id, "one trace");
            assert_ne!(received.span_id, sent.span_id, "a span of its own");
        });
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        let produce = spans.iter().find(|s| s.name == "produce").expect("producer span exported");
        let handle = spans.iter().find(|s| s.name == "handle").expect("handler span exported");
        assert_eq!(handle.span_context.trace_id(), produce.span_context.trace_id());
        assert_eq!(handle.parent_span_id, produce.span_context.span_id());
    }

    #[test]
    fn without_an_opentelemetry_layer_nothing_is_written_and_nothing_breaks() {
        let fields = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            let span = tracing::info_span!("produce");
            span.in_scope(|| crate::producer::entry_fields("{}".into(), current()))
        });
        assert_eq!(fields.len(), 1, "only the message field: {fields:?}");
        let handler = tracing::info_span!("handle");
        set_parent(&handler, TraceParent { trace_id: [1; 16], span_id: [2; 8], flags: 1 });
        assert_eq!(from_fields(&[(TRACE_FIELD.into(), "garbage".into())]), None);
    }
}
