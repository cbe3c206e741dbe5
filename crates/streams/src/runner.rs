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
//!   [`HandleError::Permanent`] moves the entry to `<stream>:dlq` at once, with the error's
//!   chain as the reason.
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

use crate::backoff::{Backoff, sleep_or_cancel};
use crate::reply::{self, Entry};
use crate::{HandleError, Handler, MESSAGE_FIELD, StreamError, StreamMessage};
use redis::aio::ConnectionManager;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Where and how a runner reads.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The stream.
    pub stream: String,
    /// The consumer group.
    pub group: String,
    /// This replica's consumer name (unique per replica).
    pub consumer: String,
    /// Most messages in flight.
    pub concurrency: usize,
    /// Most entries per read.
    pub read_count: usize,
    /// `BLOCK` of each read, ms (at most 2,000: shutdown waits for it).
    pub block_ms: u64,
    /// Pending entries idle longer than this are reclaimed, ms.
    pub reclaim_idle_ms: u64,
    /// Deliveries after which an entry is dead-lettered.
    pub max_deliveries: u64,
    /// How long shutdown waits for in-flight handlers.
    pub shutdown_timeout: Duration,
    /// A consumer of the group with nothing pending and idle this long (a replica that
    /// restarted under a new name) is removed from the group (`CONSUMER_IDLE_PRUNE_SECONDS`).
    pub consumer_idle_prune: Duration,
    /// Approximate cap on `<stream>:dlq` (`DEAD_LETTER_MAXLEN`).
    pub dead_letter_maxlen: u64,
    /// How long one delivery of an entry is retried in-process after [`HandleError::Retryable`]
    /// failures (`HANDLER_RETRY_BUDGET_MS`); past it the entry is left to the reclaim and
    /// `max_deliveries` path.
    pub retry_budget: Duration,
}

impl RunnerConfig {
    /// A config for this replica from `settings` (`CONSUMER_NAME`, `RECLAIM_IDLE_MS`,
    /// `MAX_DELIVERIES`, `HANDLER_RETRY_BUDGET_MS`, `CONSUMER_IDLE_PRUNE_SECONDS`,
    /// `DEAD_LETTER_MAXLEN`), with at most `concurrency` messages in flight.
    pub fn from_settings(
        settings: &upcheck_config::Settings,
        stream: impl Into<String>,
        group: impl Into<String>,
        concurrency: usize,
    ) -> Self {
        let mut c = Self::new(stream, group, settings.streams.consumer.clone());
        c.concurrency = concurrency;
        c.reclaim_idle_ms = settings.tunables.reclaim_idle_ms;
        c.max_deliveries = settings.tunables.max_deliveries;
        c.retry_budget = Duration::from_millis(settings.tunables.handler_retry_budget_ms);
        c.consumer_idle_prune = Duration::from_secs(settings.tunables.consumer_idle_prune_seconds);
        c.dead_letter_maxlen = settings.tunables.dead_letter_maxlen;
        c
    }

    /// A config with Upcheck's defaults for the given stream and group.
    pub fn new(stream: impl Into<String>, group: impl Into<String>, consumer: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            group: group.into(),
            consumer: consumer.into(),
            concurrency: 32,
            read_count: 256,
            block_ms: 1_000,
            reclaim_idle_ms: 30_000,
            max_deliveries: 10,
            shutdown_timeout: Duration::from_secs(20),
            retry_budget: Duration::from_secs(60),
            consumer_idle_prune: Duration::from_secs(3_600),
            dead_letter_maxlen: 10_000,
        }
    }
}

/// The runner's counters, resolved once (labels `stream`, `group`).
#[derive(Clone)]
struct Counters {
    read: metrics::Counter,
    acknowledged: metrics::Counter,
    reclaimed: metrics::Counter,
    dead_lettered: metrics::Counter,
    retries: metrics::Counter,
}

