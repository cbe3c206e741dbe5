//! Typed channel configs, as stored in `channels.config` and given to the channels: one file
//! per kind, each parsed with `deny_unknown_fields` and validated field by field, errors naming
//! `config.<field>`.

mod config;
mod discord;
mod fields;
mod ntfy;
mod pagerduty;
mod slack;
mod teams;
mod telegram;

pub use config::ChannelConfig;
pub use discord::DiscordConfig;
pub use fields::host_allowed;
pub use ntfy::{NTFY_MAX_TAGS, NtfyConfig};
pub use pagerduty::PagerDutyConfig;
pub use slack::SlackConfig;
pub use teams::TeamsConfig;
pub use telegram::{TelegramChatId, TelegramConfig};

pub mod email;

pub use email::{EmailConfig, EmailRules, FieldError, SmtpSecurity, SmtpServer};

use serde::{Deserialize, Serialize};

/// Why a stored channel config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel config: {0}")]
pub struct ChannelConfigError(pub String);

impl From<crate::ValidationError> for ChannelConfigError {
    fn from(e: crate::ValidationError) -> Self {
        Self(e.to_string())
    }
}

/// A `webhook` channel's config: `{"url": "https://…", "secret": "whsec_…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/upcheck", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))]
pub struct WebhookConfig {
    /// Where deliveries are POSTed.
    pub url: String,
    /// The Standard Webhooks signing secret (`whsec_` + base64); generated when absent on create.
    pub secret: String,
}

impl WebhookConfig {
    /// Parses a stored config.
    ///
    /// # Errors
    /// [`ChannelConfigError`] naming what is missing or malformed.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ChannelConfigError> {
        serde_json::from_value(value.clone()).map_err(|e| ChannelConfigError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_config_needs_its_url_and_secret() {
        let ok = serde_json::json!({"url": "https://example.com/hook", "secret": "whsec_x"});
        assert_eq!(WebhookConfig::from_value(&ok).unwrap().url, "https://example.com/hook");
        let missing = WebhookConfig::from_value(&serde_json::json!({"url": "https://example.com"}));
        assert!(missing.unwrap_err().0.contains("secret"));
    }
}
