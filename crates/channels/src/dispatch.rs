//! [`Channels`]: every kind behind one shared client, picked by the channel's kind.

use crate::email::EmailSetupError;
use crate::http::Http;
use crate::{
    AttemptResult, Channel, DiscordChannel, EmailChannel, NtfyChannel, PagerDutyChannel, SlackChannel,
    TeamsChannel, TelegramChannel, WebhookChannel,
};
use std::time::Duration;
use upcheck_config::{ChannelSettings, SmtpSettings};
use upcheck_domain::ChannelKind;
use upcheck_net::Outbound;
use uuid::Uuid;

/// Delivers over any kind: the notification worker and the API's test sends hold one. Cheap
/// to clone (the client is shared).
#[derive(Clone)]
pub struct Channels {
    webhook: WebhookChannel,
    slack: SlackChannel,
    discord: DiscordChannel,
    teams: TeamsChannel,
    telegram: TelegramChannel,
    pagerduty: PagerDutyChannel,
    ntfy: NtfyChannel,
    email: EmailChannel,
}

/// Why [`Channels`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ChannelsError {
    /// The HTTP client's TLS back-end could not be initialised.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The SMTP settings are unusable (`SMTP_CA_CERT`, `SMTP_FROM`).
    #[error("e-mail: {0}")]
    Email(#[from] EmailSetupError),
}

impl Channels {
    /// Every HTTP kind over one client whose attempts time out after `timeout`, connecting
    /// through `outbound`; provider base URLs and host lists from `settings`; e-mail through
    /// the operator's SMTP server in `smtp` (`SMTP_TIMEOUT_MS` bounds it).
    ///
    /// # Errors
    /// [`ChannelsError::Http`] when the TLS back-end cannot be initialised,
    /// [`ChannelsError::Email`] when the SMTP settings are unusable.
    pub fn new(
        settings: &ChannelSettings,
        smtp: &SmtpSettings,
        timeout: Duration,
        outbound: Outbound,
    ) -> Result<Self, ChannelsError> {
        let email = EmailChannel::new(smtp, outbound.clone())?;
        let http = Http::new(timeout, outbound)?;
        Ok(Self {
            webhook: WebhookChannel::with_http(http.clone()),
            slack: SlackChannel::new(http.clone(), settings.slack_webhook_hosts.clone()),
            discord: DiscordChannel::new(http.clone(), settings.discord_webhook_hosts.clone()),
            teams: TeamsChannel::new(http.clone()),
            telegram: TelegramChannel::new(http.clone(), settings.telegram_api_url.clone()),
            pagerduty: PagerDutyChannel::new(http.clone(), settings.pagerduty_events_url.clone()),
            ntfy: NtfyChannel::new(http, settings.ntfy_default_server.clone()),
            email,
        })
    }

    /// One attempt to deliver `payload` (notification `id`) over a `kind` channel configured
    /// with `config`.
    pub async fn deliver(
        &self,
        id: Uuid,
        kind: ChannelKind,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> AttemptResult {
        // A new kind gets its arm here (and its field above).
        match kind {
            ChannelKind::Webhook => self.webhook.deliver(id, config, payload).await,
            ChannelKind::Slack => self.slack.deliver(id, config, payload).await,
            ChannelKind::Discord => self.discord.deliver(id, config, payload).await,
            ChannelKind::Teams => self.teams.deliver(id, config, payload).await,
            ChannelKind::Telegram => self.telegram.deliver(id, config, payload).await,
            ChannelKind::PagerDuty => self.pagerduty.deliver(id, config, payload).await,
            ChannelKind::Ntfy => self.ntfy.deliver(id, config, payload).await,
            ChannelKind::Email => self.email.deliver(id, config, payload).await,
        }
    }
}
