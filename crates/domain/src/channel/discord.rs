//! `discord`: a Discord channel webhook (https://discord.com/developers/docs/resources/webhook#execute-webhook).

use super::fields;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// A `discord` channel: the webhook URL from a Discord channel's Integrations settings
/// (`https://discord.com/api/webhooks/<id>/<token>`). Any host is accepted unless the operator
/// lists Discord's in `DISCORD_WEBHOOK_HOSTS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz"}))]
pub struct DiscordConfig {
    /// The webhook URL (`http` or `https`).
    pub url: String,
}

impl DiscordConfig {
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
