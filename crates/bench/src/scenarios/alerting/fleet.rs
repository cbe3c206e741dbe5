//! Notifications made the way the pipeline makes them: owners, monitors (10 per owner), eight
//! sealed channels per monitor (one per kind, each with its own number the fake providers
//! recognise), one `down` status event per monitor appended to the outbox and applied
//! (`upcheck_store::incidents::apply_status_event` creates the notifications); then their jobs
//! enqueued on the notification stream, and their states read back.

use super::providers::{KINDS, Providers};
use futures::StreamExt;
use std::collections::HashMap;
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, NotificationJob, StatusEvent};
use upcheck_secrets::Aad;
use upcheck_streams::Producer;
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::spec;
use uuid::Uuid;

/// Monitors per owner.
const MONITORS_PER_OWNER: usize = 10;
/// Rows per bulk statement.
const CHUNK: usize = 4_000;

/// One notification made, and the channel it is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Planned {
    /// The notification's id.
    pub(crate) notification: Uuid,
    /// Its channel's number (what the fake provider records it under).
    pub(crate) n: u64,
    /// Index into [`KINDS`].
    pub(crate) kind: usize,
}

/// Makes notifications, numbering channels from 1 across calls.
pub(crate) struct Fleet {
    next_n: u64,
    /// Owners made so far.
    pub(crate) owners: usize,
    /// Monitors made so far.
    pub(crate) monitors: usize,
}

impl Fleet {
    pub(crate) fn new() -> Self {
        Self { next_n: 1, owners: 0, monitors: 0 }
    }

    /// Makes `count` notifications over the 8 kinds equally (`count / 8` monitors with all eight
    /// channels, the last one with the remainder), on owners of their own; returned sorted by
    /// notification id, a random order that interleaves owners, monitors and kinds.
    ///
    /// # Errors
    /// When a statement fails or the pipeline made a different number of notifications.
    pub(crate) async fn create(
        &mut self,
        env: &TestEnv,
        providers: &Providers,
        count: usize,
    ) -> anyhow::Result<Vec<Planned>> {
        let db = env.db().await;
        let monitors = count.div_ceil(KINDS.len());
        let owners: Vec<Uuid> = (0..monitors.div_ceil(MONITORS_PER_OWNER)).map(|_| Uuid::now_v7()).collect();
        db.execute(
            "INSERT INTO users (id, email, password_hash, role) \
             SELECT id, id::text || '@example.com', 'x', 'member' FROM unnest($1::uuid[]) AS u(id)",
            &[&owners],
        )
        .await?;
        let specs: Vec<_> = (0..monitors).map(|_| spec("http://127.0.0.1:9/")).collect();
        for (owner, chunk) in owners.iter().zip(specs.chunks(MONITORS_PER_OWNER)) {
            crate::stack::insert_monitors(env, *owner, chunk).await?;
        }
        // Channels: (id, owner, monitor, kind index, number).
        let mut channels = Vec::with_capacity(count);
        for (i, s) in specs.iter().enumerate() {
            for kind in 0..KINDS.len().min(count - i * KINDS.len()) {
                channels.push((
                    Uuid::now_v7(),
                    owners[i / MONITORS_PER_OWNER],
                    s.monitor_id,
                    kind,
                    self.next_n,
                ));
                self.next_n += 1;
            }
        }
        for chunk in channels.chunks(CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|c| c.0).collect();
            let owner_ids: Vec<Uuid> = chunk.iter().map(|c| c.1).collect();
            let monitor_ids: Vec<Uuid> = chunk.iter().map(|c| c.2).collect();
            let kinds: Vec<&str> = chunk.iter().map(|c| KINDS[c.3]).collect();
            let sealed: Vec<serde_json::Value> = chunk
                .iter()
                .map(|c| {
                    env.keys().seal_json(&providers.config(c.3, c.4), &Aad::channel_config(c.0)).to_json()
                })
                .collect();
            db.execute(
                "INSERT INTO channels (id, owner_id, kind, name, config, config_sealed) \
                 SELECT id, owner, kind, 'bench', '{}'::jsonb, sealed \
                 FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[]) AS c(id, owner, kind, sealed)",
                &[&ids, &owner_ids, &kinds, &sealed],
            )
            .await?;
            db.execute(
                "INSERT INTO monitor_channels (monitor_id, channel_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])",
                &[&monitor_ids, &ids],
            )
            .await?;
        }
        let mut events: Vec<StatusEvent> = specs
            .iter()
            .map(|s| StatusEvent {
                event_id: Uuid::now_v7(),
                monitor_id: s.monitor_id,
                from: MonitorStatus::Up,
                to: MonitorStatus::Down,
                notify: true,
                occurred_at: OffsetDateTime::now_utc(),
                cause: Some("connection refused".into()),
                seq: None,
                trace_parent: None,
                certificate: None,
                degraded: None,
            })
            .collect();
        for chunk in events.chunks_mut(1_000) {
            upcheck_store::events::append(&env.pool, chunk).await?;
        }
        let applied: Vec<_> = futures::stream::iter(events.iter())
            .map(|e| upcheck_store::incidents::apply_status_event(&env.pool, e))
            .buffer_unordered(4)
            .collect()
            .await;
        let mut made = Vec::with_capacity(count);
        for a in applied {
            made.extend(a?.into_iter().flat_map(|a| a.pending_notifications));
        }
        anyhow::ensure!(made.len() == count, "the events made {} notifications, not {count}", made.len());
        let by_channel: HashMap<Uuid, (usize, u64)> = channels.iter().map(|c| (c.0, (c.3, c.4))).collect();
        let mut planned = Vec::with_capacity(count);
        for r in db
            .query("SELECT id, channel_id FROM notifications WHERE id = ANY($1) ORDER BY id", &[&made])
            .await?
        {
            let channel: Uuid = r.get(1);
            let (kind, n) = by_channel[&channel];
            planned.push(Planned { notification: r.get(0), n, kind });
        }
        self.owners += owners.len();
        self.monitors += monitors;
        Ok(planned)
    }
}

/// Enqueues one job per notification, 1,000 per round trip.
///
/// # Errors
/// When Redis refuses.
pub(crate) async fn enqueue(producer: &Producer, stream: &str, planned: &[Planned]) -> anyhow::Result<()> {
    for chunk in planned.chunks(1_000) {
        let jobs: Vec<NotificationJob> =
            chunk.iter().map(|p| NotificationJob { notification_id: p.notification }).collect();
        producer.add_many(stream, &jobs).await?;
    }
    Ok(())
}

/// Notifications by state: (delivered, failed or dead, pending).
///
/// # Errors
/// When the query fails.
pub(crate) async fn states(env: &TestEnv) -> anyhow::Result<(i64, i64, i64)> {
    let r = env
        .db()
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'delivered'), \
                    count(*) FILTER (WHERE state IN ('failed', 'dead')), \
                    count(*) FILTER (WHERE state = 'pending') FROM notifications",
            &[],
        )
        .await?;
    Ok((r.get(0), r.get(1), r.get(2)))
}

/// The first error of a failed or dead notification, to say why a run stopped.
///
/// # Errors
/// When the query fails.
pub(crate) async fn first_failure(env: &TestEnv) -> anyhow::Result<String> {
    let row = env
        .db()
        .await
        .query_opt(
            "SELECT channel_kind, state, last_error FROM notifications WHERE state IN ('failed', 'dead') LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map_or_else(
        || "none".into(),
        |r| {
            format!(
                "{} {}: {}",
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, Option<String>>(2).unwrap_or_default()
            )
        },
    ))
}
