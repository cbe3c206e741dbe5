//! The REST routes, one module per resource, each exposing `config`.

pub(crate) mod auth;
pub(crate) mod channels;
pub(crate) mod health;
pub(crate) mod incidents;
pub(crate) mod monitor_reads;
pub(crate) mod monitors;
pub(crate) mod openapi;

/// RFC 3339 rendering for response bodies.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
