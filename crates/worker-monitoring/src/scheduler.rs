//! The scheduler loop every monitoring replica runs: claim due monitors (atomically, see
//! `upcheck_streams::Schedule`) every tick.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_streams::Schedule;

/// Most monitors claimed by one script call.
const CLAIM_LIMIT: usize = 1_000;

/// Least time between two warnings about failing claims (Redis down): the loop retries every tick.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Claims due monitors of every shard each `tick` until cancelled.
pub async fn run(schedule: Schedule, tick: Duration, cancel: CancellationToken) {
    let mut last_warning: Option<std::time::Instant> = None;
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => {},
        }
        for shard in 0..schedule.keys().shards() {
            loop {
                let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                match schedule.claim_due(shard, now_ms, CLAIM_LIMIT).await {
                    Ok(n) if n == CLAIM_LIMIT => continue,
                    Ok(_) => break,
                    Err(e) => {
                        if last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                            tracing::warn!(shard, error = %e, "claiming due monitors failed; retrying every tick");
                            last_warning = Some(std::time::Instant::now());
                        } else {
                            tracing::debug!(shard, error = %e, "claiming due monitors failed");
                        }
                        break;
                    }
                }
            }
        }
    }
}
