//! Batches check results: many handlers submit, one loop writes each batch in one transaction
//! (checks, status machine, outbox), publishes the transitions, then answers every submitter,
//! whose message the runner acknowledges only then.

use crate::outbox::Outbox;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
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
    /// Starts the write loop: a batch closes at `max_size` results or `max_wait` after its first.
    /// The loop ends once every [`Batcher`] clone is dropped and the last batch is written.
    pub fn start(
        pool: Pool,
        outbox: Outbox,
        max_size: usize,
        max_wait: Duration,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(max_size * 4);
        let task = tokio::spawn(write_loop(rx, pool, outbox, max_size, max_wait));
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
) {
    while let Some(first) = rx.recv().await {
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
        match write(&pool, &outbox, &records).await {
            Err(e) if e.is_permanent() && records.len() > 1 => {
                // One result Postgres refuses must not fail the others: write each alone.
                tracing::warn!(error = %e, checks = records.len(), "check batch rejected; writing its checks one by one");
                for (record, reply) in records.iter().zip(replies) {
                    let result = write(&pool, &outbox, std::slice::from_ref(record)).await;
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
