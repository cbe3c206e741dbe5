//! The REST routes, one module per resource, each exposing `config`.

pub(crate) mod admin;
pub(crate) mod admin_users;
pub(crate) mod api_keys;
pub(crate) mod auth;
pub(crate) mod channels;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod heartbeat;
pub(crate) mod incidents;
pub(crate) mod maintenance_windows;
pub(crate) mod metrics;
pub(crate) mod monitor_dto;
pub(crate) mod monitor_reads;
pub(crate) mod monitor_rules;
pub(crate) mod monitor_stats;
pub(crate) mod monitors;
pub(crate) mod openapi;
pub(crate) mod public;
pub(crate) mod regions;
pub(crate) mod secrets;
pub(crate) mod sessions;
pub(crate) mod status_pages;

/// RFC 3339 rendering for response bodies.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A display name: trimmed, 1 to 200 characters, no control or bidi characters
/// ([`upcheck_domain::names::validate_name`]).
///
/// # Errors
/// 422 naming `name`.
pub(crate) fn validate_name(name: &str) -> Result<String, crate::error::ApiError> {
    Ok(upcheck_domain::names::validate_name("name", name)?)
}

/// Refuses a URL whose host is a literal address (or `localhost`) the operator's network policy
/// blocks, so such a monitor or channel is never stored; names are judged at connect time.
///
/// # Errors
/// 422 naming `field`: `blocked address 169.254.169.254 (cloud metadata)`.
pub(crate) fn check_target(
    state: &crate::state::AppState,
    field: &str,
    url: &str,
) -> Result<(), crate::error::ApiError> {
    let Ok(parsed) = url::Url::parse(url) else { return Ok(()) }; // format errors are named elsewhere
    match parsed.host() {
        Some(host) => state
            .settings
            .probe
            .policy
            .check_host(&host)
            .map_err(|b| crate::error::ApiError::invalid(field, b.to_string())),
        None => Ok(()),
    }
}
