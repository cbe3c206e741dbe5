//! HTTP assertions: what a response must show besides its status code, and the judgement of
//! one response against them. Pure: the probe hands in what it received.
//!
//! Every failing assertion is named in the check's error, joined by `"; "`:
//! `body: keyword "OK" not found`, `json /status: expected "ok", got "degraded"`,
//! `header content-type: expected "application/json", got "text/html"`,
//! `latency: 812 ms, expected below 500 ms`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest keyword, header value or regular expression an assertion may hold, in bytes.
pub const MAX_ASSERTION_TEXT: usize = 1_024;
/// Compiled size limit for a header regular expression (the `regex` crate's `size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// How a JSON value at a pointer is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JsonOp {
    /// The value equals `value` (JSON equality).
    Equals,
    /// A string contains `value` (a string), or an array contains an element equal to `value`.
    Contains,
    /// Something is at the pointer.
    Exists,
}

/// How a header is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeaderOp {
    /// The value equals `value` exactly.
    Equals,
    /// The value matches the regular expression `value` (Rust `regex` syntax, unanchored).
    Matches,
}

/// One assertion on an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assertion {
    /// The body (its first MiB) contains `value`.
    BodyContains {
        /// The keyword, case-sensitive.
        value: String,
    },
    /// The body (its first MiB) does not contain `value`.
    BodyNotContains {
        /// The keyword, case-sensitive.
        value: String,
    },
    /// The body is JSON and the value at `pointer` (RFC 6901, e.g. `/status` or `/items/0/id`)
    /// satisfies `op`.
    Json {
        /// An RFC 6901 JSON Pointer: empty (the whole document) or starting with `/`.
        pointer: String,
        /// `equals`, `contains` or `exists`.
        op: JsonOp,
        /// The value compared with (not for `exists`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        value: Option<Value>,
    },
    /// Response header `name` satisfies `op`.
    Header {
        /// The header name, case-insensitive.
        name: String,
        /// `equals` or `matches`.
        op: HeaderOp,
        /// The expected value, or the regular expression.
        value: String,
    },
    /// The response arrived in under `ms` milliseconds.
    LatencyBelow {
        /// The limit, ms.
        ms: u32,
    },
}

/// What the probe received, for judging.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// Time to the response headers, ms.
    pub latency_ms: u32,
    /// Response headers (name, value), names in any case.
    pub headers: &'a [(String, String)],
    /// The body read (at most the probe's limit).
    pub body: &'a [u8],
}

impl Assertion {
    /// Whether judging this assertion needs the response body.
    pub fn needs_body(&self) -> bool {
        matches!(self, Self::BodyContains { .. } | Self::BodyNotContains { .. } | Self::Json { .. })
    }

