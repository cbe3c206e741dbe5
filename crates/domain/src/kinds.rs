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

/// A notification channel's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A signed HTTP POST (Standard Webhooks).
    Webhook,
}
stored_names!(ChannelKind { Webhook => "webhook" });

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
        assert_eq!(ChannelKind::parse("webhook"), Some(ChannelKind::Webhook));
        assert_eq!(ChannelKind::parse("carrier-pigeon"), None);
    }
}
