//! The consumer-group runner all three workers share. A worker writes only its [`Handler`].
//!
//! - The group is created at id `0` with `MKSTREAM`; `BUSYGROUP` counts as success.
//! - `XREADGROUP … COUNT n BLOCK ms` reads at most as many entries as there are free slots
//!   (`concurrency`), so memory and in-flight work stay bounded.
//! - An entry is acknowledged only after its handler returned `Ok` (its effects committed).
//!   [`HandleError::Retryable`] is retried in-process after its `retry_after` or with
//!   exponential backoff (the database or Redis is down: nothing is lost, nothing piles up), for
//!   at most `retry_budget`; then the entry is left pending, no longer kept fresh, so the
//!   reclaim below takes it and `max_deliveries` ends a failure that never clears.
//!   [`HandleError::Permanent`] moves the entry to its dead-letter stream at once
//!   ([`crate::Keys::dead_letter`]: `{<stream>}:dlq`, in the stream's hash slot), with the
//!   error's chain as the reason.
//! - Acknowledgements are batched: the ids that finish while one `XACK` is in flight go
//!   together in the next, so a busy runner pays one round trip per batch and an idle one
//!   waits for nothing.
//! - Every `reclaim_idle_ms / 2`, entries pending longer than `reclaim_idle_ms` (their
//!   consumer died) are claimed by this consumer; one delivered `max_deliveries` times or more
//!   goes to the dead-letter stream instead (a poison message that keeps killing workers).
//!   Entries this runner is still working on (e.g. retrying through an outage) are kept fresh
//!   first with `XCLAIM … JUSTID`, which resets their idle time without counting a delivery,
//!   so no replica reclaims live work.
//! - On cancellation: stop reading, let in-flight handlers finish (or, if they are stuck
//!   retrying, leave their entries pending for another replica), then return.
//!
//! Metrics (labels `stream`, `group`): `upcheck_stream_entries_read_total`,
//! `upcheck_stream_entries_acknowledged_total`, `upcheck_stream_entries_reclaimed_total`,
//! `upcheck_stream_entries_dead_lettered_total`, `upcheck_stream_handler_retries_total`.

mod ack;
mod config;
mod reclaim;
mod span;

