//! `pagerduty`: an Events API v2 integration
//! (https://developer.pagerduty.com/docs/events-api-v2-overview).

use super::fields;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// A `pagerduty` channel: the integration (routing) key of a service's "Events API V2"
/// integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"routing_key": "R01ABCDEF23456789ABCDEF012345678"}))]
pub struct PagerDutyConfig {
    /// The 32-character integration key.
    pub routing_key: String,
}

impl PagerDutyConfig {
    /// Parses and validates a config.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `config.<field>`; never repeating the key.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ValidationError> {
        let c: Self = fields::parse(value)?;
        if c.routing_key.len() != 32 || !c.routing_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::new("config.routing_key", "must be 32 letters or digits"));
        }
        Ok(c)
    }
}
