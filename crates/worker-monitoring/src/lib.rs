//! `upcheck-worker-monitoring`: the leaderless scheduler plus the probes. Each replica claims
//! due monitors into the monitoring stream(s), probes the jobs its consumer group hands it,
//! writes check results in batches with the status machine and the outbox, publishes
//! transitions to the status-change stream, keeps Redis reconciled with Postgres and keeps the
//! checks' daily partitions (made ahead, dropped past `RETENTION_RAW_DAYS`).

pub mod batcher;
pub mod fair;
pub mod handler;
pub mod live;
pub mod outbox;
pub mod partitions;
pub mod probe;
pub mod reconcile;
pub mod scheduler;

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use upcheck_config::Settings;
use upcheck_runtime::metrics::GroupRef;
use upcheck_runtime::{Readiness, RunningWorker};
use upcheck_streams::{Keys, Producer, Runner, RunnerConfig, Schedule};

/// Messages a monitoring runner holds in flight per probe slot (`MONITORING_CONCURRENCY`),
/// besides `CHECK_WRITERS` + 1 batches' worth (`CHECK_BATCH_SIZE`) of probed jobs waiting for
/// their commit:
/// jobs claimed up to one scheduler tick early wait here for their due time.
pub const MESSAGES_PER_PROBE_SLOT: usize = 4;

/// Most messages one monitoring runner holds in flight: probes running, jobs waiting for their
/// due time (up to one tick's claims) and probed jobs waiting for their batch's commit (the
/// `check_writers` batches being written and the one filling). Fewer would cap the rate below
/// what the probe slots allow.
pub fn runner_capacity(
    monitoring_concurrency: usize,
    check_batch_size: usize,
    check_writers: usize,
) -> usize {
    monitoring_concurrency * MESSAGES_PER_PROBE_SLOT + (check_writers + 1) * check_batch_size
}