use crate::RedisConn;
use crate::Throttle;
use crate::backoff::{backoff, sleep_or_cancel};
use crate::reply::{self, Entry};
use crate::{HandleError, Handler, MESSAGE_FIELD, StreamError, StreamMessage};
use ack::Acker;
use config::Counters;
pub use config::RunnerConfig;
use reclaim::dead_letter;
use span::{Incoming, entry_span};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Runs one consumer of one group until cancelled.
pub struct Runner<H> {
    config: RunnerConfig,
    counters: Counters,
    commands: RedisConn,
    blocking: RedisConn,
    handler: Arc<H>,
    ready: Arc<AtomicBool>,
    free: Arc<AtomicUsize>,
    retry_warnings: Throttle,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl<H: Handler> Runner<H> {
    /// A runner using `conns` for commands and blocking reads.
    pub fn new(config: RunnerConfig, conns: &crate::RedisConns, handler: Arc<H>) -> Self {
        let concurrency = config.concurrency;
        Self {
            counters: Counters::new(&config),
            config,
            commands: conns.commands.clone(),
            blocking: conns.blocking.clone(),
            handler,
            ready: Arc::new(AtomicBool::new(false)),
            free: Arc::new(AtomicUsize::new(concurrency)),
            retry_warnings: Throttle::new(Duration::from_secs(1)),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Set once the consumer group exists (for `/readyz`).
    pub fn ready_flag(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// How many more messages this runner can take now (`concurrency` minus those in flight),
    /// so a producer in the same process adds no more than that instead of piling entries up
    /// in the stream.
    pub fn free_slots(&self) -> Arc<AtomicUsize> {
        self.free.clone()
    }

    /// Creates the group at id `0` with `MKSTREAM`, unless it exists.
    ///
    /// # Errors
    /// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
    pub async fn ensure_group(&self) -> Result<(), StreamError> {
        ensure_group(&mut self.commands.clone(), &self.config.stream, &self.config.group).await?;
        self.ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Reads, handles and acknowledges until `cancel` fires, then drains in-flight work.
    ///
    /// # Errors
    /// None today: Redis failures are logged and retried with backoff.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), StreamError> {
        let mut backoff = backoff();
        while let Err(e) = self.ensure_group().await {
            tracing::warn!(stream = %self.config.stream, error = %e, "cannot create consumer group; retrying");
            if sleep_or_cancel(backoff.next_delay(), &cancel).await {
                return Ok(());
            }
        }
        if let Some(old) = crate::Keys::legacy_dead_letter(&self.config.stream) {
            let new = crate::Keys::dead_letter(&self.config.stream);
            match crate::adopt_legacy_key(&self.commands, &old, &new).await {
                Ok(true) => tracing::info!(%old, %new, "dead-letter stream renamed to its hash-tagged name"),
                Ok(false) => {}
                Err(e) => tracing::warn!(%old, error = %e, "cannot adopt the old dead-letter stream"),
            }
        }
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let (acker, ack_loop) = Acker::start(
            self.commands.clone(),
            self.config.clone(),
            cancel.clone(),
            self.counters.acknowledged.clone(),
        );
        let mut tasks = JoinSet::new();
        let reclaim_every = Duration::from_millis((self.config.reclaim_idle_ms / 2).max(100));
        let mut next_reclaim = Instant::now();
        while !cancel.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            if Instant::now() >= next_reclaim {
                next_reclaim = Instant::now() + reclaim_every;
                if let Err(e) = self.prune_consumers().await {
                    tracing::debug!(stream = %self.config.stream, error = %e, "pruning idle consumers failed");
                }
                match self.reclaim().await {
                    Ok(messages) => {
                        for m in messages {
                            self.dispatch(m, &slots, &acker, &mut tasks, &cancel).await;
                        }
                    }
                    Err(e) => tracing::warn!(stream = %self.config.stream, error = %e, "reclaim failed"),
                }
            }
            let free = slots.available_permits();
            self.free.store(free, Ordering::Relaxed);
            if free == 0 {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tasks.join_next() => continue,
                }
            }
            match self.read(free.min(self.config.read_count)).await {
                Ok(messages) => {
                    backoff.reset();
                    self.counters.read.increment(messages.len() as u64);
                    for m in messages {
                        self.dispatch(m, &slots, &acker, &mut tasks, &cancel).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(stream = %self.config.stream, error = %e, "read failed; backing off");
                    if e.to_string().contains("NOGROUP") {
                        let _ = self.ensure_group().await;
                    }
                    if sleep_or_cancel(backoff.next_delay(), &cancel).await {
                        break;
                    }
                }
            }
        }
        let drained = tokio::time::timeout(self.config.shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(stream = %self.config.stream, left = tasks.len(), "shutdown timeout: leaving entries pending");
            tasks.abort_all();
        }
        // The acknowledgement loop ends once the last handler task has dropped its sender.
        drop(acker);
        while tasks.join_next().await.is_some() {}
        let _ = ack_loop.await;
        Ok(())
    }

    async fn dispatch(
        &self,
        incoming: Incoming,
        slots: &Arc<Semaphore>,
        acker: &Acker,
        tasks: &mut JoinSet<()>,
        cancel: &CancellationToken,
    ) {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(incoming.message.id.clone())
        {
            return; // already being handled here
        }
        let span = entry_span(&self.config, &incoming);
        let message = incoming.message;
        let in_flight = InFlight { set: self.in_flight.clone(), id: message.id.clone() };
        let handler = self.handler.clone();
        let mut conn = self.commands.clone();
        let config = self.config.clone();
        let cancel = cancel.clone();
        let counters = self.counters.clone();
        let acker = acker.clone();
        let throttle = self.retry_warnings.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let _in_flight = in_flight;
            let started = Instant::now();
            let mut backoff = backoff();
            loop {
                let err = match handler.handle(&message).await {
                    Ok(()) => {
                        // Holds the slot and the in-flight mark until acknowledged.
                        acker.ack(message.id.clone()).await;
                        return;
                    }
                    Err(e) => e,
                };
                let reason = err.chain();
                match err {
                    HandleError::Permanent { .. } => {
                        tracing::error!(stream = %config.stream, stream_id = %message.id, %reason, "dead-lettering message");
                        let mut tries = crate::backoff::backoff();
                        while let Err(e) = dead_letter(&mut conn, &config, &message, &reason, 0).await {
                            tracing::warn!(error = %e, "dead-letter failed; retrying");
                            if sleep_or_cancel(tries.next_delay(), &cancel).await {
                                return;
                            }
                        }
                        counters.dead_lettered.increment(1);
                        return;
                    }
                    HandleError::Retryable { retry_after, .. } => {
                        counters.retries.increment(1);
                        let wait = retry_after.unwrap_or_else(|| backoff.next_delay());
                        if started.elapsed() + wait > config.retry_budget {
                            // Left pending and no longer kept fresh: reclaimed after
                            // `reclaim_idle_ms`, dead-lettered after `max_deliveries`.
                            tracing::warn!(stream = %config.stream, stream_id = %message.id, %reason, budget_ms = config.retry_budget.as_millis() as u64, "retry budget spent; leaving the entry to be reclaimed");
                            return;
                        }
                        // One warning a second per runner: an outage fails every message at once.
                        if let Some(suppressed) = throttle.allow() {
                            tracing::warn!(stream = %config.stream, stream_id = %message.id, %reason, retry_in_ms = wait.as_millis() as u64, suppressed, "handler failed; will retry");
                        } else {
                            tracing::debug!(stream = %config.stream, stream_id = %message.id, %reason, retry_in_ms = wait.as_millis() as u64, "handler failed; will retry");
                        }
                        if sleep_or_cancel(wait, &cancel).await {
                            return; // left pending: another replica reclaims it
                        }
                    }
                }
            }
        }
        .instrument(span));
    }

    async fn read(&self, count: usize) -> Result<Vec<Incoming>, StreamError> {
        let value: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(self.config.block_ms.min(2_000))
            .arg("STREAMS")
            .arg(&self.config.stream)
            .arg(">")
            .query_async(&mut self.blocking.clone())
            .await?;
        Ok(reply::read_reply(&value)?.into_iter().map(|e| self.incoming(e, 1)).collect())
    }

    /// An entry delivered `deliveries` times (this time included), with its trace context.
    fn incoming(&self, entry: Entry, deliveries: u64) -> Incoming {
        let parent = crate::trace::from_fields(&entry.fields);
        Incoming { message: self.message(entry), parent, deliveries }
    }

    fn message(&self, entry: Entry) -> StreamMessage {
        let payload =
            entry.fields.into_iter().find(|(k, _)| k == MESSAGE_FIELD).map(|(_, v)| v).unwrap_or_default();
        StreamMessage { stream: self.config.stream.clone(), id: entry.id, payload }
    }
}

/// Removes its id from the runner's in-flight set when a handler task ends, however it ends.
struct InFlight {
    set: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.id);
        }
    }
}

/// Creates `group` on `stream` at id `0` with `MKSTREAM`; an existing group is fine.
///
/// # Errors
/// [`StreamError`] for any failure but `BUSYGROUP`.
pub(crate) async fn ensure_group(conn: &mut RedisConn, stream: &str, group: &str) -> Result<(), StreamError> {
    let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match created {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(e.into()),
    }
}
