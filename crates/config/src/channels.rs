//! Channel provider settings: the base URLs deliveries go to (so tests and proxies can point
//! them elsewhere) and the hosts Slack and Discord webhook URLs may name.

use crate::ConfigError;
use crate::settings::Raw;

/// Where the HTTP channel kinds deliver, besides the URLs users give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    /// `TELEGRAM_API_URL` (default `https://api.telegram.org`): the Bot API's base; messages go
    /// to `<base>/bot<token>/sendMessage`.
    pub telegram_api_url: String,
    /// `PAGERDUTY_EVENTS_URL` (default `https://events.pagerduty.com/v2/enqueue`): the Events
    /// API v2 endpoint.
    pub pagerduty_events_url: String,
    /// `NTFY_DEFAULT_SERVER` (default `https://ntfy.sh`): the ntfy server of channels that name
    /// none.
    pub ntfy_default_server: String,
    /// `SLACK_WEBHOOK_HOSTS` (comma-separated; default empty: any host): the only hosts a
    /// `slack` channel's URL may name, e.g. `hooks.slack.com`. Empty lets Slack-compatible
    /// receivers (Mattermost, Rocket.Chat) be used.
    pub slack_webhook_hosts: Vec<String>,
    /// `DISCORD_WEBHOOK_HOSTS` (comma-separated; default empty: any host): the only hosts a
    /// `discord` channel's URL may name, e.g. `discord.com,discordapp.com`.
    pub discord_webhook_hosts: Vec<String>,
}

impl Default for ChannelSettings {
    /// The providers' public endpoints; no host list.
    fn default() -> Self {
        Self {
            telegram_api_url: "https://api.telegram.org".into(),
            pagerduty_events_url: "https://events.pagerduty.com/v2/enqueue".into(),
            ntfy_default_server: "https://ntfy.sh".into(),
            slack_webhook_hosts: Vec::new(),
            discord_webhook_hosts: Vec::new(),
        }
    }
}

impl ChannelSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        let base = |var: &str, default: &str| -> Result<String, ConfigError> {
            let value = raw.string_or(var, default)?;
            let parsed = url::Url::parse(&value)
                .map_err(|e| ConfigError::new(var, format!("not a valid URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(ConfigError::new(var, "must be an http or https URL with a host"));
            }
            Ok(value.trim_end_matches('/').to_string())
        };
        let hosts = |var: &str| -> Result<Vec<String>, ConfigError> {
            let list: Vec<String> = raw
                .get(var)?
                .unwrap_or_default()
                .split([',', ' '])
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase)
                .collect();
            if let Some(bad) = list.iter().find(|h| h.contains('/') || h.contains(':')) {
                return Err(ConfigError::new(
                    var,
                    format!("{bad:?} is not a host name (no scheme, port or path)"),
                ));
            }
            Ok(list)
        };
        Ok(Self {
            telegram_api_url: base("TELEGRAM_API_URL", &d.telegram_api_url)?,
            pagerduty_events_url: base("PAGERDUTY_EVENTS_URL", &d.pagerduty_events_url)?,
            ntfy_default_server: base("NTFY_DEFAULT_SERVER", &d.ntfy_default_server)?,
            slack_webhook_hosts: hosts("SLACK_WEBHOOK_HOSTS")?,
            discord_webhook_hosts: hosts("DISCORD_WEBHOOK_HOSTS")?,
        })
    }
}
