//! Batched acknowledgements: the ids that finish while one `XACK` is in flight go together in
//! the next, so a busy runner pays one round trip per batch and an idle one waits for nothing.

use super::RunnerConfig;
use crate::RedisConn;
use crate::backoff::{backoff, sleep_or_cancel};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Most ids in one `XACK`.
const ACK_BATCH: usize = 1_000;

type AckRequest = (String, oneshot::Sender<bool>);

/// Queues acknowledgements for one loop that sends them in batches.
#[derive(Clone)]
pub(super) struct Acker {
    tx: mpsc::UnboundedSender<AckRequest>,
}

impl Acker {
    /// Starts the loop; it ends once every `Acker` clone is dropped and the queue is empty.
    pub(super) fn start(
        conn: RedisConn,
        config: RunnerConfig,
        cancel: CancellationToken,
        acknowledged: metrics::Counter,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, tokio::spawn(ack_loop(rx, conn, config, cancel, acknowledged)))
    }

    /// Acknowledges `id`; `true` once Redis has, `false` when cancellation came first (the
    /// entry stays pending and is redelivered later; handlers are idempotent).
    pub(super) async fn ack(&self, id: String) -> bool {
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
    mut conn: RedisConn,
    c: RunnerConfig,
    cancel: CancellationToken,
    acknowledged: metrics::Counter,
) {
    let mut batch: Vec<AckRequest> = Vec::with_capacity(ACK_BATCH);
    while rx.recv_many(&mut batch, ACK_BATCH).await > 0 {
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let mut backoff = backoff();
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
                    if sleep_or_cancel(backoff.next_delay(), &cancel).await {
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