/// Starts the scheduler, one consumer per monitoring shard, the outbox relay, the reconcile and
/// the health server. Everything stops when `cancel` fires.
///
/// # Errors
/// When the health port cannot be bound, the pool cannot be built, or Redis is unreachable
/// until cancellation.
pub async fn start(settings: Settings, cancel: CancellationToken) -> anyhow::Result<RunningWorker> {
    upcheck_runtime::metrics::install();
    let pool = upcheck_store::connect_pool(&settings.database).context("database pool")?;
    let conns = upcheck_runtime::connect_redis(&settings, &cancel).await?;
    let keys = Keys::new(&settings);
    let t = &settings.tunables;
    let schedule = Schedule::new(conns.commands.clone(), keys.clone(), t.monitoring_stream_maxlen);
    let producer = Producer::new(conns.commands.clone(), t.stream_maxlen);
    let live_checks =
        live::LiveChecks::new(conns.commands.clone(), keys.live_channel(), keys.live_checks_listeners());
    let outbox = outbox::Outbox::new(pool.clone(), producer, settings.streams.status_change.clone())
        .with_live_checks(live_checks.clone());
    let (batcher, batch_task) = batcher::Batcher::start(
        pool.clone(),
        outbox.clone(),
        t.check_batch_size,
        Duration::from_millis(t.check_batch_ms),
        t.check_writers,
    );
    let outbound = upcheck_net::Outbound::new(&settings.probe)?;
    let roots = probe::TrustedRoots::load(settings.probe.ca_cert.as_deref())?;
    let secrets = settings.require_keyring("upcheck-worker-monitoring")?.clone();
    let probe = probe::KindProbe::for_region(outbound, roots, Some(&settings.region))
        .context("HTTP client")?
        .with_secrets(secrets);
    let per_user = settings.probe.max_per_user.unwrap_or((t.monitoring_concurrency / 2).max(1));
    let handler = Arc::new(
        handler::CheckHandler::new(probe, batcher, settings.region.clone(), t.monitoring_concurrency)
            .with_fairness(fair::FairSlots::new(settings.probe.max_per_host, per_user)),
    );

    let mut tasks = JoinSet::new();
    let mut groups = Vec::new();
    let mut reported = Vec::new();
    let mut free = Vec::new();
    for shard in 0..keys.shards() {
        let mut config = RunnerConfig::from_settings(
            &settings,
            keys.monitoring_stream(shard),
            settings.streams.monitoring_group.clone(),
            // Jobs waiting for their due time or their batch's commit hold no probe slot.
            runner_capacity(t.monitoring_concurrency, t.check_batch_size, t.check_writers),
        );
        config.read_count = config.concurrency.min(1_000);
        config.span_level = tracing::Level::DEBUG; // a span per check only when asked for
        reported.push(GroupRef { stream: config.stream.clone(), group: config.group.clone() });
        let runner = Runner::new(config, &conns, handler.clone());
        groups.push(runner.ready_flag());
        free.push(runner.free_slots());
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let _ = runner.run(cancel).await;
        });
    }
    drop(handler); // the batcher stops once the runners (holding the last clones) are done
    // The region registry (GET /api/v1/regions, the default set a monitor is probed from).
    {
        let (conn, keys, region, cancel) =
            (conns.commands.clone(), keys.clone(), settings.region.clone(), cancel.clone());
        tasks.spawn(async move {
            upcheck_runtime::every(Duration::from_secs(10), Duration::ZERO, &cancel, || async {
                let now = upcheck_domain::clock::now_ms();
                if let Err(e) = upcheck_streams::regions::report(&conn, &keys, &region, now).await {
                    tracing::debug!(error = %e, "region not reported; next try in 10 s");
                }
            })
            .await;
        });
    }
    tasks.spawn(live_checks.watch(cancel.clone()));
    tasks.spawn(scheduler::run(
        schedule.clone(),
        Duration::from_millis(t.scheduler_tick_ms),
        free,
        cancel.clone(),
    ));
    // Every second (or OUTBOX_RELAY_MS, if shorter): an event unpublished for two seconds (its
    // worker died between commit and publication) is published, and one published three relay
    // periods ago, unapplied and gone from the stream (Redis lost it), is published again:
    // with the 5 s default, within 16 s.
    let relay_tick = Duration::from_millis(t.outbox_relay_ms.min(1_000));
    tasks.spawn(outbox.relay(
        relay_tick,
        Duration::from_millis(2_000).max(relay_tick),
        Duration::from_millis(t.outbox_relay_ms * 3),
        cancel.clone(),
    ));
    // Check partitions made ahead (and dropped past RETENTION_RAW_DAYS), now and hourly.
    tasks.spawn(partitions::run(
        pool.clone(),
        settings.raw_retention.raw_days,
        partitions::PERIOD,
        cancel.clone(),
    ));
    // Settled days' indexes rebuilt, unless PARTITION_COMPACTION_ENABLED=false.
    if settings.raw_retention.compaction {
        tasks.spawn(partitions::compact(pool.clone(), partitions::PERIOD, cancel.clone()));
    } else {
        tracing::info!("settled check partitions are not compacted (PARTITION_COMPACTION_ENABLED=false)");
    }
    tasks.spawn(reconcile::run(
        pool.clone(),
        schedule,
        conns.commands.clone(),
        Duration::from_secs(t.reconcile_interval_seconds),
        cancel.clone(),
    ));
    let worker = RunningWorker::start(
        &settings,
        Readiness { pool, redis: conns.commands.clone(), groups },
        reported,
        tasks,
        vec![batch_task],
    )
    .context("health server")?;
    tracing::info!(
        region = %settings.region,
        consumer = %settings.streams.consumer,
        shards = keys.shards(),
        streams = %(0..keys.shards()).map(|n| keys.monitoring_stream(n)).collect::<Vec<_>>().join(","),
        redis_cluster = settings.redis.is_cluster(),
        health_port = worker.health_port(),
        "monitoring worker started"
    );
    Ok(worker)
}
