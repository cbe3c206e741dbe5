//! `teams`: a Microsoft Teams Workflows webhook ("When a Teams webhook request is received",
//! https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).

use super::fields;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// A `teams` channel: the HTTP POST URL of a Teams Workflows flow started by "When a Teams
/// webhook request is received" (it posts the Adaptive Card it receives). The old Office 365
/// connector URLs are retired; hosts vary by tenant, so none is enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://prod-00.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/invoke?api-version=2016-06-01&sig=XXXX"}))]
pub struct TeamsConfig {
    /// The workflow's webhook URL (`http` or `https`).
    pub url: String,
}

impl TeamsConfig {
    /// Parses and validates a config.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `config.<field>`.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ValidationError> {
        let c: Self = fields::parse(value)?;
        fields::http_url("config.url", &c.url)?;
        Ok(c)
    }
}
