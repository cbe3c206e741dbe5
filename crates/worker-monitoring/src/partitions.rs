//! Keeps `check_results`' daily partitions: at start-up and every [`PERIOD`], today's and the
//! next [`upcheck_store::partitions::DAYS_AHEAD`] days' partitions are made and those past
//! `RETENTION_RAW_DAYS` dropped whole; apart, the oldest settled day not yet compacted gets its
//! indexes rebuilt (about half their size). Every replica runs both; the store serialises them
//! with advisory locks, so the second one to come finds the work done.

use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_store::Pool;
use upcheck_store::partitions::{self, CHECK_RESULTS, DAYS_AHEAD};

/// How often partitions are made and dropped. With three days made ahead, an hour leaves
/// days of slack for a worker (or Postgres) that is down; a check whose day is still missing
/// makes it on demand anyway ([`upcheck_store::checks::record_checks`]).
pub const PERIOD: Duration = Duration::from_secs(3_600);

/// One pass; failures are logged and retried at the next period.
pub async fn maintain_once(pool: &Pool, keep_days: u32) {
    match partitions::maintain(pool, &CHECK_RESULTS, OffsetDateTime::now_utc(), DAYS_AHEAD, keep_days).await {
        Ok(done) if done.created.is_empty() && done.dropped.is_empty() => {
            tracing::debug!("check partitions up to date");
        }
        Ok(done) => {
            tracing::info!(created = ?done.created, dropped = ?done.dropped, "check partitions maintained")
        }
        Err(e) => tracing::warn!(error = %e, "check partitions not maintained; next try within the hour"),
    }
}

/// Runs [`maintain_once`] now and every `period` until cancelled.
pub async fn run(pool: Pool, keep_days: u32, period: Duration, cancel: CancellationToken) {
    upcheck_runtime::every(period, Duration::ZERO, &cancel, || maintain_once(&pool, keep_days)).await;
}

/// Every `period`, rebuilds the indexes of at most one settled day
/// ([`partitions::compact_settled`]), until cancelled. Apart from [`run`]: a large day's
/// rebuild may take long, and must delay neither the partitions made ahead nor the drops. A
/// rebuild cut short by shutdown leaves an invalid index, dropped before the next one.
pub async fn compact(pool: Pool, period: Duration, cancel: CancellationToken) {
    upcheck_runtime::every(period, period / 6, &cancel, || async {
        tokio::select! {
            _ = cancel.cancelled() => {}
            done = partitions::compact_settled(&pool, &CHECK_RESULTS, OffsetDateTime::now_utc()) => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "settled check partition not compacted; next try within the hour");
                }
            }
        }
    })
    .await;
}
