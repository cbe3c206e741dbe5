//! Check outcomes for the API's live feed (`GET /api/v1/events?checks=true`): one pub/sub
//! message per stored batch, published only while the API says a stream listens (the key
//! `<REDIS_KEY_PREFIX>live:checks` exists). The cost: one `EXISTS` every
//! [`LISTENING_POLL`] per replica whether anyone listens or not, and while someone does, one
//! `PUBLISH` per committed check batch (at most one per `CHECK_BATCH_MS`, each carrying the
//! batch's checks, about 200 bytes per check).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_domain::live::{LiveCheck, LiveMessage};
use upcheck_store::checks::CheckRecord;

/// How often the worker asks Redis whether a live stream wants checks.
pub const LISTENING_POLL: Duration = Duration::from_secs(2);

/// Publishes check batches while someone listens.
#[derive(Clone)]
pub struct LiveChecks {
    conn: upcheck_streams::RedisConn,
    channel: String,
    key: String,
    listening: Arc<AtomicBool>,
}

impl LiveChecks {
    /// Publishes on `channel` (`Keys::live_channel`) while `key` (`<prefix>live:checks`)
    /// exists.
    pub fn new(conn: upcheck_streams::RedisConn, channel: String, key: String) -> Self {
        Self { conn, channel, key, listening: Arc::default() }
    }

    /// Polls the key every [`LISTENING_POLL`] until `cancel` fires.
    pub async fn watch(self, cancel: CancellationToken) {
        upcheck_runtime::every(LISTENING_POLL, Duration::ZERO, &cancel, || async {
            let exists: redis::RedisResult<bool> =
                redis::cmd("EXISTS").arg(&self.key).query_async(&mut self.conn.clone()).await;
            match exists {
                Ok(yes) => self.listening.store(yes, Ordering::Relaxed),
                Err(e) => tracing::debug!(error = %e, "live checks key not read"),
            }
        })
        .await;
    }

    /// Publishes `records` as one message when someone listens; best-effort.
    pub async fn publish(&self, records: &[CheckRecord]) {
        if records.is_empty() || !self.listening.load(Ordering::Relaxed) {
            return;
        }
        let checks = records
            .iter()
            .map(|r| LiveCheck {
                monitor_id: r.monitor_id,
                region: r.region.clone(),
                checked_at: r.checked_at,
                status: r.outcome,
                latency_ms: r.latency_ms,
                http_status: r.http_status,
                error: r.error.clone(),
            })
            .collect();
        let message = serde_json::to_string(&LiveMessage::Checks { checks }).unwrap_or_default();
        let published: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(&self.channel).arg(message).query_async(&mut self.conn.clone()).await;
        if let Err(e) = published {
            tracing::debug!(error = %e, "live checks not published");
        }
    }
}
