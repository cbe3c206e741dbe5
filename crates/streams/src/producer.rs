//! The stream producer: `XADD … MAXLEN ~ n` so streams stay bounded; each entry carries its
//! trace context beside the message (see [`crate::trace`]).

use crate::RedisConn;
use crate::{Keys, StreamError, StreamMessage};
use serde::Serialize;
use upcheck_domain::TraceParent;

/// The field every Upcheck stream entry keeps its JSON message in.
pub const MESSAGE_FIELD: &str = "m";

/// Adds JSON messages to streams, trimming each to about `maxlen` entries.
#[derive(Clone)]
pub struct Producer {
    conn: RedisConn,
    maxlen: u64,
    dead_letter_maxlen: u64,
}

impl Producer {
    /// A producer on `conn` trimming to about `maxlen` entries (`STREAM_MAXLEN`).
    pub fn new(conn: RedisConn, maxlen: u64) -> Self {
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

    /// Adds several messages to one stream in one pipelined round trip, each carrying the
    /// current span's trace context (see [`crate::trace`]).
    ///
    /// # Errors
    /// [`StreamError::Encode`] when a message does not serialise; [`StreamError::Redis`] when Redis
    /// refuses the command or the connection fails.
    pub async fn add_many<T: Serialize>(
        &self,
        stream: &str,
        messages: &[T],
    ) -> Result<Vec<String>, StreamError> {
        let parent = crate::trace::current();
        self.add_each(stream, messages.iter().map(|m| (m, parent))).await
    }

    /// Adds several messages to one stream in one pipelined round trip, each with the trace
    /// context given beside it (`None`: no trace field), e.g. a status event with the context
    /// of the check that produced it.
    ///
    /// # Errors
    /// [`StreamError`] when encoding or Redis fails.
    pub async fn add_each<'a, T: Serialize + 'a>(
        &self,
        stream: &str,
        messages: impl IntoIterator<Item = (&'a T, Option<TraceParent>)>,
    ) -> Result<Vec<String>, StreamError> {
        let mut pipe = redis::pipe();
        let mut count = 0;
        for (m, parent) in messages {
            let cmd = pipe.cmd("XADD").arg(stream).arg("MAXLEN").arg("~").arg(self.maxlen).arg("*");
            for (field, value) in entry_fields(serde_json::to_string(m)?, parent) {
                cmd.arg(field).arg(value);
            }
            count += 1;
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        Ok(pipe.query_async(&mut self.conn.clone()).await?)
    }
}

/// An entry's fields: the JSON message as [`MESSAGE_FIELD`] and, when there is one, the
/// W3C `traceparent` of `parent` as [`crate::trace::TRACE_FIELD`].
pub(crate) fn entry_fields(json: String, parent: Option<TraceParent>) -> Vec<(&'static str, String)> {
    let mut fields = vec![(MESSAGE_FIELD, json)];
    if let Some(p) = parent {
        fields.push((crate::trace::TRACE_FIELD, p.to_string()));
    }
    fields
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
