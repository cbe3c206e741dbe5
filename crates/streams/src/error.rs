//! The streams crate's error type.

/// A failed Redis operation.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Redis refused or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Settings could not produce a client.
    #[error("redis settings: {0}")]
    Config(#[from] upcheck_config::ConfigError),
    /// A reply had an unexpected shape.
    #[error("unexpected redis reply: {0}")]
    Reply(String),
    /// A message could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
}
