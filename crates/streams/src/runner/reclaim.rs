//! Pending entries whose consumer went quiet: reclaimed by a live consumer, or dead-lettered
//! after `max_deliveries`; consumers gone idle with nothing pending are removed.

use super::{Incoming, Runner, RunnerConfig};
use crate::RedisConn;
use crate::reply;
use crate::{Handler, StreamError, StreamMessage};
use std::collections::HashSet;

impl<H: Handler> Runner<H> {
    /// Removes the group's consumers that have nothing pending and have been idle longer than
    /// `consumer_idle_prune` (replicas gone under names that will not come back). A live
    /// consumer reads every `block_ms`, so it is never that idle; were it removed, its next
    /// read would recreate it.
    pub(super) async fn prune_consumers(&self) -> Result<(), StreamError> {
        use redis::AsyncCommands;
        let c = &self.config;
        let mut conn = self.commands.clone();
        let info: redis::streams::StreamInfoConsumersReply =
            conn.xinfo_consumers(&c.stream, &c.group).await?;
        let idle_ms = c.consumer_idle_prune.as_millis() as usize;
        for gone in
            info.consumers.iter().filter(|x| x.name != c.consumer && x.pending == 0 && x.idle > idle_ms)
        {
            let _: i64 = redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(&c.stream)
                .arg(&c.group)
                .arg(&gone.name)
                .query_async(&mut conn)
                .await?;
            tracing::info!(stream = %c.stream, group = %c.group, consumer = %gone.name, idle_ms = gone.idle, "removed an idle consumer with nothing pending");
        }
        Ok(())
    }

    /// Claims entries whose consumer went quiet; dead-letters those delivered too often.
    pub(super) async fn reclaim(&self) -> Result<Vec<Incoming>, StreamError> {
        let mut conn = self.commands.clone();
        let c = &self.config;
        let mine: Vec<String> = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        if !mine.is_empty() {
            // Still working on these: reset their idle time (JUSTID counts no delivery).
            let _: redis::Value = redis::cmd("XCLAIM")
                .arg(&c.stream)
                .arg(&c.group)
                .arg(&c.consumer)
                .arg(0)
                .arg(&mine)
                .arg("JUSTID")
                .query_async(&mut conn)
                .await?;
        }
        let value: redis::Value = redis::cmd("XPENDING")
            .arg(&c.stream)
            .arg(&c.group)
            .arg("IDLE")
            .arg(c.reclaim_idle_ms)
            .arg("-")
            .arg("+")
            .arg(c.read_count.min(c.concurrency).max(1))
            .query_async(&mut conn)
            .await?;
        let rows = reply::pending(&value)?;
        let mut claim = Vec::new();
        let mut deliveries = std::collections::HashMap::new();
        let mine: HashSet<String> = mine.into_iter().collect();
        for row in rows.into_iter().filter(|r| !mine.contains(&r.id)) {
            if row.deliveries >= c.max_deliveries {
                let entries: redis::Value = redis::cmd("XRANGE")
                    .arg(&c.stream)
                    .arg(&row.id)
                    .arg(&row.id)
                    .query_async(&mut conn)
                    .await?;
                let payload = reply::entries(&entries)?
                    .into_iter()
                    .next()
                    .map(|e| self.message(e).payload)
                    .unwrap_or_default();
                let message = StreamMessage { stream: c.stream.clone(), id: row.id.clone(), payload };
                let reason = format!("delivered {} times without success", row.deliveries);
                tracing::error!(stream = %c.stream, stream_id = %row.id, %reason, "dead-lettering message");
                dead_letter(&mut conn, c, &message, &reason, row.deliveries).await?;
                self.counters.dead_lettered.increment(1);
            } else {
                deliveries.insert(row.id.clone(), row.deliveries);
                claim.push(row.id);
            }
        }
        if claim.is_empty() {
            return Ok(Vec::new());
        }
        let value: redis::Value = redis::cmd("XCLAIM")
            .arg(&c.stream)
            .arg(&c.group)
            .arg(&c.consumer)
            .arg(c.reclaim_idle_ms)
            .arg(&claim)
            .query_async(&mut conn)
            .await?;
        let claimed: Vec<Incoming> = reply::entries(&value)?
            .into_iter()
            .map(|e| {
                // XCLAIM counted one more delivery.
                let n = deliveries.get(&e.id).copied().unwrap_or(0) + 1;
                self.incoming(e, n)
            })
            .collect();
        let (live, trimmed): (Vec<_>, Vec<_>) =
            claimed.into_iter().partition(|m| !m.message.payload.is_empty());
        if !trimmed.is_empty() {
            // Entries trimmed away before anyone handled them cannot be handled: acknowledge them.
            let ids: Vec<&str> = trimmed.iter().map(|m| m.message.id.as_str()).collect();
            tracing::warn!(stream = %c.stream, count = ids.len(), "acknowledging pending entries that were trimmed");
            redis::cmd("XACK").arg(&c.stream).arg(&c.group).arg(&ids).query_async::<i64>(&mut conn).await?;
        }
        if !live.is_empty() {
            self.counters.reclaimed.increment(live.len() as u64);
            tracing::info!(stream = %c.stream, count = live.len(), "reclaimed pending entries");
        }
        Ok(live)
    }
}

/// Copies `message` to `<stream>:dlq` with why, then acknowledges it, in one transaction.
pub(super) async fn dead_letter(
    conn: &mut RedisConn,
    c: &RunnerConfig,
    message: &StreamMessage,
    reason: &str,
    deliveries: u64,
) -> Result<(), StreamError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    crate::producer::push_dead_letter(&mut pipe, c.dead_letter_maxlen, &c.group, message, reason, deliveries);
    pipe.ignore();
    pipe.cmd("XACK").arg(&c.stream).arg(&c.group).arg(&message.id).ignore();
    pipe.cmd("XLEN").arg(crate::Keys::dead_letter(&c.stream));
    let (length,): (u64,) = pipe.query_async(conn).await?;
    if length >= c.dead_letter_maxlen {
        // The cap is never silent: the oldest dead letters are being trimmed.
        tracing::warn!(
            stream = %crate::Keys::dead_letter(&c.stream),
            length,
            cap = c.dead_letter_maxlen,
            "dead-letter stream at DEAD_LETTER_MAXLEN: its oldest entries are trimmed; replay or discard them"
        );
    }
    Ok(())
}
