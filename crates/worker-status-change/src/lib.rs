//! `upcheck-worker-status-change`: turns status events into incidents and fans them out, one
//! notification job per linked channel that its alert rules let through, publishes live status
//! for the API's feed, and runs the alert timers (delays, reminders, escalations; [`timers`]).

pub mod timers;

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use upcheck_config::Settings;
use upcheck_domain::{NotificationJob, StatusEvent};
use upcheck_runtime::metrics::GroupRef;
use upcheck_runtime::{Readiness, RunningWorker, store_failure};
use upcheck_store::Pool;
use upcheck_store::flapping::FlappingPolicy;
use upcheck_streams::{
    HandleError, Handler, Keys, Lock, Producer, Runner, RunnerConfig, StreamMessage, TimerSet,
};

pub mod retention;
pub mod upkeep;

/// How often the maintenance and flapping step runs ([`upkeep::Upkeep`]).
pub const UPKEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Handles one status event: incident, notifications, live status.
pub struct StatusChangeHandler {
    pool: Pool,
    producer: Producer,
    notification_stream: String,
    live_channel: String,
    timers: timers::Timers,
    flapping: FlappingPolicy,
}

impl StatusChangeHandler {
    /// A handler writing to `pool`, enqueueing on `notification_stream`, publishing live
    /// status on `live_channel` and putting the alert timers events schedule in `timers`, with
    /// the default flapping policy.
    pub fn new(
        pool: Pool,
        producer: Producer,
        notification_stream: String,
        live_channel: String,
        timers: timers::Timers,
    ) -> Self {
        Self {
            pool,
            producer,
            notification_stream,
            live_channel,
            timers,
            flapping: FlappingPolicy::default(),
        }
    }

    /// The same handler judging flapping by `policy`.
    pub fn with_flapping(mut self, policy: FlappingPolicy) -> Self {
        self.flapping = policy;
        self
    }
}

impl Handler for StatusChangeHandler {
    #[tracing::instrument(name = "status_change", skip_all, fields(monitor_id, event_id, incident_id, to))]
    async fn handle(&self, message: &StreamMessage) -> Result<(), HandleError> {
        let event: StatusEvent = message.decode()?;
        let span = tracing::Span::current();
        span.record("monitor_id", tracing::field::display(event.monitor_id));
        span.record("event_id", tracing::field::display(event.event_id));
        span.record("to", event.to.as_str());
        // Applies, in the monitor's order, every earlier event not yet applied and then this
        // one; an event applied already comes back alone, with what is still to enqueue.
        let applied = upcheck_store::incidents::apply_status_event_with(&self.pool, &event, &self.flapping)
            .await
            .map_err(store_failure)?;
        if let Some(id) =
            applied.iter().find(|a| a.event.event_id == event.event_id).and_then(|a| a.incident_id)
        {
            span.record("incident_id", tracing::field::display(id));
        }
        // Each job carries this span's trace context, so its delivery continues the trace.
        let jobs: Vec<NotificationJob> = applied
            .iter()
            .flat_map(|a| a.pending_notifications.iter())
            .map(|id| NotificationJob { notification_id: *id })
            .collect();
        self.producer.add_many(&self.notification_stream, &jobs).await.map_err(HandleError::retryable)?;
        let scheduled: Vec<_> = applied.iter().flat_map(|a| a.timers.iter().copied()).collect();
        self.timers.schedule(&scheduled).await.map_err(HandleError::retryable)?;
        for a in &applied {
            let e = &a.event;
            let live = upcheck_domain::live::LiveMessage::Status(upcheck_domain::live::LiveStatus {
                seq: e.seq.unwrap_or_default(),
                event_id: e.event_id,
                owner_id: a.owner_id,
                monitor_id: e.monitor_id,
                event: e.webhook_type().to_string(),
                status: e.to,
                previous_status: e.from,
                occurred_at: e.occurred_at,
                incident_id: a.incident_id,
                incident: a.incident_change.map(|c| c.as_str().to_string()),
            });
            let live = serde_json::to_string(&live).unwrap_or_default();
            // Live status is best-effort: the feed's readers reload from the API on reconnect.
            if let Err(err) = self.producer.publish(&self.live_channel, &live).await {
                tracing::debug!(error = %err, "live status publish failed");
            }
            tracing::info!(
                monitor_id = %e.monitor_id,
                event_id = %e.event_id,
                seq = ?e.seq,
                incident_id = ?a.incident_id,
                notifications = a.pending_notifications.len(),
                to = e.to.as_str(),
                caught_up = e.event_id != event.event_id,
                "status event applied"
            );
        }
        Ok(())
    }
}

