//! The stream producer: `XADD … MAXLEN ~ n` so streams stay bounded.

use crate::{Keys, StreamError, StreamMessage};
use redis::aio::ConnectionManager;
use serde::Serialize;

/// The field every Upcheck stream entry keeps its JSON message in.
pub const MESSAGE_FIELD: &str = "m";

/// Adds JSON messages to streams, trimming each to about `maxlen` entries.
#[derive(Clone)]
pub struct Producer {
    conn: ConnectionManager,
    maxlen: u64,
    dead_letter_maxlen: u64,
}

impl Producer {
    /// A producer on `conn` trimming to about `maxlen` entries (`STREAM_MAXLEN`).
    pub fn new(conn: ConnectionManager, maxlen: u64) -> Self {
        Self { conn, maxlen, dead_letter_maxlen: upcheck_config::Tunables::default().dead_letter_maxlen }
    }

    /// This producer, trimming dead-letter streams to about `maxlen` entries
    /// (`DEAD_LETTER_MAXLEN`) instead of the default.
    pub fn with_dead_letter_maxlen(mut self, maxlen: u64) -> Self {
        self.dead_letter_maxlen = maxlen;
        self
    }

    /// Adds one message; returns its entry id.
    ///
    /// # Errors
    /// [`StreamError::Encode`] when a message does not serialise; [`StreamError::Redis`] when Redis
    /// refuses the command or the connection fails.
    pub async fn add<T: Serialize>(&self, stream: &str, message: &T) -> Result<String, StreamError> {
        self.add_many(stream, std::slice::from_ref(message))
            .await?
            .pop()
            .ok_or_else(|| StreamError::Reply("XADD returned no id".into()))
    }

    /// Adds several messages to one stream in one pipelined round trip.
    ///
    /// # Errors
    /// [`StreamError::Encode`] when a message does not serialise; [`StreamError::Redis`] when Redis
    /// refuses the command or the connection fails.
    pub async fn add_many<T: Serialize>(
        &self,
        stream: &str,
        messages: &[T],
    ) -> Result<Vec<String>, StreamError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for m in messages {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.maxlen)
                .arg("*")
                .arg(MESSAGE_FIELD)
                .arg(serde_json::to_string(m)?);
        }
        Ok(pipe.query_async(&mut self.conn.clone()).await?)
    }
}

impl Producer {
    /// Publishes `payload` on pub/sub `channel` (the live status feed); returns how many
    /// subscribers got it.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<i64, StreamError> {
        Ok(redis::cmd("PUBLISH").arg(channel).arg(payload).query_async(&mut self.conn.clone()).await?)
    }

    /// Which of the entry ids `ids` are no longer in `stream` (trimmed, or lost with Redis's
    /// data), in the order given. One pipelined `XRANGE id id` per id.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn missing<'a>(&self, stream: &str, ids: &[&'a str]) -> Result<Vec<&'a str>, StreamError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("XRANGE").arg(stream).arg(*id).arg(*id).arg("COUNT").arg(1);
        }
        let found: Vec<Vec<redis::Value>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(ids.iter().zip(found).filter(|(_, f)| f.is_empty()).map(|(id, _)| *id).collect())
    }

    /// Copies `message` to `<stream>:dlq` (trimmed to about `DEAD_LETTER_MAXLEN` entries) with
    /// why it failed: fields `m` (the message), `source_id`, `group`, `reason`, `deliveries`.
    /// Returns the dead letter's id.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn dead_letter(
        &self,
        group: &str,
        message: &StreamMessage,
        reason: &str,
        deliveries: u64,
    ) -> Result<String, StreamError> {
        let mut pipe = redis::pipe();
        push_dead_letter(&mut pipe, self.dead_letter_maxlen, group, message, reason, deliveries);
        let ids: Vec<String> = pipe.query_async(&mut self.conn.clone()).await?;
        ids.into_iter().next().ok_or_else(|| StreamError::Reply("XADD returned nothing".into()))
    }
}

/// Appends the dead-letter `XADD` for `message` (to `<message.stream>:dlq`, trimmed to about
/// `maxlen` entries) to `pipe`.
pub(crate) fn push_dead_letter(
    pipe: &mut redis::Pipeline,
    maxlen: u64,
    group: &str,
    message: &StreamMessage,
    reason: &str,
    deliveries: u64,
) {
    pipe.cmd("XADD")
        .arg(Keys::dead_letter(&message.stream))
        .arg("MAXLEN")
        .arg("~")
        .arg(maxlen)
        .arg("*")
        .arg(MESSAGE_FIELD)
        .arg(&message.payload)
        .arg("source_id")
        .arg(&message.id)
        .arg("group")
        .arg(group)
        .arg("reason")
        .arg(reason)
        .arg("deliveries")
        .arg(deliveries);
}
