//! The retention loop: every `RETENTION_INTERVAL_SECONDS`, one status-change replica (the one
//! holding the Postgres advisory lock) prunes old status events, settled notifications and
//! ended sessions in small batches ([`upcheck_store::retention`]), then closes idle monitors'
//! rollups, rebuilds month rows an older worker left out, and removes minute rollups older than
//! `RETENTION_ROLLUP_MINUTE_DAYS` ([`upcheck_store::rollups::prune`]). This worker owns events
//! and notifications, so it prunes them.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_config::HousekeepingSettings;
use upcheck_store::Pool;
use upcheck_store::retention::RetentionReport;

/// Runs [`once`] every `settings.interval_seconds` (first after a minute, so a fleet restarting
/// does not prune before it serves) until `cancel` fires. A run under way when `cancel` fires
/// is abandoned between statements' results (each `DELETE` commits by itself; the advisory lock
/// ends with the process's session).
pub async fn run(
    pool: Pool,
    settings: HousekeepingSettings,
    rollup_minute_days: u32,
    cancel: CancellationToken,
) {
    let every = Duration::from_secs(settings.interval_seconds);
    let first = every.min(Duration::from_secs(60));
    // The UTC day this replica last mended the month rows on (`to_julian_day`; 0: never).
    let mended_on = AtomicI32::new(0);
    upcheck_runtime::every(every, first, &cancel, || async {
        let now = OffsetDateTime::now_utc();
        let today = now.date().to_julian_day();
        let mend = now
            < upcheck_store::rollups::floor_month(now) + upcheck_store::rollups::prune::MEND_MONTHS_FOR
            && mended_on.load(Ordering::Relaxed) != today;
        tokio::select! {
            () = cancel.cancelled() => {}
            report = once(&pool, &settings, rollup_minute_days, mend) => {
                if mend && report.is_some() {
                    mended_on.store(today, Ordering::Relaxed);
                }
            }
        }
    })
    .await;
}

/// One prune as of now, logged: what went, or that another replica holds the lock. The replica
/// that pruned also prunes the rollups (`rollup_minute_days`: `RETENTION_ROLLUP_MINUTE_DAYS`)
/// and, when `mend`, rebuilds the last month's missing month rows
/// ([`upcheck_store::rollups::prune::mend_months`]; [`run`] asks once a day in a month's first
/// week).
pub async fn once(
    pool: &Pool,
    settings: &HousekeepingSettings,
    rollup_minute_days: u32,
    mend: bool,
) -> Option<RetentionReport> {
    let now = OffsetDateTime::now_utc();
    let report = prune_tables(pool, settings, now).await;
    if report.is_some() {
        match upcheck_store::rollups::prune(pool, rollup_minute_days, now).await {
            Ok(p) if p != upcheck_store::rollups::Pruned::default() => {
                tracing::info!(
                    sealed = p.sealed,
                    minute_rows = p.minute_rows_deleted,
                    "retention: rollups pruned"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention: rollup prune failed; the next run goes on"),
        }
        if mend {
            match upcheck_store::rollups::prune::mend_months(pool, now).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    months = n,
                    "retention: month rollups rebuilt from their days (a worker older than the month rollups \
                     closed the month)"
                ),
                Err(e) => tracing::warn!(error = %e, "retention: month mend failed; tomorrow's run goes on"),
            }
        }
    }
    report
}

async fn prune_tables(
    pool: &Pool,
    settings: &HousekeepingSettings,
    now: OffsetDateTime,
) -> Option<RetentionReport> {
    match upcheck_store::retention::prune_all(pool, now, settings).await {
        Ok(Some(r)) => {
            if r != RetentionReport::default() {
                tracing::info!(
                    status_events = r.status_events.deleted,
                    notifications = r.notifications.deleted,
                    refresh_tokens = r.refresh_tokens.deleted,
                    sessions = r.sessions.deleted,
                    batches = r.status_events.batches
                        + r.notifications.batches
                        + r.refresh_tokens.batches
                        + r.sessions.batches,
                    "retention: pruned"
                );
            }
            Some(r)
        }
        Ok(None) => {
            tracing::debug!("retention: another replica is pruning");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention: prune failed; the next run goes on");
            None
        }
    }
}
