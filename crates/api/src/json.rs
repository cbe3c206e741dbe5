//! `ValidJson<T>`: the JSON body extractor every handler uses. Bodies over 64 KiB are 413;
//! malformed JSON is 400; an unknown field, a missing one or a wrong type is 422 naming the
//! field (its path, e.g. `config.url`).

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
/// 400 for malformed JSON, 422 naming the field for any other decoding error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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
