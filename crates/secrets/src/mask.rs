//! How the API shows secrets: masked, with a short tail to tell them apart
//! (`https://hooks.slack.com/…/••••3f9a`, `••••3f9a`), driven by a per-kind list of the
//! channel config fields that are secret. A masked value sent back unchanged means "keep
//! the stored one" ([`restore`]).

use serde_json::Value;
use std::collections::BTreeMap;

/// What stands for the hidden part of a secret.
pub const MASK: &str = "••••";

/// Fewest characters a secret must have for its last four to be shown.
const MIN_CHARS_FOR_TAIL: usize = 12;

/// How a secret field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A token, key or password: `••••3f9a`.
    Token,
    /// A URL whose path or query carries the secret: its origin stays readable,
    /// `https://hooks.slack.com/…/••••3f9a`.
    Url,
}

/// The secret fields of each channel kind's config: (kind, field, how it is shown). A field
/// is a top-level key or a dotted path (`smtp.password`); a field a config lacks is skipped.
/// A new kind's secret is one line here.
pub const SECRET_FIELDS: &[(&str, &str, Style)] = &[
    ("webhook", "secret", Style::Token),
    ("slack", "url", Style::Url),
    ("discord", "url", Style::Url),
    ("teams", "url", Style::Url),
    ("telegram", "bot_token", Style::Token),
    ("pagerduty", "routing_key", Style::Token),
    ("ntfy", "token", Style::Token),
    ("email", "smtp.password", Style::Token),
];

/// The secret fields of channel `kind`, with their style.
pub fn secret_fields(kind: &str) -> impl Iterator<Item = (&'static str, Style)> + '_ {
    SECRET_FIELDS.iter().filter(move |(k, _, _)| *k == kind).map(|(_, field, style)| (*field, *style))
}

/// `••••` and the last four characters when `secret` has at least 12, else `••••` alone.
pub fn mask_token(secret: &str) -> String {
    let n = secret.chars().count();
    if n < MIN_CHARS_FOR_TAIL {
        return MASK.to_string();
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("{MASK}{tail}")
}

/// The URL's scheme, host and port, then `/…/` and its path and query masked as a token:
/// `https://hooks.slack.com/services/T0/B0/XYZ…3f9a` → `https://hooks.slack.com/…/••••3f9a`.
/// User name and password are dropped. Not a URL with a host: masked as a token.
pub fn mask_url(secret: &str) -> String {
    let Ok(url) = url::Url::parse(secret) else { return mask_token(secret) };
    let Some(host) = url.host_str() else { return mask_token(secret) };
    let origin = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    format!("{origin}/…/{}", mask_token(&url[url::Position::AfterPort..]))
}

/// `secret` masked in `style`.
pub fn mask(style: Style, secret: &str) -> String {
    match style {
        Style::Token => mask_token(secret),
        Style::Url => mask_url(secret),
    }
}

fn field_mut<'v>(config: &'v mut Value, dotted: &str) -> Option<&'v mut Value> {
    dotted.split('.').try_fold(config, |v, key| v.as_object_mut()?.get_mut(key))
}

fn field<'v>(config: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(config, |v, key| v.as_object()?.get(key))
}

/// A channel config of `kind` as the API shows it: each secret field that holds a string
/// masked, everything else as it is.
pub fn mask_config(kind: &str, config: &Value) -> Value {
    let mut shown = config.clone();
    for (name, style) in secret_fields(kind) {
        if let Some(v @ Value::String(_)) = field_mut(&mut shown, name) {
            *v = Value::String(mask(style, v.as_str().unwrap_or_default()));
        }
    }
    shown
}

/// Puts back the stored secrets in a config sent to replace `current`: a secret field whose
/// value is exactly what the API shows for the stored one (the client sent back what it read)
/// gets the stored value. Returns the dotted name of a secret field that holds a mask but not
/// the stored one's (a stale or edited mask), which must be refused.
pub fn restore(kind: &str, incoming: &mut Value, current: &Value) -> Result<(), &'static str> {
    for (name, style) in secret_fields(kind) {
        let Some(Value::String(sent)) = field_mut(incoming, name) else { continue };
        if !sent.contains(MASK) {
            continue;
        }
        match field(current, name).and_then(Value::as_str) {
            Some(stored) if mask(style, stored) == *sent => *sent = stored.to_string(),
            _ => return Err(name),
        }
    }
    Ok(())
}

/// Request headers as the API shows them: every value masked as a token (names stay
/// readable), since any header may carry a credential.
pub fn mask_headers(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers.iter().map(|(k, v)| (k.clone(), mask_token(v))).collect()
}

/// [`restore`] for request headers: a value equal to the mask of the stored value of the same
/// header (names compared case-insensitively) gets the stored value. Returns the name of a
/// header whose value holds a mask but not the stored one's.
pub fn restore_headers(
    incoming: &mut BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (name, sent) in incoming.iter_mut() {
        if !sent.contains(MASK) {
            continue;
        }
        match current.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, stored)) if mask_token(stored) == *sent => sent.clone_from(stored),
            _ => return Err(name.clone()),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "mask_tests.rs"]
mod tests;
