//! The `email` channel's config: its recipients and, where the operator allows it, the user's
//! own SMTP server.
//!
//! By default every e-mail leaves through the operator's SMTP server (`SMTP_HOST`, from
//! `SMTP_FROM`): users cannot make Upcheck connect anywhere, nor send from an address of their
//! choosing through the operator's relay. When the operator sets `SMTP_ALLOW_USER_SERVERS=true`
//! a channel may name its own server (`config.smtp`); that server is then reached only through
//! the network policy, like a webhook URL: a literal address is judged here, a name on the
//! addresses it resolves to when the channel connects.

use crate::netpolicy::NetworkPolicy;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::str::FromStr;

/// Most recipients one `email` channel may have.
pub const MAX_RECIPIENTS: usize = 10;
/// Longest username or password accepted for an SMTP server, characters.
const MAX_CREDENTIAL_CHARS: usize = 256;

/// How the connection to an SMTP server is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with `STARTTLS` (RFC 3207); refused if the server does not
    /// offer it. Default port 587.
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", RFC 8314 §3.3). Default port 465.
    Tls,
    /// No encryption (a relay on a trusted network). Default port 25.
    None,
}

impl SmtpSecurity {
    /// The name used in configs and settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starttls => "starttls",
            Self::Tls => "tls",
            Self::None => "none",
        }
    }

    /// Parses `starttls`, `tls` or `none`; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starttls" => Some(Self::Starttls),
            "tls" => Some(Self::Tls),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The usual port for this security: 587, 465 or 25.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// An `email` channel's config, as stored (normalised by [`EmailConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": ["ops@example.com"]}))]
pub struct EmailConfig {
    /// Recipients: 1 to 10 plain addresses (`ops@example.com`), all on one message.
    #[schema(min_items = 1, max_items = 10)]
    pub to: Vec<String>,
    /// The user's own SMTP server; `None` sends through the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpServer>,
}

/// A user's own SMTP server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpServer {
    /// Host name or literal IP (IPv6 in brackets).
    pub host: String,
    /// TCP port (default by `security`: 587, 465 or 25).
    #[schema(minimum = 1, maximum = 65535)]
    pub port: u16,
    /// How the connection is secured (default `starttls`).
    pub security: SmtpSecurity,
    /// User for `AUTH`; set together with `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password for `AUTH`; never shown by `Debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The `From` mailbox (`Ops <alerts@example.com>`); the operator's `SMTP_FROM` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from)
            .finish()
    }
}

/// What the operator allows, for [`EmailConfig::validate`].
#[derive(Debug, Clone, Copy)]
pub struct EmailRules<'a> {
    /// `SMTP_ALLOW_USER_SERVERS`: whether a channel may name its own SMTP server.
    pub allow_user_servers: bool,
    /// Whether the operator configured an SMTP server (`SMTP_HOST`).
    pub operator_server: bool,
    /// Whether the operator configured a `From` (`SMTP_FROM`) that own servers may default to.
    pub operator_from: bool,
    /// The network policy a user's server must pass.
    pub policy: &'a NetworkPolicy,
}

/// A config field that is wrong: `field` is its path from the request body (`config.to[1]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's path (`config.smtp.port`).
    pub field: String,
    /// What is wrong, without the field's value when it is a secret.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// Parses a mailbox (`alerts@example.com` or `Upcheck <alerts@example.com>`) into its
/// normal form.
///
/// # Errors
/// Why it is not a mailbox.
pub fn parse_mailbox(text: &str) -> Result<String, String> {
    lettre::message::Mailbox::from_str(text.trim())
        .map(|m| m.to_string())
        .map_err(|e| format!("not an e-mail address or mailbox: {e}"))
}

impl EmailConfig {
    /// Parses a stored (already validated) config.
    ///
    /// # Errors
    /// [`super::ChannelConfigError`] naming what is missing or malformed.
    pub fn from_value(value: &Value) -> Result<Self, super::ChannelConfigError> {
        serde_json::from_value(value.clone()).map_err(|e| super::ChannelConfigError(e.to_string()))
    }

    /// The stored JSON form.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Checks a config a user sent, field by field, and returns it normalised (addresses
    /// trimmed and deduplicated, the port and security filled in, the host in lower case).
    /// `previous` is the channel's current config on an update: a server given without a
    /// password keeps the previous one when its host and username are unchanged.
    ///
    /// # Errors
    /// [`FieldError`] naming the first wrong field (`config.to[2]`, `config.smtp.host`, …).
    pub fn validate(
        value: &Value,
        rules: &EmailRules<'_>,
        previous: Option<&EmailConfig>,
    ) -> Result<Self, FieldError> {
        let obj = value.as_object().ok_or_else(|| invalid("config", "must be an object"))?;
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "to" | "smtp")) {
            return Err(invalid(format!("config.{k}"), "unknown field; expected to or smtp"));
        }
        let to = recipients(obj.get("to"))?;
        let smtp = match obj.get("smtp") {
            None | Some(Value::Null) => {
                if !rules.operator_server {
                    return Err(invalid(
                        "config.smtp",
                        "required: this server has no SMTP relay of its own (SMTP_HOST is not set)",
                    ));
                }
                None
            }
            Some(v) => {
                if !rules.allow_user_servers {
                    return Err(invalid(
                        "config.smtp",
                        "own SMTP servers are not allowed here (SMTP_ALLOW_USER_SERVERS); leave it out \
                         to send through this server's relay",
                    ));
                }
                let keep = previous.and_then(|p| p.smtp.as_ref());
                let own = server(v, rules.policy, keep)?;
                if own.from.is_none() && !rules.operator_from {
                    return Err(invalid("config.smtp.from", "required: this server has no SMTP_FROM"));
                }
                Some(own)
            }
        };
        Ok(Self { to, smtp })
    }
}

