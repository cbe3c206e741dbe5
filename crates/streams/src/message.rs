//! The contract between the runner and a worker: the message, the handler trait, and how a
//! handler reports failure.

use std::future::Future;

/// One entry handed to a handler.
#[derive(Debug, Clone)]
pub struct StreamMessage {
    /// The stream it came from.
    pub stream: String,
    /// Its entry id (`<ms>-<seq>`), the idempotency key for its effects.
    pub id: String,
    /// The JSON message (field `m`); empty when the entry was trimmed away before it was read.
    pub payload: String,
}

impl StreamMessage {
    /// Decodes the JSON message.
    ///
    /// # Errors
    /// [`HandleError::Permanent`]: a message that does not decode never will.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, HandleError> {
        serde_json::from_str(&self.payload)
            .map_err(|e| HandleError::permanent(format!("undecodable message {}: {e}", self.id)))
    }
}

/// A handler's failure cause, kept with its source chain for the log and the dead letter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a handler did not finish a message (the classes of apalis's `AbortError` and
/// `RetryAfterError`).
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// A dependency failed for now (database or Redis unreachable, a serialization failure, a
    /// deadlock, a pool time-out): the runner calls the handler again after `retry_after`, or
    /// after its own backoff, for at most `HANDLER_RETRY_BUDGET_MS`; past that the entry is left
    /// pending, to be reclaimed and, after `MAX_DELIVERIES`, dead-lettered.
    #[error("retryable: {source}")]
    Retryable {
        /// What failed.
        #[source]
        source: BoxError,
        /// How long to wait before the next try, when the cause knows better than the backoff.
        retry_after: Option<std::time::Duration>,
    },
    /// The message can never succeed (it does not decode, or the database rejects its data for
    /// good): the runner dead-letters it at once, with the error as the reason.
    #[error("permanent: {source}")]
    Permanent {
        /// What failed.
        #[source]
        source: BoxError,
    },
}

impl HandleError {
    /// A transient failure, retried after the runner's backoff.
    pub fn retryable(source: impl Into<BoxError>) -> Self {
        Self::Retryable { source: source.into(), retry_after: None }
    }

    /// A transient failure, retried after `delay`.
    pub fn retry_after(source: impl Into<BoxError>, delay: std::time::Duration) -> Self {
        Self::Retryable { source: source.into(), retry_after: Some(delay) }
    }

    /// A failure no retry can fix.
    pub fn permanent(source: impl Into<BoxError>) -> Self {
        Self::Permanent { source: source.into() }
    }

    /// Whether the message should be dead-lettered at once.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent { .. })
    }

    /// The cause and every source under it, joined with `": "`: the text logged and stored as a
    /// dead letter's `reason`.
    pub fn chain(&self) -> String {
        let (Self::Retryable { source, .. } | Self::Permanent { source }) = self;
        let mut text = source.to_string();
        let mut next = source.source();
        while let Some(e) = next {
            let more = e.to_string();
            if !text.ends_with(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            next = e.source();
        }
        text
    }
}

/// A worker's message handler. It must be idempotent on the message id: entries are delivered
/// at least once.
pub trait Handler: Send + Sync + 'static {
    /// Commits the message's effects; the runner acknowledges after `Ok`.
    fn handle(&self, message: &StreamMessage) -> impl Future<Output = Result<(), HandleError>> + Send;
}