    /// Checks the assertion's own rules.
    ///
    /// # Errors
    /// `(field, message)`, the field relative to the assertion.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let text = |field, v: &str| {
            if v.is_empty() || v.len() > MAX_ASSERTION_TEXT {
                Err((field, format!("1 to {MAX_ASSERTION_TEXT} bytes")))
            } else {
                Ok(())
            }
        };
        match self {
            Self::BodyContains { value } | Self::BodyNotContains { value } => text("value", value),
            Self::Json { pointer, op, value } => {
                if !(pointer.is_empty() || pointer.starts_with('/')) || pointer.len() > MAX_ASSERTION_TEXT {
                    return Err(("pointer", "an RFC 6901 JSON Pointer: empty or starting with /".into()));
                }
                match (op, value) {
                    (JsonOp::Exists, Some(_)) => Err(("value", "not used with exists".into())),
                    (JsonOp::Equals | JsonOp::Contains, None) => Err(("value", "required".into())),
                    (_, Some(v)) if v.to_string().len() > MAX_ASSERTION_TEXT => {
                        Err(("value", format!("at most {MAX_ASSERTION_TEXT} bytes of JSON")))
                    }
                    _ => Ok(()),
                }
            }
            Self::Header { name, op, value } => {
                let token = !name.is_empty()
                    && name.len() <= 256
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(("name", "must be a header name".into()));
                }
                if value.len() > MAX_ASSERTION_TEXT {
                    return Err(("value", format!("at most {MAX_ASSERTION_TEXT} bytes")));
                }
                if *op == HeaderOp::Matches {
                    compile_regex(value).map_err(|e| ("value", e))?;
                }
                Ok(())
            }
            Self::LatencyBelow { ms } => {
                if *ms == 0 || *ms > 60_000 {
                    Err(("ms", "must be between 1 and 60,000".into()))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Judges `response`: `None` when the assertion holds, else why not.
    pub fn judge(&self, response: &Response<'_>, json: &mut Option<Result<Value, ()>>) -> Option<String> {
        match self {
            Self::BodyContains { value } => (!contains(response.body, value.as_bytes()))
                .then(|| format!("body: keyword {value:?} not found")),
            Self::BodyNotContains { value } => {
                contains(response.body, value.as_bytes()).then(|| format!("body: keyword {value:?} found"))
            }
            Self::Json { pointer, op, value } => {
                let doc = json.get_or_insert_with(|| serde_json::from_slice(response.body).map_err(|_| ()));
                let Ok(doc) = doc else { return Some("json: body is not JSON".into()) };
                let label = if pointer.is_empty() {
                    "json (document)".to_string()
                } else {
                    format!("json {pointer}")
                };
                let Some(found) = doc.pointer(pointer) else { return Some(format!("{label}: not found")) };
                match (op, value) {
                    (JsonOp::Exists, _) => None,
                    (JsonOp::Equals, Some(want)) => {
                        (found != want).then(|| format!("{label}: expected {want}, got {}", short(found)))
                    }
                    (JsonOp::Contains, Some(want)) => {
                        let holds = match (found, want) {
                            (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
                            (Value::Array(items), w) => items.contains(w),
                            _ => false,
                        };
                        (!holds).then(|| format!("{label}: expected to contain {want}, got {}", short(found)))
                    }
                    (_, None) => Some(format!("{label}: no value to compare with")),
                }
            }
            Self::Header { name, op, value } => {
                let got = response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
                let Some(got) = got else {
                    return Some(format!("header {}: missing", name.to_ascii_lowercase()));
                };
                let lname = name.to_ascii_lowercase();
                match op {
                    HeaderOp::Equals => {
                        (got != value).then(|| format!("header {lname}: expected {value:?}, got {got:?}"))
                    }
                    HeaderOp::Matches => match compile_regex(value) {
                        Ok(re) => (!re.is_match(got))
                            .then(|| format!("header {lname}: {got:?} does not match /{value}/")),
                        Err(e) => Some(format!("header {lname}: {e}")),
                    },
                }
            }
            Self::LatencyBelow { ms } => (response.latency_ms >= *ms)
                .then(|| format!("latency: {} ms, expected below {ms} ms", response.latency_ms)),
        }
    }
}

/// Judges every assertion; `None` when all hold, else every failure joined by `"; "`.
pub fn judge_all(assertions: &[Assertion], response: &Response<'_>) -> Option<String> {
    let mut json = None;
    let failures: Vec<String> = assertions.iter().filter_map(|a| a.judge(response, &mut json)).collect();
    (!failures.is_empty()).then(|| failures.join("; "))
}

/// Compiles a header regular expression within [`REGEX_SIZE_LIMIT`].
///
/// # Errors
/// The regex crate's message.
pub fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regular expression: {}", e.to_string().lines().last().unwrap_or("")))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// A JSON value in an error, cut to 200 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 200 { s } else { format!("{}…", s.chars().take(200).collect::<String>()) }
}

#[cfg(test)]
#[path = "assertions_tests.rs"]
mod tests;