fn recipients(value: Option<&Value>) -> Result<Vec<String>, FieldError> {
    let list = match value {
        None | Some(Value::Null) => return Err(invalid("config.to", "required")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(invalid("config.to", "must be a list of e-mail addresses")),
    };
    if list.is_empty() || list.len() > MAX_RECIPIENTS {
        return Err(invalid("config.to", format!("must hold 1 to {MAX_RECIPIENTS} addresses")));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let field = format!("config.to[{i}]");
        let text = item.as_str().ok_or_else(|| invalid(&field, "must be a string"))?.trim();
        if text.len() > 254 {
            return Err(invalid(&field, "longer than 254 characters"));
        }
        let address = lettre::Address::from_str(text)
            .map_err(|e| invalid(&field, format!("not an e-mail address like ops@example.com ({e})")))?;
        let address = address.to_string();
        if !out.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
            out.push(address);
        }
    }
    Ok(out)
}

fn server(
    value: &Value,
    policy: &NetworkPolicy,
    keep: Option<&SmtpServer>,
) -> Result<SmtpServer, FieldError> {
    let obj = value.as_object().ok_or_else(|| invalid("config.smtp", "must be an object"))?;
    const FIELDS: [&str; 6] = ["host", "port", "security", "username", "password", "from"];
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(
            format!("config.smtp.{k}"),
            "unknown field; expected host, port, security, username, password or from",
        ));
    }
    let host = host(obj)?;
    let security = match text(obj, "security")? {
        None => SmtpSecurity::default(),
        Some(s) => SmtpSecurity::parse(s)
            .ok_or_else(|| invalid("config.smtp.security", "must be starttls, tls or none"))?,
    };
    let port = match obj.get("port") {
        None | Some(Value::Null) => security.default_port(),
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid("config.smtp.port", "must be a whole number from 1 to 65535"))?,
    };
    let username = credential(obj, "username")?;
    let mut password = credential(obj, "password")?;
    if password.is_none()
        && let Some(k) = keep.filter(|k| k.host == host && k.username == username)
    {
        password = k.password.clone();
    }
    match (&username, &password) {
        (Some(_), None) => return Err(invalid("config.smtp.password", "required with a username")),
        (None, Some(_)) => return Err(invalid("config.smtp.username", "required with a password")),
        (Some(_), Some(_)) if security == SmtpSecurity::None => {
            return Err(invalid(
                "config.smtp.security",
                "must be starttls or tls when a password is given: none would send it in clear",
            ));
        }
        _ => {}
    }
    let from = text(obj, "from")?
        .map(|f| parse_mailbox(f).map_err(|e| invalid("config.smtp.from", e)))
        .transpose()?;
    let parsed = url::Host::parse(&host).map_err(|_| invalid("config.smtp.host", "not a host name"))?;
    let borrowed = match &parsed {
        url::Host::Domain(d) => url::Host::Domain(d.as_str()),
        url::Host::Ipv4(a) => url::Host::Ipv4(*a),
        url::Host::Ipv6(a) => url::Host::Ipv6(*a),
    };
    policy.check_host(&borrowed).map_err(|b| invalid("config.smtp.host", b.to_string()))?;
    Ok(SmtpServer { host, port, security, username, password, from })
}

fn host(obj: &Map<String, Value>) -> Result<String, FieldError> {
    let raw = text(obj, "host")?.ok_or_else(|| invalid("config.smtp.host", "required"))?;
    if raw.is_empty() || raw.len() > 253 {
        return Err(invalid("config.smtp.host", "must be 1 to 253 characters"));
    }
    // A bare IPv6 address is taken as it is written in URLs, in brackets.
    let bracketed =
        if raw.parse::<std::net::Ipv6Addr>().is_ok() { format!("[{raw}]") } else { raw.to_string() };
    match url::Host::parse(&bracketed) {
        Ok(h) => Ok(h.to_string()),
        Err(_) => Err(invalid("config.smtp.host", "not a host name or IP address")),
    }
}

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(invalid(format!("config.smtp.{key}"), "must be a string")),
    }
}

/// A username or password: 1 to 256 characters, no line breaks; the message never holds it.
fn credential(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, FieldError> {
    let field = format!("config.smtp.{key}");
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > MAX_CREDENTIAL_CHARS {
                Err(invalid(field, format!("longer than {MAX_CREDENTIAL_CHARS} characters")))
            } else if s.chars().any(char::is_control) {
                Err(invalid(field, "must not contain control characters"))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(invalid(field, "must be a string")),
    }
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