impl Counters {
    fn new(c: &RunnerConfig) -> Self {
        let labels = [("stream", c.stream.clone()), ("group", c.group.clone())];
        Self {
            read: metrics::counter!("upcheck_stream_entries_read_total", &labels),
            acknowledged: metrics::counter!("upcheck_stream_entries_acknowledged_total", &labels),
            reclaimed: metrics::counter!("upcheck_stream_entries_reclaimed_total", &labels),
            dead_lettered: metrics::counter!("upcheck_stream_entries_dead_lettered_total", &labels),
            retries: metrics::counter!("upcheck_stream_handler_retries_total", &labels),
        }
    }
}

/// Runs one consumer of one group until cancelled.
pub struct Runner<H> {
    config: RunnerConfig,
    counters: Counters,
    commands: ConnectionManager,
    blocking: ConnectionManager,
    handler: Arc<H>,
    ready: Arc<AtomicBool>,
    full: Arc<AtomicBool>,
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl<H: Handler> Runner<H> {
    /// A runner using `conns` for commands and blocking reads.
    pub fn new(config: RunnerConfig, conns: &crate::RedisConns, handler: Arc<H>) -> Self {
        Self {
            counters: Counters::new(&config),
            config,
            commands: conns.commands.clone(),
            blocking: conns.blocking.clone(),
            handler,
            ready: Arc::new(AtomicBool::new(false)),
            full: Arc::new(AtomicBool::new(false)),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Set once the consumer group exists (for `/readyz`).
    pub fn ready_flag(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// Set while every slot is taken (`concurrency` messages in flight), so a producer in the
    /// same process can hold back instead of piling entries up in the stream.
    pub fn full_flag(&self) -> Arc<AtomicBool> {
        self.full.clone()
    }

    /// Creates the group at id `0` with `MKSTREAM`, unless it exists.
    ///
    /// # Errors
    /// [`StreamError`] when Redis fails.
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
        let mut backoff = Backoff::new();
        while let Err(e) = self.ensure_group().await {
            tracing::warn!(stream = %self.config.stream, error = %e, "cannot create consumer group; retrying");
            if sleep_or_cancel(backoff.next(), &cancel).await {
                return Ok(());
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
            self.full.store(free == 0, Ordering::Relaxed);
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
                    if sleep_or_cancel(backoff.next(), &cancel).await {
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
        message: StreamMessage,
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
            .insert(message.id.clone())
        {
            return; // already being handled here
        }
        let in_flight = InFlight { set: self.in_flight.clone(), id: message.id.clone() };
        let handler = self.handler.clone();
        let mut conn = self.commands.clone();
        let config = self.config.clone();
        let cancel = cancel.clone();
        let counters = self.counters.clone();
        let acker = acker.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let _in_flight = in_flight;
            let started = Instant::now();
            let mut backoff = Backoff::new();
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
                        let mut tries = Backoff::new();
                        while let Err(e) = dead_letter(&mut conn, &config, &message, &reason, 0).await {
                            tracing::warn!(error = %e, "dead-letter failed; retrying");
                            if sleep_or_cancel(tries.next(), &cancel).await {
                                return;
                            }
                        }
                        counters.dead_lettered.increment(1);
                        return;
                    }
                    HandleError::Retryable { retry_after, .. } => {
                        counters.retries.increment(1);
                        let wait = retry_after.unwrap_or_else(|| backoff.next());
                        if started.elapsed() + wait > config.retry_budget {
                            // Left pending and no longer kept fresh: reclaimed after
                            // `reclaim_idle_ms`, dead-lettered after `max_deliveries`.
                            tracing::warn!(stream = %config.stream, stream_id = %message.id, %reason, budget_ms = config.retry_budget.as_millis() as u64, "retry budget spent; leaving the entry to be reclaimed");
                            return;
                        }
                        tracing::warn!(stream = %config.stream, stream_id = %message.id, %reason, retry_in_ms = wait.as_millis() as u64, "handler failed; will retry");
                        if sleep_or_cancel(wait, &cancel).await {
                            return; // left pending: another replica reclaims it
                        }
                    }
                }
            }
        });
    }

    async fn read(&self, count: usize) -> Result<Vec<StreamMessage>, StreamError> {
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
        Ok(reply::read_reply(&value)?.into_iter().map(|e| self.message(e)).collect())
    }

    fn message(&self, entry: Entry) -> StreamMessage {
        let payload =
            entry.fields.into_iter().find(|(k, _)| k == MESSAGE_FIELD).map(|(_, v)| v).unwrap_or_default();
        StreamMessage { stream: self.config.stream.clone(), id: entry.id, payload }
    }

    /// Removes the group's consumers that have nothing pending and have been idle longer than
    /// `consumer_idle_prune` (replicas gone under names that will not come back). A live
    /// consumer reads every `block_ms`, so it is never that idle; were it removed, its next
    /// read would recreate it.
    async fn prune_consumers(&self) -> Result<(), StreamError> {
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
    async fn reclaim(&self) -> Result<Vec<StreamMessage>, StreamError> {
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
        let claimed: Vec<StreamMessage> =
            reply::entries(&value)?.into_iter().map(|e| self.message(e)).collect();
        let (live, trimmed): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|m| !m.payload.is_empty());
        if !trimmed.is_empty() {
            // Entries trimmed away before anyone handled them cannot be handled: acknowledge them.
            let ids: Vec<&str> = trimmed.iter().map(|m| m.id.as_str()).collect();
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
pub(crate) async fn ensure_group(
    conn: &mut ConnectionManager,
    stream: &str,
    group: &str,
) -> Result<(), StreamError> {
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

/// Most ids in one `XACK`.
const ACK_BATCH: usize = 1_000;

type AckRequest = (String, oneshot::Sender<bool>);

/// Queues acknowledgements for one loop that sends them in batches.
#[derive(Clone)]
struct Acker {
    tx: mpsc::UnboundedSender<AckRequest>,
}

impl Acker {
    /// Starts the loop; it ends once every `Acker` clone is dropped and the queue is empty.
    fn start(
        conn: ConnectionManager,
        config: RunnerConfig,
        cancel: CancellationToken,
        acknowledged: metrics::Counter,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, tokio::spawn(ack_loop(rx, conn, config, cancel, acknowledged)))
    }

    /// Acknowledges `id`; `true` once Redis has, `false` when cancellation came first (the
    /// entry stays pending and is redelivered later; handlers are idempotent).
    async fn ack(&self, id: String) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.tx.send((id, reply)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// Sends every queued id in one `XACK` (at most [`ACK_BATCH`]), retrying a failed one with
/// backoff until it succeeds or `cancel` fires, then answers each waiting handler.
async fn ack_loop(
    mut rx: mpsc::UnboundedReceiver<AckRequest>,
    mut conn: ConnectionManager,
    c: RunnerConfig,
    cancel: CancellationToken,
    acknowledged: metrics::Counter,
) {
    let mut batch: Vec<AckRequest> = Vec::with_capacity(ACK_BATCH);
    while rx.recv_many(&mut batch, ACK_BATCH).await > 0 {
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let mut backoff = Backoff::new();
        let acked = loop {
            match redis::cmd("XACK")
                .arg(&c.stream)
                .arg(&c.group)
                .arg(&ids)
                .query_async::<i64>(&mut conn)
                .await
            {
                Ok(_) => break true,
                Err(e) => {
                    tracing::warn!(stream = %c.stream, count = ids.len(), error = %e, "ack failed; retrying");
                    if sleep_or_cancel(backoff.next(), &cancel).await {
                        break false; // redelivered later; the handlers are idempotent
                    }
                }
            }
        };
        if acked {
            acknowledged.increment(ids.len() as u64);
        }
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(acked);
        }
    }
}

/// Copies `message` to `<stream>:dlq` with why, then acknowledges it, in one transaction.
async fn dead_letter(
    conn: &mut ConnectionManager,
    c: &RunnerConfig,
    message: &StreamMessage,
    reason: &str,
    deliveries: u64,
) -> Result<(), StreamError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    crate::producer::push_dead_letter(&mut pipe, c.dead_letter_maxlen, &c.group, message, reason, deliveries);
    pipe.cmd("XACK").arg(&c.stream).arg(&c.group).arg(&message.id).ignore();
    pipe.query_async::<()>(conn).await?;
    Ok(())
}
