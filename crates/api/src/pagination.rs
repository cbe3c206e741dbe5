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

/// Cuts a page from `items`, fetched with `limit + 1` rows: the extra row, when present, only
/// tells that more follow, and the `next_cursor` is the last kept item's position.
pub fn next_cursor<T>(items: &mut Vec<T>, limit: i64, position: impl Fn(&T) -> String) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if items.len() <= limit {
        return None;
    }
    items.truncate(limit);
    items.last().map(|i| encode_cursor(&position(i)))
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

/// The position `(time, key)` of a list ordered by time then key, as cursor text.
pub fn time_position(at: time::OffsetDateTime, key: &str) -> String {
    format!("{}|{key}", at.unix_timestamp_nanos())
}

/// Parses a cursor made by [`time_position`].
///
/// # Errors
/// 400 naming `cursor`.
pub fn time_cursor(cursor: Option<String>) -> Result<Option<(time::OffsetDateTime, String)>, ApiError> {
    cursor
        .map(|c| {
            let bad = || ApiError::bad("cursor", "not a cursor from next_cursor");
            let (nanos, key) = c.split_once('|').ok_or_else(bad)?;
            let at = nanos
                .parse::<i128>()
                .ok()
                .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
                .ok_or_else(bad)?;
            Ok((at, key.to_string()))
        })
        .transpose()
}
