//! The scheduler loop every monitoring replica runs: every tick, claim the monitors due before
//! the next tick (atomically, see `upcheck_streams::Schedule`). Their jobs carry their due
//! time and the handler waits for it, so a check starts on time rather than up to one tick
//! late, and a tick's checks spread over the tick instead of starting in one burst.
//!
//! Back-pressure: while this replica's runner of a shard has every slot taken, the replica
//! claims nothing for that shard. Overdue monitors then wait in the schedule, most overdue
//! first, and each claim skips the slots it missed, rather than jobs piling up in the stream
//! until `MONITORING_STREAM_MAXLEN` trims them unread (work Redis did for nothing). Other replicas with
//! free slots keep claiming.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_streams::Schedule;

/// Most monitors claimed by one script call.
const CLAIM_LIMIT: usize = 1_000;

/// Least time between two warnings about failing claims (Redis down): the loop retries every tick.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Claims the monitors of every shard due within the next `tick`, each `tick`, until cancelled;
/// skips shard `i` while `full[i]` is set (its runner has no free slot).
pub async fn run(schedule: Schedule, tick: Duration, full: Vec<Arc<AtomicBool>>, cancel: CancellationToken) {
    let last_warning: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let lookahead_ms = i64::try_from(tick.as_millis()).unwrap_or(i64::MAX);
    upcheck_runtime::every(tick, Duration::ZERO, &cancel, || async {
        for shard in 0..schedule.keys().shards() {
            let is_full = || full.get(shard as usize).is_some_and(|f| f.load(Ordering::Relaxed));
            while !is_full() {
                let now_ms = upcheck_domain::clock::now_ms();
                match schedule.claim_due(shard, now_ms.saturating_add(lookahead_ms), CLAIM_LIMIT).await {
                    Ok(n) if n == CLAIM_LIMIT => continue,
                    Ok(_) => break,
                    Err(e) => {
                        let mut last = last_warning.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if last.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                            tracing::warn!(shard, error = %e, "claiming due monitors failed; retrying every tick");
                            *last = Some(std::time::Instant::now());
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
