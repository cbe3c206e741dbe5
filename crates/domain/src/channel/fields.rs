//! Field checks the channel configs share: parsing with the failing field's path, webhook URLs.

use crate::ValidationError;

/// Parses `value` as `T`, naming the failing field under `config` (`config.chat_id`).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, ValidationError> {
    if !value.is_object() {
        return Err(ValidationError::new("config", "must be an object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde_path_to_error's path ends at an unknown field already; a missing one is named
        // only by serde's message.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let field = match (missing, path.as_str()) {
            (Some(name), ".") => format!("config.{name}"),
            (Some(name), p) => format!("config.{p}.{name}"),
            (None, ".") => "config".to_string(),
            (None, p) => format!("config.{p}"),
        };
        // serde's messages quote the offending value only for enums and numbers; never a URL or
        // a token, which are strings.
        ValidationError::new(field, message)
    })
}

/// An `http`/`https` URL with a host, at most 2,048 characters, without credentials or a
/// fragment; the error never repeats the URL (it may embed a token).
pub(crate) fn http_url(field: &str, raw: &str) -> Result<url::Url, ValidationError> {
    if raw.len() > 2_048 {
        return Err(ValidationError::new(field, "at most 2,048 characters"));
    }
    let parsed = crate::monitor::validate_url(raw).map_err(|e| ValidationError::new(field, e.message))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ValidationError::new(field, "must not carry credentials"));
    }
    if parsed.fragment().is_some() {
        return Err(ValidationError::new(field, "must not have a #fragment"));
    }
    Ok(parsed)
}

/// Whether `url`'s host is one of `hosts` (compared without case and a final dot); an empty
/// list allows every host. Used for `SLACK_WEBHOOK_HOSTS` and `DISCORD_WEBHOOK_HOSTS`.
pub fn host_allowed(url: &str, hosts: &[String]) -> bool {
    if hosts.is_empty() {
        return true;
    }
    let Some(host) = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)) else {
        return false;
    };
    let host = host.trim_end_matches('.');
    hosts.iter().any(|h| h.trim_end_matches('.').eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_need_a_scheme_a_host_and_no_credentials() {
        assert!(http_url("config.url", "https://hooks.slack.com/services/T0/B0/x").is_ok());
        for bad in ["ftp://x.io/a", "https://", "https://u:p@x.io/", "https://x.io/#f", "nope"] {
            assert_eq!(http_url("config.url", bad).unwrap_err().field, "config.url", "{bad}");
        }
    }

    #[test]
    fn host_lists_match_exact_hosts_or_allow_all_when_empty() {
        let slack = vec!["hooks.slack.com".to_string()];
        assert!(host_allowed("https://HOOKS.slack.com./services/x", &slack));
        assert!(!host_allowed("https://evil.example/hooks.slack.com", &slack));
        assert!(!host_allowed("https://x.hooks.slack.com/", &slack));
        assert!(host_allowed("https://chat.example.org/hooks/x", &[]));
    }
}
