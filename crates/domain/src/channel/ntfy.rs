//! `ntfy`: a topic on an ntfy server (https://docs.ntfy.sh/publish/).

use super::fields;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Most tags one ntfy channel may add.
pub const NTFY_MAX_TAGS: usize = 10;

/// An `ntfy` channel: a topic on `server_url` (default: the operator's `NTFY_DEFAULT_SERVER`,
/// `https://ntfy.sh`), an optional fixed priority and tags, and an access token for protected
/// topics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"topic": "upcheck-ops-7f3a", "server_url": "https://ntfy.example.com", "priority": 4, "tags": ["prod"], "token": "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"}))]
pub struct NtfyConfig {
    /// 1 to 64 letters, digits, `-` or `_`.
    pub topic: String,
    /// The server's base URL; absent: `NTFY_DEFAULT_SERVER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// 1 (min) to 5 (max) for every message; absent: 5 for down, 4 for warnings, 3 otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Up to 10 tags (1 to 64 characters, no commas) added after Upcheck's own emoji tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// An access token (`tk_…`), sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl NtfyConfig {
    /// Parses and validates a config.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `config.<field>`; never repeating the token.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ValidationError> {
        let c: Self = fields::parse(value)?;
        let topic_ok = (1..=64).contains(&c.topic.len())
            && c.topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !topic_ok {
            return Err(ValidationError::new("config.topic", "must be 1 to 64 letters, digits, - or _"));
        }
        if let Some(url) = &c.server_url {
            let parsed = fields::http_url("config.server_url", url)?;
            if parsed.query().is_some() {
                return Err(ValidationError::new("config.server_url", "must not have a query"));
            }
        }
        if c.priority.is_some_and(|p| !(1..=5).contains(&p)) {
            return Err(ValidationError::new("config.priority", "must be between 1 and 5"));
        }
        if c.tags.len() > NTFY_MAX_TAGS {
            return Err(ValidationError::new("config.tags", format!("at most {NTFY_MAX_TAGS}")));
        }
        if let Some(i) = c
            .tags
            .iter()
            .position(|t| t.trim().is_empty() || t.len() > 64 || t.contains(',') || t.contains('\n'))
        {
            return Err(ValidationError::new(format!("config.tags[{i}]"), "1 to 64 characters, no commas"));
        }
        if c.token
            .as_ref()
            .is_some_and(|t| t.is_empty() || t.len() > 256 || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ValidationError::new("config.token", "must be 1 to 256 visible characters"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"topic": "has space"}), "config.topic"),
            (json!({"topic": "t", "server_url": "ftp://x"}), "config.server_url"),
            (json!({"topic": "t", "priority": 6}), "config.priority"),
            (json!({"topic": "t", "priority": -1}), "config.priority"),
            (json!({"topic": "t", "tags": ["ok", "a,b"]}), "config.tags[1]"),
            (json!({"topic": "t", "token": "has space"}), "config.token"),
            (json!({"topic": "t", "colour": "red"}), "config.colour"),
            (json!({}), "config.topic"),
            (json!([]), "config"),
        ];
        for (value, field) in cases {
            assert_eq!(NtfyConfig::from_value(&value).unwrap_err().field, field, "{value}");
        }
        let ok = NtfyConfig::from_value(&json!({"topic": "ops", "priority": 5, "tags": ["prod"]})).unwrap();
        assert_eq!((ok.priority, ok.tags.len()), (Some(5), 1));
    }
}