/// Starts the consumer and the health server; both stop when `cancel` fires.
///
/// # Errors
/// When the pool cannot be built, Redis is unreachable until cancellation, or the health port
/// cannot be bound.
pub async fn start(settings: Settings, cancel: CancellationToken) -> anyhow::Result<RunningWorker> {
    upcheck_runtime::metrics::install();
    let pool = upcheck_store::connect_pool(&settings.database).context("database pool")?;
    let conns = upcheck_runtime::connect_redis(&settings, &cancel).await?;
    let keys = Keys::new(&settings);
    let t = &settings.tunables;
    let producer = Producer::new(conns.commands.clone(), t.stream_maxlen);
    let set = TimerSet::new(conns.commands.clone(), keys.alert_timers());
    let clock = timers::Timers::new(
        pool.clone(),
        set.clone(),
        producer.clone(),
        settings.streams.notification.clone(),
        t.reclaim_idle_ms as i64,
    );
    let flapping =
        FlappingPolicy { threshold: t.flapping_threshold, window_seconds: t.flapping_window_seconds };
    let upkeep = upkeep::Upkeep {
        pool: pool.clone(),
        producer: producer.clone(),
        lock: Lock::new(conns.commands.clone(), keys.status_upkeep_lock()),
        status_stream: settings.streams.status_change.clone(),
        notification_stream: settings.streams.notification.clone(),
    };
    let handler = Arc::new(
        StatusChangeHandler::new(
            pool.clone(),
            producer,
            settings.streams.notification.clone(),
            keys.live_channel(),
            clock.clone(),
        )
        .with_flapping(flapping),
    );
    let config = RunnerConfig::from_settings(
        &settings,
        settings.streams.status_change.clone(),
        settings.streams.status_change_group.clone(),
        settings.tunables.worker_concurrency,
    );
    let reported = vec![GroupRef { stream: config.stream.clone(), group: config.group.clone() }];
    let runner = Runner::new(config, &conns, handler);
    let ready = runner.ready_flag();
    let mut tasks = JoinSet::new();
    let run_cancel = cancel.clone();
    tasks.spawn(upkeep.run(UPKEEP_PERIOD, cancel.clone()));
    tasks.spawn(retention::run(
        pool.clone(),
        settings.housekeeping,
        settings.rollups.minute_days,
        cancel.clone(),
    ));
    tasks.spawn(async move {
        let _ = runner.run(run_cancel).await;
    });
    tasks.spawn(clock.run(Duration::from_millis(t.scheduler_tick_ms.max(50)), cancel.clone()));
    tasks.spawn(
        timers::TimerSweep {
            pool: pool.clone(),
            set,
            redis: conns.commands.clone(),
            marker: keys.alert_timers_marker(),
            lock: Lock::new(conns.commands.clone(), keys.alert_timer_sweep_lock()),
            idle: Duration::from_millis(t.reclaim_idle_ms),
        }
        .run(Duration::from_millis(t.outbox_relay_ms), cancel),
    );
    let worker = RunningWorker::start(
        &settings,
        Readiness { pool, redis: conns.commands, groups: vec![ready] },
        reported,
        tasks,
        Vec::new(),
    )
    .context("health server")?;
    tracing::info!(consumer = %settings.streams.consumer, health_port = worker.health_port(), "status-change worker started");
    Ok(worker)
}
