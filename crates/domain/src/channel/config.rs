//! Any kind's config, parsed by the channel's kind.

use super::{
    DiscordConfig, EmailConfig, NtfyConfig, PagerDutyConfig, SlackConfig, TeamsConfig, TelegramConfig,
    WebhookConfig, fields,
};
use crate::{ChannelKind, ValidationError};

/// A channel's config, one variant per [`ChannelKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelConfig {
    /// See [`WebhookConfig`].
    Webhook(WebhookConfig),
    /// See [`SlackConfig`].
    Slack(SlackConfig),
    /// See [`DiscordConfig`].
    Discord(DiscordConfig),
    /// See [`TeamsConfig`].
    Teams(TeamsConfig),
    /// See [`TelegramConfig`].
    Telegram(TelegramConfig),
    /// See [`PagerDutyConfig`].
    PagerDuty(PagerDutyConfig),
    /// See [`NtfyConfig`].
    Ntfy(NtfyConfig),
    /// See [`EmailConfig`] (parsed only: [`EmailConfig::validate`] checks a user's config
    /// against the operator's SMTP settings).
    Email(EmailConfig),
}

impl ChannelConfig {
    /// Parses and validates `kind`'s config object (a webhook's `secret` must be present here:
    /// the API generates it before).
    ///
    /// # Errors
    /// A [`ValidationError`] naming the first bad field under `config`.
    pub fn from_json(kind: ChannelKind, value: &serde_json::Value) -> Result<Self, ValidationError> {
        Ok(match kind {
            ChannelKind::Webhook => {
                let c: WebhookConfig = fields::parse(value)?;
                fields::http_url("config.url", &c.url)?;
                crate::webhook::secret_key(&c.secret)
                    .map_err(|e| ValidationError::new("config.secret", e.to_string()))?;
                Self::Webhook(c)
            }
            ChannelKind::Slack => Self::Slack(SlackConfig::from_value(value)?),
            ChannelKind::Discord => Self::Discord(DiscordConfig::from_value(value)?),
            ChannelKind::Teams => Self::Teams(TeamsConfig::from_value(value)?),
            ChannelKind::Telegram => Self::Telegram(TelegramConfig::from_value(value)?),
            ChannelKind::PagerDuty => Self::PagerDuty(PagerDutyConfig::from_value(value)?),
            ChannelKind::Ntfy => Self::Ntfy(NtfyConfig::from_value(value)?),
            ChannelKind::Email => {
                Self::Email(EmailConfig::from_value(value).map_err(|e| ValidationError::new("config", e.0))?)
            }
        })
    }

    /// The config as stored and shown (normalised: a Telegram `chat_id` of digits is a number).
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Self::Webhook(c) => serde_json::to_value(c),
            Self::Slack(c) => serde_json::to_value(c),
            Self::Discord(c) => serde_json::to_value(c),
            Self::Teams(c) => serde_json::to_value(c),
            Self::Telegram(c) => serde_json::to_value(c),
            Self::PagerDuty(c) => serde_json::to_value(c),
            Self::Ntfy(c) => serde_json::to_value(c),
            Self::Email(c) => serde_json::to_value(c),
        };
        v.unwrap_or(serde_json::Value::Null)
    }

    /// The URLs in the config the deliveries connect to, with their field names, for the
    /// network policy and the host lists (provider base URLs are the operator's settings).
    pub fn urls(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Webhook(WebhookConfig { url, .. })
            | Self::Slack(SlackConfig { url })
            | Self::Discord(DiscordConfig { url })
            | Self::Teams(TeamsConfig { url }) => vec![("config.url", url.as_str())],
            Self::Ntfy(c) => c.server_url.iter().map(|u| ("config.server_url", u.as_str())).collect(),
            // An e-mail server is judged by EmailConfig::validate and at connect time.
            Self::Telegram(_) | Self::PagerDuty(_) | Self::Email(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_parses_its_example_and_names_its_bad_fields() {
        let cases = [
            (
                ChannelKind::Slack,
                json!({"url": "https://hooks.slack.com/services/T/B/x"}),
                json!({"url": "slack"}),
            ),
            (ChannelKind::Discord, json!({"url": "https://discord.com/api/webhooks/1/x"}), json!({"url": 1})),
            (
                ChannelKind::Teams,
                json!({"url": "https://x.logic.azure.com/workflows/1"}),
                json!({"url": "x:y"}),
            ),
            (
                ChannelKind::PagerDuty,
                json!({"routing_key": "R01ABCDEF23456789ABCDEF012345678"}),
                json!({"routing_key": "short"}),
            ),
        ];
        for (kind, ok, bad) in cases {
            let c = ChannelConfig::from_json(kind, &ok).unwrap();
            assert_eq!(c.to_json(), ok);
            let e = ChannelConfig::from_json(kind, &bad).unwrap_err();
            assert!(e.field == "config.url" || e.field == "config.routing_key", "{kind:?}: {e}");
            assert!(!e.message.contains("short") && !e.message.contains("slack"), "{e}");
            let extra = ChannelConfig::from_json(kind, &json!({"extra": 1})).unwrap_err();
            assert_eq!(extra.field, "config.extra", "{kind:?}");
        }
    }

    #[test]
    fn urls_name_their_fields() {
        let n = ChannelConfig::from_json(
            ChannelKind::Ntfy,
            &json!({"topic": "t", "server_url": "http://10.0.0.1"}),
        )
        .unwrap();
        assert_eq!(n.urls(), vec![("config.server_url", "http://10.0.0.1")]);
        let p = ChannelConfig::from_json(ChannelKind::PagerDuty, &json!({"routing_key": "a".repeat(32)}))
            .unwrap();
        assert!(p.urls().is_empty());
    }
}
