//! Batches check results: many handlers submit, one loop gathers them into batches, and each
//! batch is written in one transaction (checks, status machine, outbox), its transitions
//! published, then every submitter answered, whose message the runner acknowledges only then.
//! Up to `writers` batches are written at once, each on its own connection: two batches that
//! hold the same monitor take its `monitor_state` row in turn (both lock in monitor order), as
//! two replicas' batches do, and the status machine keeps a newer check over an older one
//! whichever commits first.

use crate::outbox::Outbox;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use upcheck_store::Pool;
use upcheck_store::checks::{CheckRecord, record_checks};

type Reply = oneshot::Sender<Result<(), WriteError>>;

/// Why a check result was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WriteError {
    /// The store's error, with its cause.
    pub message: String,
    /// Whether Postgres rejected this result for good
    /// ([`upcheck_store::StoreError::is_permanent`]): the job is dead-lettered, not retried.
    pub permanent: bool,
}

impl WriteError {
    fn stopped() -> Self {
        Self { message: "check writer stopped".into(), permanent: false }
    }
}

impl From<&upcheck_store::StoreError> for WriteError {
    fn from(e: &upcheck_store::StoreError) -> Self {
        Self { message: e.to_string(), permanent: e.is_permanent() }
    }
}

/// The submitting side, cloned into each handler.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<(CheckRecord, Reply)>,
}

impl Batcher {
    /// Starts the write loop: a batch closes at `max_size` results or `max_wait` after its first,
    /// and up to `writers` (at least 1) batches are written at once. The loop ends once every
    /// [`Batcher`] clone is dropped and the last batch is written.
    pub fn start(
        pool: Pool,
        outbox: Outbox,
        max_size: usize,
        max_wait: Duration,
        writers: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(max_size * 4);
        let task = tokio::spawn(write_loop(rx, pool, outbox, max_size, max_wait, writers.max(1)));
        (Self { tx }, task)
    }

    /// Submits one result and waits until its batch is committed.
    ///
    /// # Errors
    /// [`WriteError`]: transient when the batch failed (Postgres down, a deadlock: the caller
    /// retries with the same result), permanent when Postgres rejected this very result (it
    /// was then written alone, so the rest of its batch is stored).
    pub async fn submit(&self, record: CheckRecord) -> Result<(), WriteError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((record, reply)).await.map_err(|_| WriteError::stopped())?;
        answer.await.map_err(|_| WriteError::stopped())?
    }
}

async fn write_loop(
    mut rx: mpsc::Receiver<(CheckRecord, Reply)>,
    pool: Pool,
    outbox: Outbox,
    max_size: usize,
    max_wait: Duration,
    writers: usize,
) {
    let slots = Arc::new(Semaphore::new(writers));
    loop {
        // A writer is free before the batch starts, so while every writer is busy the results
        // gather in the channel and the next batch fills at once. The semaphore is never
        // closed, so a permit always comes.
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + max_wait;
        while batch.len() < max_size {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(item) => batch.push(item),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let (records, replies): (Vec<CheckRecord>, Vec<Reply>) = batch.into_iter().unzip();
        metrics::histogram!(upcheck_runtime::metrics::CHECK_BATCH_SIZE).record(records.len() as f64);
        let (pool, outbox) = (pool.clone(), outbox.clone());
        tokio::spawn(async move {
            write_batch(&pool, &outbox, records, replies).await;
            drop(slot);
        });
    }
    // Every batch gathered is written before the loop ends (the permit the loop held when the
    // channel closed was dropped with it).
    let _ = slots.acquire_many(writers as u32).await;
}

/// Writes one batch and answers its submitters; a batch Postgres rejects for good is written
/// again one check at a time, so one bad result does not fail the others.
async fn write_batch(pool: &Pool, outbox: &Outbox, records: Vec<CheckRecord>, replies: Vec<Reply>) {
    match write(pool, outbox, &records).await {
        Err(e) if e.is_permanent() && records.len() > 1 => {
            // One result Postgres refuses must not fail the others: write each alone.
            tracing::warn!(error = %e, checks = records.len(), "check batch rejected; writing its checks one by one");
            for (record, reply) in records.iter().zip(replies) {
                let result = write(pool, outbox, std::slice::from_ref(record)).await;
                let _ = reply.send(result.map_err(|e| WriteError::from(&e)));
            }
        }
        result => {
            let result = result.map_err(|e| WriteError::from(&e));
            for reply in replies {
                let _ = reply.send(result.clone());
            }
        }
    }
}

/// Writes `records` in one transaction and publishes the transitions it produced.
async fn write(
    pool: &Pool,
    outbox: &Outbox,
    records: &[CheckRecord],
) -> Result<(), upcheck_store::StoreError> {
    match record_checks(pool, records).await {
        Ok(events) => {
            for e in &events {
                metrics::counter!(upcheck_runtime::metrics::STATUS_CHANGES, "to" => e.to.as_str())
                    .increment(1);
                tracing::info!(monitor_id = %e.monitor_id, event_id = %e.event_id, seq = ?e.seq, from = e.from.as_str(), to = e.to.as_str(), "status changed");
            }
            // Committed: the outbox holds the events. A failed publication is retried by the
            // relay, so the jobs can be acknowledged either way.
            outbox.publish(&events).await;
            outbox.publish_checks(records).await;
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, checks = records.len(), permanent = e.is_permanent(), "writing check batch failed");
            Err(e)
        }
    }
}
