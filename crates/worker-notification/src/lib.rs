//! `upcheck-worker-notification`: delivers notifications over their channels (every kind of
//! [`upcheck_channels::Channels`]),
//! logs every attempt, retries with exponential backoff and jitter, dead-letters after the
//! last attempt, and re-enqueues notifications whose jobs Redis lost.

pub mod handler;
pub mod retry;
pub mod sweep;

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use upcheck_config::Settings;
use upcheck_runtime::metrics::GroupRef;
use upcheck_runtime::{Readiness, RunningWorker};
use upcheck_streams::{DelayQueue, InFlight, Keys, Lock, Producer, Runner, RunnerConfig};

/// Starts the consumer, the retry pump and the health server; all stop when `cancel` fires.
///
/// # Errors
/// When the pool or HTTP client cannot be built, Redis is unreachable until cancellation, or
/// the health port cannot be bound.
pub async fn start(settings: Settings, cancel: CancellationToken) -> anyhow::Result<RunningWorker> {
    upcheck_runtime::metrics::install();
    let pool = upcheck_store::connect_pool(&settings.database).context("database pool")?;
    let conns = upcheck_runtime::connect_redis(&settings, &cancel).await?;
    let keys = Keys::new(&settings);
    let t = &settings.tunables;
    let producer =
        Producer::new(conns.commands.clone(), t.stream_maxlen).with_dead_letter_maxlen(t.dead_letter_maxlen);
    let outbound = upcheck_net::Outbound::new(&settings.probe)?;
    let channels = upcheck_channels::Channels::new(
        &settings.channels,
        &settings.smtp,
        Duration::from_millis(t.webhook_timeout_ms),
        outbound,
    )
    .context("channels")?;
    // One attempt's longest time, over HTTP or SMTP: leases and in-flight holds outlast it, so
    // no second job delivers while an attempt is still running.
    let attempt_ms = t.webhook_timeout_ms.max(settings.smtp.timeout_ms);
    if let Err(e) = upcheck_streams::adopt_legacy_key(
        &conns.commands,
        &keys.legacy_notification_retries(),
        &keys.notification_retries(),
    )
    .await
    {
        tracing::warn!(error = %e, "cannot adopt the old notification retry set");
    }
    let retries = DelayQueue::new(
        conns.commands.clone(),
        keys.notification_retries(),
        settings.streams.notification.clone(),
        t.stream_maxlen,
    );
    let secrets = settings.require_keyring("upcheck-worker-notification")?.clone();
    let handler = Arc::new(handler::NotificationHandler::new(
        pool.clone(),
        secrets,
        channels,
        retries.clone(),
        producer,
        settings.streams.notification_group.clone(),
        handler::RetryPolicy {
            max_attempts: t.notification_max_attempts,
            base_ms: t.notification_retry_base_ms,
            max_ms: t.notification_retry_max_ms,
            lease_ms: attempt_ms + 5_000,
        },
        InFlight::new(
            conns.commands.clone(),
            keys.clone(),
            t.channel_max_in_flight,
            t.notification_max_in_flight_per_owner,
            attempt_ms + 5_000,
        ),
    ));
    let config = RunnerConfig::from_settings(
        &settings,
        settings.streams.notification.clone(),
        settings.streams.notification_group.clone(),
        t.worker_concurrency,
    );
    let reported = vec![GroupRef { stream: config.stream.clone(), group: config.group.clone() }];
    let runner = Runner::new(config, &conns, handler);
    let ready = runner.ready_flag();
    let mut tasks = JoinSet::new();
    let run_cancel = cancel.clone();
    tasks.spawn(async move {
        let _ = runner.run(run_cancel).await;
    });
    tasks.spawn(
        sweep::Sweep {
            pool: pool.clone(),
            producer: Producer::new(conns.commands.clone(), t.stream_maxlen)
                .with_dead_letter_maxlen(t.dead_letter_maxlen),
            lock: Lock::new(conns.commands.clone(), keys.notification_sweep_lock()),
            stream: settings.streams.notification.clone(),
            // Past one attempt's lease with no sign of life: with the defaults, a lost job is
            // enqueued again 15-20 s after it was due.
            idle: Duration::from_millis(attempt_ms + 5_000),
        }
        .run(Duration::from_millis(t.outbox_relay_ms), cancel.clone()),
    );
    tasks.spawn(retry::pump(retries, Duration::from_millis(t.scheduler_tick_ms.max(50)), cancel));
    let worker = RunningWorker::start(
        &settings,
        Readiness { pool, redis: conns.commands, groups: vec![ready] },
        reported,
        tasks,
        Vec::new(),
    )
    .context("health server")?;
    tracing::info!(consumer = %settings.streams.consumer, health_port = worker.health_port(), "notification worker started");
    Ok(worker)
}
