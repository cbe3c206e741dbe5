//! Dead letters: what the runner moved to `<stream>:dlq` after its last delivery (or at once,
//! for a permanent failure), listed, replayed onto their stream, or discarded.
//!
//! Each entry holds the message (`m`) and why (`source_id`, `group`, `reason`, `deliveries`;
//! see [`crate::Producer::dead_letter`]). A replay deletes the dead letter and adds the message
//! to its stream again in one script, so it is neither lost nor replayed twice.

use crate::RedisConn;
use crate::{Keys, MESSAGE_FIELD, StreamError};
use std::collections::HashMap;

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id in `<stream>:dlq` (its first part is when it died, Unix ms).
    pub id: String,
    /// The stream it came from and is replayed to.
    pub stream: String,
    /// Its id in that stream.
    pub source_id: String,
    /// The consumer group that gave up on it.
    pub group: String,
    /// Why.
    pub reason: String,
    /// How often it was delivered.
    pub deliveries: u64,
    /// The message, as it was on the stream.
    pub message: String,
}

impl DeadLetter {
    /// When it died, Unix ms (from its id).
    pub fn dead_at_ms(&self) -> i64 {
        self.id.split('-').next().and_then(|ms| ms.parse().ok()).unwrap_or(0)
    }
}

type Entry = (String, HashMap<String, String>);

fn decode(stream: &str, (id, mut fields): Entry) -> DeadLetter {
    let mut take = |k: &str| fields.remove(k).unwrap_or_default();
    DeadLetter {
        message: take(MESSAGE_FIELD),
        source_id: take("source_id"),
        group: take("group"),
        reason: take("reason"),
        deliveries: take("deliveries").parse().unwrap_or(0),
        stream: stream.to_string(),
        id,
    }
}

/// Up to `limit` dead letters of `stream`, oldest first, after the id `after` (exclusive).
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn list(
    conn: &RedisConn,
    stream: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<DeadLetter>, StreamError> {
    let start = after.map_or_else(|| "-".to_string(), |a| format!("({a}"));
    let entries: Vec<Entry> = redis::cmd("XRANGE")
        .arg(Keys::dead_letter(stream))
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(limit.max(1))
        .query_async(&mut conn.clone())
        .await?;
    Ok(entries.into_iter().map(|e| decode(stream, e)).collect())
}

/// The dead letter `id` of `stream`, if it is there (`None` too for an `id` that is no stream
/// entry id).
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn get(conn: &RedisConn, stream: &str, id: &str) -> Result<Option<DeadLetter>, StreamError> {
    if !is_entry_id(id) {
        return Ok(None);
    }
    let entries: Vec<Entry> = redis::cmd("XRANGE")
        .arg(Keys::dead_letter(stream))
        .arg(id)
        .arg(id)
        .query_async(&mut conn.clone())
        .await?;
    Ok(entries.into_iter().next().map(|e| decode(stream, e)))
}

/// KEYS: stream, its dead-letter stream. ARGV: dead letter id, MAXLEN, message. The dead
/// letter is deleted first and the message added only if it was there, so two replays of one
/// dead letter add it once.
const REQUEUE_SCRIPT: &str = r#"
if redis.call('XDEL', KEYS[2], ARGV[1]) == 0 then return false end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[3])
"#;

/// Adds `letter`'s message to its stream again (trimmed to about `maxlen`) and deletes the dead
/// letter, atomically; returns the new entry's id, or `None` when the dead letter was gone
/// (another replay or a discard took it first).
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn requeue(
    conn: &RedisConn,
    letter: &DeadLetter,
    maxlen: u64,
) -> Result<Option<String>, StreamError> {
    let new_id: Option<String> = redis::Script::new(REQUEUE_SCRIPT)
        .key(&letter.stream)
        .key(Keys::dead_letter(&letter.stream))
        .arg(&letter.id)
        .arg(maxlen)
        .arg(&letter.message)
        .invoke_async(&mut conn.clone())
        .await?;
    Ok(new_id)
}

/// Whether `id` has the form of a stream entry id (`<ms>-<seq>`).
pub fn is_entry_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Deletes the dead letter `id` of `stream`; returns whether it was there (`false` for an `id`
/// that is no stream entry id).
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn discard(conn: &RedisConn, stream: &str, id: &str) -> Result<bool, StreamError> {
    if !is_entry_id(id) {
        return Ok(false);
    }
    let n: u64 =
        redis::cmd("XDEL").arg(Keys::dead_letter(stream)).arg(id).query_async(&mut conn.clone()).await?;
    Ok(n == 1)
}
