//! `slack`: a Slack incoming webhook (https://api.slack.com/messaging/webhooks).

use super::fields;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// A `slack` channel: the incoming webhook URL Slack gives when the app is added to a channel
/// (`https://hooks.slack.com/services/T…/B…/…`). Any host is accepted unless the operator
/// lists Slack's in `SLACK_WEBHOOK_HOSTS`, so Slack-compatible receivers (Mattermost,
/// Rocket.Chat) work too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"}))]
pub struct SlackConfig {
    /// The incoming webhook URL (`http` or `https`).
    pub url: String,
}

impl SlackConfig {
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
