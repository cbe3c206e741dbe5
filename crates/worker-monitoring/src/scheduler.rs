//! The scheduler loop every monitoring replica runs: every tick, claim the monitors due before
//! the next tick (atomically, see `upcheck_streams::Schedule`). Their jobs carry their due
//! time and the handler waits for it, so a check starts on time rather than up to one tick
//! late, and a tick's checks spread over the tick instead of starting in one burst.
//!
//! Back-pressure: a replica claims for a shard no more monitors per tick than that shard's
//! runner can take (its free slots), and nothing while every slot is taken. Overdue monitors then wait in the schedule, most overdue
//! first, and each claim skips the slots it missed, rather than jobs piling up in the stream
//! until `MONITORING_STREAM_MAXLEN` trims them unread (work Redis did for nothing). Other replicas with
//! free slots keep claiming.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_streams::{Schedule, Throttle};

/// Most monitors claimed by one script call.
const CLAIM_LIMIT: usize = 1_000;

/// Least time between two warnings about failing claims (Redis down): the loop retries every tick.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Claims the monitors of every shard due within the next `tick`, each `tick`, until cancelled;
/// at most `free[i]` of shard `i` per tick, the messages its runner can take now.
pub async fn run(schedule: Schedule, tick: Duration, free: Vec<Arc<AtomicUsize>>, cancel: CancellationToken) {
    let warnings = Throttle::new(WARN_EVERY);
    let lookahead_ms = i64::try_from(tick.as_millis()).unwrap_or(i64::MAX);
    upcheck_runtime::every(tick, Duration::ZERO, &cancel, || async {
        for shard in 0..schedule.keys().shards() {
            let mut budget = free.get(shard as usize).map_or(CLAIM_LIMIT, |f| f.load(Ordering::Relaxed));
            while budget > 0 {
                let now_ms = upcheck_domain::clock::now_ms();
                let limit = budget.min(CLAIM_LIMIT);
                match schedule.claim_due(shard, now_ms.saturating_add(lookahead_ms), limit).await {
                    Ok(n) if n == limit => budget -= n,
                    Ok(_) => break,
                    Err(e) => {
                        if let Some(suppressed) = warnings.allow() {
                            tracing::warn!(shard, error = %e, suppressed, "claiming due monitors failed; retrying every tick");
                        } else {
                            tracing::debug!(shard, error = %e, "claiming due monitors failed");
                        }
                        break;
                    }
                }
            }
        }
    })
    .await;
}
