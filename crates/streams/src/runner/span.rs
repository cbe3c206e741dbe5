//! The span each entry is handled in: `stream_entry`, with the stream, the group, the entry id
//! and how often it has been delivered, and as parent the trace context the entry carries (see
//! [`crate::trace`]), so the handler's spans continue the producer's trace.

use super::RunnerConfig;
use crate::StreamMessage;
use upcheck_domain::TraceParent;

/// An entry read or reclaimed, ready to dispatch.
pub(super) struct Incoming {
    pub(super) message: StreamMessage,
    /// The producer's trace context, if the entry carries one.
    pub(super) parent: Option<TraceParent>,
    /// Deliveries so far, this one included.
    pub(super) deliveries: u64,
}

/// The span `incoming` is handled in, at the config's `span_level`; disabled (and free) when
/// that level is filtered out.
pub(super) fn entry_span(config: &RunnerConfig, incoming: &Incoming) -> tracing::Span {
    macro_rules! entry_span {
        ($level:expr) => {
            tracing::span!(
                $level,
                "stream_entry",
                stream = %config.stream,
                group = %config.group,
                stream_id = %incoming.message.id,
                deliveries = incoming.deliveries,
            )
        };
    }
    let span = if config.span_level == tracing::Level::DEBUG {
        entry_span!(tracing::Level::DEBUG)
    } else {
        entry_span!(tracing::Level::INFO)
    };
    if let Some(parent) = incoming.parent {
        crate::trace::set_parent(&span, parent);
    }
    span
}
