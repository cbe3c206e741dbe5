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
            .map_err(|e| HandleError::Permanent(format!("undecodable message {}: {e}", self.id)))
    }
}

/// Why a handler did not finish a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// A dependency failed (database, Redis, network): try again later.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The message can never succeed: dead-letter it.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A worker's message handler. It must be idempotent on the message id: entries are delivered
/// at least once.
pub trait Handler: Send + Sync + 'static {
    /// Commits the message's effects; the runner acknowledges after `Ok`.
    fn handle(&self, message: &StreamMessage) -> impl Future<Output = Result<(), HandleError>> + Send;
}
