//! `ValidJson<T>`: the JSON body extractor every handler uses. Bodies over 64 KiB are 413;
//! malformed JSON is 400; an unknown field, a missing one or a wrong type is 422 naming the
//! field (its path, e.g. `config.url`). A NUL character (`\u0000`) in any string or key is a
//! 422 naming its path too: Postgres refuses it in `text`, so it must never reach a query.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// Largest accepted body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body decoded into `T` (whose fields should be `deny_unknown_fields`).
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest { field: None, message: format!("cannot read the body: {e}") }
                }
            })?;
            decode(&bytes).map(ValidJson)
        })
    }
}

/// Decodes `bytes` as `T`, naming the field at fault.
///
/// # Errors
/// 400 for malformed JSON, 422 naming the field for any other decoding error or for a string
/// holding a NUL character.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // JSON text can hold a NUL only escaped (`\u0000`), so only bodies with that escape (or a
    // look-alike such as `\\u0000`) pay for the walk that names the field.
    if bytes.windows(6).any(|w| w == br"\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = first_nul(&value, String::new())
    {
        return Err(ApiError::invalid(path, NUL_MESSAGE));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest { field: None, message: format!("malformed JSON: {inner}") };
        }
        let message = strip_position(&inner.to_string());
        // A missing field is named in backticks, and the path points at its parent (an unknown
        // field's path already ends with it).
        let named = message.split('`').nth(1).filter(|_| message.starts_with("missing field"));
        let field = match (named, path.as_str()) {
            (Some(name), ".") => name.to_string(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, p) => p.to_string(),
        };
        ApiError::invalid(field, message)
    })?;
    de.end().map_err(|e| ApiError::BadRequest { field: None, message: format!("malformed JSON: {e}") })?;
    Ok(value)
}

/// The message for a NUL character, wherever it is refused.
pub const NUL_MESSAGE: &str = "must not contain a NUL character (\\u0000)";

/// The path (`name`, `config.url`, `headers.X-Y`, `channel_ids[2]`; `.` for the whole body) of
/// the first string or object key in `value` that holds a NUL character.
fn first_nul(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let here = |path: String| if path.is_empty() { ".".to_string() } else { path };
    match value {
        Value::String(s) if s.contains('\0') => Some(here(path)),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| first_nul(v, format!("{path}[{i}]")))
        }
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let key = k.replace('\0', "\\u0000");
            let child = if path.is_empty() { key } else { format!("{path}.{key}") };
            if k.contains('\0') { Some(child) } else { first_nul(v, child) }
        }),
        _ => None,
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Deserializes a present field (even `null`) as `Some(value)`, so `Option<Option<T>>` tells
/// "absent" (outer `None`, via `#[serde(default)]`) from "set to null" (`Some(None)`).
///
/// # Errors
/// The inner type's error.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
