//! `telegram`: a bot posting to a chat through the Bot API's `sendMessage`
//! (https://core.telegram.org/bots/api#sendmessage).

use super::fields;
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// Where a Telegram message goes: a chat's numeric id (negative for groups and channels) or a
/// public channel's `@username`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TelegramChatId {
    /// A numeric chat id, e.g. `-1001234567890` (a string of digits is read as one).
    Id(i64),
    /// A public channel's `@username` (5 to 32 letters, digits or `_`).
    Username(String),
}

/// A `telegram` channel: the bot's token (from @BotFather) and the chat it posts to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"bot_token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "chat_id": -1001234567890_i64, "message_thread_id": 42}))]
pub struct TelegramConfig {
    /// `<bot id>:<secret>`, as @BotFather gives it.
    pub bot_token: String,
    /// The chat: a numeric id or `@channelusername`.
    pub chat_id: TelegramChatId,
    /// A forum topic of the chat, if messages go to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
}

impl TelegramConfig {
    /// Parses and validates a config; a `chat_id` given as a string of digits becomes a number.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `config.<field>`; never repeating the token.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ValidationError> {
        let mut c: Self = fields::parse(value)?;
        let token_ok = c.bot_token.split_once(':').is_some_and(|(id, secret)| {
            (1..=20).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_digit())
                && (20..=100).contains(&secret.len())
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        if !token_ok {
            return Err(ValidationError::new(
                "config.bot_token",
                "must be a bot token as @BotFather gives it: <digits>:<20 to 100 letters, digits, _ or ->",
            ));
        }
        if let TelegramChatId::Username(name) = &c.chat_id {
            if let Ok(id) = name.trim().parse::<i64>() {
                c.chat_id = TelegramChatId::Id(id);
            } else {
                let handle = name.strip_prefix('@').unwrap_or("");
                let ok = (5..=32).contains(&handle.len())
                    && handle.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !ok {
                    return Err(ValidationError::new(
                        "config.chat_id",
                        "must be a numeric chat id or @username (5 to 32 letters, digits or _)",
                    ));
                }
            }
        }
        if matches!(c.chat_id, TelegramChatId::Id(0)) {
            return Err(ValidationError::new("config.chat_id", "must not be 0"));
        }
        if c.message_thread_id.is_some_and(|t| t <= 0) {
            return Err(ValidationError::new("config.message_thread_id", "must be a positive number"));
        }
        Ok(c)
    }

    /// The chat id as JSON (a number or a string), as `sendMessage` takes it.
    pub fn chat_id_json(&self) -> serde_json::Value {
        match &self.chat_id {
            TelegramChatId::Id(id) => (*id).into(),
            TelegramChatId::Username(name) => name.clone().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    #[test]
    fn chat_ids_are_numbers_digit_strings_or_usernames() {
        let c = TelegramConfig::from_value(&json!({"bot_token": TOKEN, "chat_id": "-100123"})).unwrap();
        assert_eq!(c.chat_id, TelegramChatId::Id(-100_123));
        let c = TelegramConfig::from_value(&json!({"bot_token": TOKEN, "chat_id": "@upcheck_ops"})).unwrap();
        assert_eq!(c.chat_id_json(), json!("@upcheck_ops"));
        for bad in [json!("ops"), json!("@ab"), json!(0), json!(true)] {
            let e = TelegramConfig::from_value(&json!({"bot_token": TOKEN, "chat_id": bad})).unwrap_err();
            assert_eq!(e.field, "config.chat_id", "{bad}");
        }
    }

    #[test]
    fn a_bad_token_is_named_without_being_repeated() {
        let e = TelegramConfig::from_value(&json!({"bot_token": "12:short", "chat_id": 1})).unwrap_err();
        assert_eq!(e.field, "config.bot_token");
        assert!(!e.message.contains("short"));
        let e =
            TelegramConfig::from_value(&json!({"bot_token": TOKEN, "chat_id": 1, "message_thread_id": -1}))
                .unwrap_err();
        assert_eq!(e.field, "config.message_thread_id");
        let e =
            TelegramConfig::from_value(&json!({"bot_token": TOKEN, "chat_id": 1, "thread": 1})).unwrap_err();
        assert_eq!(e.field, "config.thread");
    }
}
