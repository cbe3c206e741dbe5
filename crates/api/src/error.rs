//! One error type for every handler, rendered as RFC 9457 `application/problem+json`.
//! 5xx bodies are opaque; their cause chain is logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use upcheck_store::StoreError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, a bad query parameter).
    #[error("{message}")]
    BadRequest {
        /// The offending field or parameter, if one is to blame.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// 422: well-formed, but a field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field (dotted for nested ones).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// 401: missing, wrong or expired credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the caller may not do this (an admin route for a member).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: no such resource for this caller (another user's resource is 404 too).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the resource exists already.
    #[error("{0}")]
    Conflict(&'static str),
    /// 409: an operator's limit would be passed; `limit` names the setting.
    #[error("{message}")]
    Quota {
        /// The setting that sets the limit (`MAX_MONITORS_PER_USER`).
        limit: &'static str,
        /// What the limit is.
        message: String,
    },
    /// 429: a per-user limit of open resources is reached; `limit` names the setting
    /// (`EVENTS_MAX_STREAMS_PER_USER`).
    #[error("{message}")]
    TooMany {
        /// The setting that sets the limit.
        limit: &'static str,
        /// What the limit is.
        message: String,
    },
    /// 413: the body is over 64 KiB.
    #[error("request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// 503: the server is at its limit for this kind of work (password hashing); the client
    /// should try again after `retry_after_seconds` (sent as `Retry-After`).
    #[error("{what} is busy; try again shortly")]
    Busy {
        /// The work that is at its limit (`password hashing`).
        what: &'static str,
        /// Seconds to wait before trying again.
        retry_after_seconds: u64,
    },
    /// 429: a rate limit is spent; `Retry-After` says when the next request is allowed.
    #[error("rate limit of {limit} requests a minute per {scope} reached")]
    RateLimited {
        /// What the limit counts by: `account`, `address`, `heartbeat`, `user or key`.
        scope: &'static str,
        /// The setting that sets it (`RATE_LIMIT_LOGIN_PER_MINUTE`).
        setting: &'static str,
        /// Requests allowed a minute.
        limit: u32,
        /// Seconds until the next request is allowed (at least 1).
        retry_after_seconds: u64,
    },
    /// 503: a dependency (`database` or `redis`) does not answer.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// 500: a bug or an unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }

    /// A 400 on query parameter or field `field`.
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        Self::BadRequest { field: Some(field.to_string()), message: message.into() }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() { Self::Unavailable("database") } else { Self::Internal(e.into()) }
    }
}

impl From<upcheck_domain::ValidationError> for ApiError {
    fn from(e: upcheck_domain::ValidationError) -> Self {
        Self::Invalid { field: e.field, message: e.message }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::Quota { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } | Self::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (kind, detail, field) = match self {
            Self::BadRequest { field, message } => ("bad-request", message.clone(), field.clone()),
            Self::Invalid { field, message } => ("validation", message.clone(), Some(field.clone())),
            Self::Unauthorized(why) => ("unauthorized", (*why).to_string(), None),
            Self::Forbidden(why) => ("forbidden", (*why).to_string(), None),
            Self::NotFound(what) => ("not-found", format!("{what} not found"), None),
            Self::Conflict(why) => ("conflict", (*why).to_string(), None),
            Self::Quota { message, .. } => ("quota-exceeded", message.clone(), None),
            Self::PayloadTooLarge => ("payload-too-large", self.to_string(), None),
            Self::Busy { what, .. } => {
                tracing::debug!(work = what, "answering 503: at the concurrency limit");
                ("busy", self.to_string(), None)
            }
            Self::RateLimited { .. } => ("rate-limited", self.to_string(), None),
            Self::TooMany { message, .. } => ("too-many", message.clone(), None),
            Self::Unavailable(what) => {
                tracing::warn!(dependency = what, "answering 503");
                ("unavailable", format!("{what} is unavailable; try again shortly"), None)
            }
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                ("internal", "an internal error occurred".to_string(), None)
            }
        };
        let mut body = json!({
            "type": format!("urn:upcheck:problem:{kind}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(field) = field {
            body["errors"] = json!([{ "field": field, "message": detail }]);
        }
        if let Self::Quota { limit, .. } | Self::TooMany { limit, .. } = self {
            body["limit"] = json!(limit);
        }
        let mut response = HttpResponse::build(status);
        match self {
            Self::Busy { retry_after_seconds, .. } => {
                response.insert_header(("retry-after", retry_after_seconds.to_string()));
            }
            Self::RateLimited { setting, limit, retry_after_seconds, .. } => {
                body["limit"] = json!(setting);
                // draft-ietf-httpapi-ratelimit-headers: the policy (limit per 60 s window) and
                // what is left (nothing, for the next `retry_after_seconds`).
                response
                    .insert_header(("retry-after", retry_after_seconds.to_string()))
                    .insert_header(("ratelimit-policy", format!("{limit};w=60")))
                    .insert_header((
                        "ratelimit",
                        format!("limit={limit}, remaining=0, reset={retry_after_seconds}"),
                    ));
            }
            _ => {}
        }
        response.content_type("application/problem+json").body(body.to_string())
    }
}
