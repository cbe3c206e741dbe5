//! The one periodic loop every background task uses: the scheduler, the outbox relay, the
//! Redis reconcile, the notification sweep and the retry pump.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs `tick` every `period`, first after `first_after`, until `cancel` fires (a tick under
/// way finishes first). A tick that overruns delays the next instead of bunching them up.
pub async fn every<F, Fut>(period: Duration, first_after: Duration, cancel: &CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let start = tokio::time::Instant::now() + first_after;
    let mut interval = tokio::time::interval_at(start, period.max(Duration::from_millis(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = interval.tick() => {},
        }
        tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn ticks_every_period_after_the_first_delay_and_stops_when_cancelled() {
        let cancel = CancellationToken::new();
        let ticks = AtomicU32::new(0);
        let stopper = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1_050)).await;
            stopper.cancel();
        });
        every(Duration::from_millis(100), Duration::from_millis(500), &cancel, || async {
            ticks.fetch_add(1, Ordering::SeqCst);
        })
        .await;
        // At 500, 600, …, 1,000 ms.
        assert_eq!(ticks.load(Ordering::SeqCst), 6);
    }
}
