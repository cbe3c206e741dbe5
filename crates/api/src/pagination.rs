//! `limit` and opaque `cursor` query parameters shared by the list endpoints.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 500;

/// `?limit=&cursor=` as given (parsed here, so errors can name the parameter).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Opaque position from a previous `next_cursor`.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size.
    ///
    /// # Errors
    /// 400 naming `limit` when it is not a number from 1 to 500.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match &self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::bad("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
            },
        }
    }

    /// The decoded cursor text, if any.
    ///
    /// # Errors
    /// 400 naming `cursor` when it was not produced by this API.
    pub fn cursor(&self) -> Result<Option<String>, ApiError> {
        self.cursor
            .as_ref()
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| ApiError::bad("cursor", "not a cursor from next_cursor"))
            })
            .transpose()
    }
}

/// Encodes a position as an opaque cursor.
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// The `next_cursor` for a page: the last item's position when the page is full.
pub fn next_cursor<T>(items: &[T], limit: i64, position: impl Fn(&T) -> String) -> Option<String> {
    (items.len() as i64 == limit).then(|| items.last().map(|i| encode_cursor(&position(i)))).flatten()
}

/// Parses a cursor holding a UUID.
///
/// # Errors
/// 400 naming `cursor`.
pub fn uuid_cursor(cursor: Option<String>) -> Result<Option<uuid::Uuid>, ApiError> {
    cursor
        .map(|c| c.parse().map_err(|_| ApiError::bad("cursor", "not a cursor from next_cursor")))
        .transpose()
}
