//! The small closed vocabularies stored as text in Postgres: user roles, incident states and
//! channel kinds. Each serialises as its lowercase name, the same text the database holds.

use serde::{Deserialize, Serialize};

/// Implements `as_str` and `parse` for an enum over its stored names.
macro_rules! stored_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name stored in Postgres and used in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Parses a stored name; `None` for any other text.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the `/admin` routes.
    Admin,
    /// Sees only their own monitors, channels and incidents.
    Member,
}
stored_names!(Role { Admin => "admin", Member => "member" });

/// An incident's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// The monitor is down.
    Open,
    /// The monitor came back.
    Resolved,
}
stored_names!(IncidentState { Open => "open", Resolved => "resolved" });

/// A notification channel's kind; each has its typed config in [`crate::channel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A signed HTTP POST (Standard Webhooks).
    Webhook,
    /// A Slack incoming webhook (Block Kit).
    Slack,
    /// A Discord webhook (an embed).
    Discord,
    /// A Microsoft Teams Workflows webhook (an Adaptive Card).
    Teams,
    /// A Telegram bot's `sendMessage`.
    Telegram,
    /// PagerDuty Events API v2.
    PagerDuty,
    /// An ntfy topic.
    Ntfy,
    /// E-mail over SMTP.
    Email,
}
stored_names!(ChannelKind {
    Webhook => "webhook",
    Slack => "slack",
    Discord => "discord",
    Teams => "teams",
    Telegram => "telegram",
    PagerDuty => "pagerduty",
    Ntfy => "ntfy",
    Email => "email",
});

impl ChannelKind {
    /// Every kind's name, comma-separated (for "must be one of …" messages).
    pub fn names() -> String {
        Self::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_match_the_json_names() {
        for r in [Role::Admin, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for s in [IncidentState::Open, IncidentState::Resolved] {
            assert_eq!(IncidentState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for k in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(ChannelKind::names(), "webhook, slack, discord, teams, telegram, pagerduty, ntfy, email");
        assert_eq!(ChannelKind::parse("carrier-pigeon"), None);
    }
}
