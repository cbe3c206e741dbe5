//! Check results and the status machine, written together: one transaction per batch stores
//! the checks, applies the status machine to each monitor's state and writes every transition
//! to the outbox (`status_events`).

use crate::{Pool, StoreError, partitions};
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;
use upcheck_domain::quorum::{self, Quorum, RegionState};
use upcheck_domain::{
    CheckOutcome, DegradedChange, ExpiringCertificate, MonitorState, MonitorStatus, StatusEvent, Thresholds,
    TraceParent, apply_check,
};
use uuid::Uuid;

/// One probe's result, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// The monitor probed.
    pub monitor_id: Uuid,
    /// The check job's stream entry id: with `region`, the idempotency key.
    pub job_id: String,
    /// The region that probed.
    pub region: String,
    /// When the check was due, Unix ms.
    pub due_at_ms: i64,
    /// When the probe finished.
    pub checked_at: OffsetDateTime,
    /// Up, down or degraded.
    pub outcome: CheckOutcome,
    /// Time to the response, ms; `None` when no response came.
    pub latency_ms: Option<i32>,
    /// The response's status code, if any.
    pub http_status: Option<i16>,
    /// Why the check failed, human-readable.
    pub error: Option<String>,
    /// The monitor's thresholds at scheduling time (they confirm slowness too).
    pub thresholds: Thresholds,
    /// The monitor's `degraded_latency_ms` at scheduling time, if it has one: a slowness
    /// notice names it.
    pub degraded_latency_ms: Option<u32>,
    /// The trace context of the span that probed, when tracing is on: a transition this check
    /// causes carries it on, so the alert continues the check's trace.
    pub trace_parent: Option<TraceParent>,
    /// The monitor's quorum rule at scheduling time (regions listed, regions needed, interval).
    pub quorum: Quorum,
    /// The server's certificate, when it is within the monitor's `expiry_warning_days`: the
    /// first check that sees a certificate so reports it (`certificate.expiring`), once.
    pub expiring_certificate: Option<ExpiringCertificate>,
}

/// Stores a batch of checks and applies the status machines, all in one transaction.
///
/// Each region runs its own status machine per monitor (`monitor_region_state`); the
/// monitor's status is the regions' verdict ([`quorum::verdict`]), and its changes are the
/// transitions. With one region this is the plain status machine. An up monitor is degraded
/// while a voting region has its slowness confirmed ([`quorum::degraded_regions`]); each time
/// that changes while the monitor is up, a slowness notice (`monitor.degraded` or
/// `monitor.degraded.resolved`) follows the check. Going down ends slowness without a notice.
///
/// Idempotent: a check already stored (same monitor, job id and region) is skipped and does
/// not touch the state, so a redelivered job changes nothing. Checks of deleted monitors are
/// dropped. Checks are applied per monitor in due-time order, and a check due no later than
/// its region's last applied one is stored but does not change the state (the ordering guard).
/// Returns the transitions written to the outbox, each with its `seq`, to be published.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); nothing is then committed.
///
/// A check due on a day with no `check_results` partition yet (the worker creates them ahead,
/// [`crate::partitions`]) is not lost: the missing days are created and the batch written again.
#[tracing::instrument(level = "debug", skip_all, fields(checks = checks.len(), transitions))]
pub async fn record_checks(pool: &Pool, checks: &[CheckRecord]) -> Result<Vec<StatusEvent>, StoreError> {
    if checks.is_empty() {
        return Ok(Vec::new());
    }
    let dues = checks
        .iter()
        .map(|c| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.due_at_ms) * 1_000_000)
                .map_err(|_| StoreError::Corrupt(format!("due time {} ms out of range", c.due_at_ms)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut insert = Insert::Plain;
    let mut made_days = false;
    loop {
        match record_once(pool, checks, &dues, insert).await {
            Err(e) if !made_days && partitions::is_missing_partition(&e) => {
                let days: Vec<time::Date> = dues.iter().map(|d| partitions::day_of(*d)).collect();
                let created = partitions::ensure_days(pool, &partitions::CHECK_RESULTS, &days).await?;
                tracing::warn!(partitions = ?created, "checks due on days without a partition: created them");
                made_days = true;
            }
            Err(e) if insert == Insert::Plain && e.sqlstate() == Some(UNIQUE_VIOLATION) => {
                tracing::debug!(
                    "batch holds checks stored before (redelivered jobs): written again, skipping them"
                );
                insert = Insert::SkipStored;
            }
            result => return result,
        }
    }
}

/// SQLSTATE `unique_violation`: a check of the batch is stored already (its idempotency key).
const UNIQUE_VIOLATION: &str = "23505";

/// How [`record_once`] inserts the raw rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Insert {
    /// A plain `INSERT`: the common batch, all new. A check stored before (a redelivered job)
    /// fails the statement on the idempotency key (SQLSTATE 23505), and the batch is written
    /// again as [`Insert::SkipStored`]. Cheaper than `ON CONFLICT`, whose speculative insertion
    /// probes the unique index before each row and confirms each row with a WAL record of its
    /// own (`write_cost`: BENCHMARKS.md).
    Plain,
    /// `ON CONFLICT DO NOTHING`: checks stored before are skipped.
    SkipStored,
}

/// One attempt of [`record_checks`], `dues` being the checks' due times.
async fn record_once(
    pool: &Pool,
    checks: &[CheckRecord],
    dues: &[OffsetDateTime],
    insert: Insert,
) -> Result<Vec<StatusEvent>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // The monitor's row is the lock every writer of its state takes, regions included; it is
    // taken first, for every monitor of the batch, so the raw rows are only written for
    // monitors that exist (their `monitor_state` row does; deleting a monitor removes it, and
    // waits for this lock): no lookup in `monitors` per check. A monitor's first checks find no
    // row: it is made (pending) and locked in a second round, so a steady batch costs one
    // statement here.
    let mut batch_monitors: Vec<Uuid> = checks.iter().map(|c| c.monitor_id).collect();
    batch_monitors.sort_unstable();
    batch_monitors.dedup();
    let select = tx
        .prepare_cached(
            "SELECT monitor_id, status FROM monitor_state WHERE monitor_id = ANY($1) ORDER BY monitor_id FOR UPDATE",
        )
        .await?;
    let mut overall: BTreeMap<Uuid, MonitorStatus> = BTreeMap::new();
    for row in tx.query(&select, &[&batch_monitors]).await? {
        overall.insert(row.get(0), crate::error::stored(row.get(1), MonitorStatus::parse, "status")?);
    }
    let missing: Vec<Uuid> = batch_monitors.iter().filter(|id| !overall.contains_key(id)).copied().collect();
    if !missing.is_empty() {
        let ensure = tx
            .prepare_cached(
                "INSERT INTO monitor_state (monitor_id, status) \
                 SELECT u.id, 'pending' FROM unnest($1::uuid[]) AS u(id) \
                 WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = u.id) ORDER BY u.id ON CONFLICT DO NOTHING",
            )
            .await?;
        tx.execute(&ensure, &[&missing]).await?;
        for row in tx.query(&select, &[&missing]).await? {
            overall.insert(row.get(0), crate::error::stored(row.get(1), MonitorStatus::parse, "status")?);
        }
    }
    // Checks of deleted monitors are dropped.
    let kept: Vec<(&CheckRecord, OffsetDateTime)> = checks
        .iter()
        .zip(dues)
        .filter(|(c, _)| overall.contains_key(&c.monitor_id))
        .map(|(c, d)| (c, *d))
        .collect();
    const INSERT: &str = "INSERT INTO check_results \
           (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], \
                              $7::int4[], $8::int2[], $9::text[])";
    let ids: Vec<Uuid> = kept.iter().map(|(c, _)| c.monitor_id).collect();
    let jobs: Vec<&str> = kept.iter().map(|(c, _)| c.job_id.as_str()).collect();
    let regions: Vec<&str> = kept.iter().map(|(c, _)| c.region.as_str()).collect();
    let kept_dues: Vec<OffsetDateTime> = kept.iter().map(|(_, d)| *d).collect();
    let checked: Vec<OffsetDateTime> = kept.iter().map(|(c, _)| c.checked_at).collect();
    let statuses: Vec<&str> = kept.iter().map(|(c, _)| c.outcome.as_str()).collect();
    let latencies: Vec<Option<i32>> = kept.iter().map(|(c, _)| c.latency_ms).collect();
    let codes: Vec<Option<i16>> = kept.iter().map(|(c, _)| c.http_status).collect();
    let errors: Vec<Option<&str>> = kept.iter().map(|(c, _)| c.error.as_deref()).collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
        [&ids, &jobs, &regions, &kept_dues, &checked, &statuses, &latencies, &codes, &errors];
    // The checks stored now (not before): every kept one when the plain insert succeeds.
    let inserted: Option<HashSet<(Uuid, String, String)>> = match insert {
        _ if kept.is_empty() => Some(HashSet::new()),
        Insert::Plain => {
            tx.execute(&tx.prepare_cached(INSERT).await?, &params).await?;
            None
        }
        Insert::SkipStored => {
            let stmt = tx
                .prepare_cached(&format!(
                    "{INSERT} ON CONFLICT DO NOTHING RETURNING monitor_id, job_id, region"
                ))
                .await?;
            Some(tx.query(&stmt, &params).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        }
    };

    // Group the newly stored checks by monitor, each in due-time order (then region).
    let mut by_monitor: BTreeMap<Uuid, Vec<&CheckRecord>> = BTreeMap::new();
    for (c, _) in &kept {
        let new = inserted
            .as_ref()
            .is_none_or(|set| set.contains(&(c.monitor_id, c.job_id.clone(), c.region.clone())));
        if new {
            by_monitor.entry(c.monitor_id).or_default().push(*c);
        }
    }
    if by_monitor.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    for list in by_monitor.values_mut() {
        list.sort_by(|a, b| (a.due_at_ms, &a.region).cmp(&(b.due_at_ms, &b.region)));
    }
    let monitor_ids: Vec<Uuid> = by_monitor.keys().copied().collect();
    crate::rollups::record(&tx, &by_monitor.values().flatten().copied().collect::<Vec<_>>()).await?;
    let mut regions = load_regions(&tx, &monitor_ids).await?;
    // The region rows that exist are updated in place; only a region's first check inserts.
    let stored_regions: HashSet<(Uuid, String)> =
        regions.iter().flat_map(|(id, list)| list.iter().map(|r| (*id, r.region.clone()))).collect();

    let mut events = Vec::new();
    let mut upd = StateUpdate::default();
    let mut region_upd = RegionUpdate::default();
    let mut notices: Vec<(Uuid, MonitorStatus, &CheckRecord)> = Vec::new();
    for (monitor_id, list) in &by_monitor {
        let Some(mut status) = overall.get(monitor_id).copied() else { continue };
        let states = regions.entry(*monitor_id).or_default();
        let before = status;
        let now_ms = list.first().map_or(i64::MIN, |c| upcheck_domain::clock::unix_ms(c.checked_at));
        let mut degraded = list.first().is_some_and(|c| {
            status == MonitorStatus::Up
                && !quorum::degraded_regions(states.iter(), c.quorum, now_ms).is_empty()
        });
        let mut touched: Vec<(String, CheckOutcome)> = Vec::new();
        for c in list {
            if status == MonitorStatus::Paused {
                continue;
            }
            let region = match states.iter_mut().position(|r| r.region == c.region) {
                Some(i) => &mut states[i],
                None => {
                    states.push(RegionState::new(c.region.clone()));
                    states.last_mut().expect("just pushed")
                }
            };
            let (next, _) = apply_check(&region.state, c.outcome, c.due_at_ms, c.thresholds);
            if next == region.state {
                continue; // stale: an older check than the region's latest
            }
            region.state = next;
            let checked_ms = upcheck_domain::clock::unix_ms(c.checked_at);
            let latest = checked_ms >= region.last_checked_ms;
            region.last_checked_ms = region.last_checked_ms.max(checked_ms);
            if !c.outcome.is_success() {
                region.last_error = c.error.clone();
            }
            match touched.iter_mut().find(|(r, _)| *r == c.region) {
                Some((_, outcome)) if latest => *outcome = c.outcome,
                Some(_) => {}
                None => touched.push((c.region.clone(), c.outcome)),
            }
            let Some(to) = quorum::verdict(states.iter(), c.quorum, checked_ms) else { continue };
            if to != status {
                events.push(transition_event(*monitor_id, status, to, c, states));
                status = to;
            }
            let slow = quorum::degraded_regions(states.iter(), c.quorum, checked_ms);
            let now_degraded = status == MonitorStatus::Up && !slow.is_empty();
            if now_degraded != degraded && status == MonitorStatus::Up {
                events.push(slowness_event(*monitor_id, now_degraded, slow, c));
            }
            degraded = now_degraded;
        }
        if let Some(c) = list.iter().rev().find(|c| c.expiring_certificate.is_some())
            && status != MonitorStatus::Paused
        {
            notices.push((*monitor_id, status, *c));
        }
        for (name, outcome) in &touched {
            if let Some(region) = states.iter().find(|r| r.region == *name) {
                let is_new = !stored_regions.contains(&(*monitor_id, name.clone()));
                region_upd.push(*monitor_id, region, *outcome, is_new);
            }
        }
        if status != before {
            let changed_at = events.iter().rev().find(|e| e.monitor_id == *monitor_id).map(|e| e.occurred_at);
            upd.push(*monitor_id, status, changed_at.unwrap_or_else(OffsetDateTime::now_utc));
        }
    }
    // The monitor's own row changes only with its verdict: a steady monitor costs one region
    // row per check.
    if !upd.ids.is_empty() {
        let update = tx
            .prepare_cached(
                "UPDATE monitor_state s SET status = u.status, changed_at = u.changed_at \
                 FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(id, status, changed_at) \
                 WHERE s.monitor_id = u.id",
            )
            .await?;
        tx.execute(&update, &[&upd.ids, &upd.statuses, &upd.changed]).await?;
    }
    region_upd.write(&tx).await?;
    events.extend(certificate_notices(&tx, &notices).await?);
    crate::events::insert(&tx, &mut events).await?;
    tx.commit().await?;
    tracing::Span::current().record("transitions", events.len());
    Ok(events)
}

/// The status event of `monitor_id` going `from → to` on check `c`, `states` being its regions
/// after the check: a `down` names the failing regions when there are several.
fn transition_event(
    monitor_id: Uuid,
    from: MonitorStatus,
    to: MonitorStatus,
    c: &CheckRecord,
    states: &[RegionState],
) -> StatusEvent {
    let checked_ms = upcheck_domain::clock::unix_ms(c.checked_at);
    let cause = (to == MonitorStatus::Down).then(|| {
        let down = quorum::down_regions(states.iter(), c.quorum, checked_ms);
        let error = c.error.clone().unwrap_or_else(|| "failing".into());
        if states.len() > 1 { format!("down in {}: {error}", down.join(", ")) } else { error }
    });
    StatusEvent {
        event_id: Uuid::now_v7(),
        monitor_id,
        from,
        to,
        notify: !(from == MonitorStatus::Pending && to == MonitorStatus::Up),
        occurred_at: c.checked_at,
        cause,
        seq: None,
        trace_parent: c.trace_parent,
        certificate: None,
        degraded: None,
    }
}

/// The slowness notice of up monitor `monitor_id` on check `c`: slowness starts (`degraded`,
/// in regions `slow`) or ends.
fn slowness_event(monitor_id: Uuid, degraded: bool, slow: Vec<String>, c: &CheckRecord) -> StatusEvent {
    let cause = match (degraded, c.latency_ms, c.degraded_latency_ms) {
        (true, Some(ms), Some(limit)) => Some(format!("responses take {ms} ms (degraded from {limit} ms)")),
        (true, _, _) => Some("responses are slow".to_string()),
        (false, _, _) => None,
    };
    StatusEvent {
        event_id: Uuid::now_v7(),
        monitor_id,
        from: MonitorStatus::Up,
        to: MonitorStatus::Up,
        notify: true,
        occurred_at: c.checked_at,
        cause,
        seq: None,
        trace_parent: c.trace_parent,
        certificate: None,
        degraded: Some(DegradedChange {
            degraded,
            latency_ms: c.latency_ms,
            threshold_ms: c.degraded_latency_ms,
            regions: slow,
        }),
    }
}

/// `certificate.expiring` events for the certificates of `notices` not reported before (one
/// per monitor and fingerprint, remembered in `certificate_warnings`). Each event comes after
/// its monitor's transitions of this batch: the caller appends them last, so their `seq`
/// follows.
async fn certificate_notices(
    tx: &deadpool_postgres::Transaction<'_>,
    notices: &[(Uuid, MonitorStatus, &CheckRecord)],
) -> Result<Vec<StatusEvent>, StoreError> {
    if notices.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO certificate_warnings (monitor_id, fingerprint, not_after) \
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) \
             ON CONFLICT DO NOTHING RETURNING monitor_id",
        )
        .await?;
    let ids: Vec<Uuid> = notices.iter().map(|n| n.0).collect();
    let prints: Vec<&str> = notices
        .iter()
        .map(|n| n.2.expiring_certificate.as_ref().map_or("", |c| c.fingerprint.as_str()))
        .collect();
    let after: Vec<OffsetDateTime> = notices
        .iter()
        .map(|n| n.2.expiring_certificate.as_ref().map_or(OffsetDateTime::UNIX_EPOCH, |c| c.not_after))
        .collect();
    let new: HashSet<Uuid> =
        tx.query(&stmt, &[&ids, &prints, &after]).await?.iter().map(|r| r.get(0)).collect();
    Ok(notices
        .iter()
        .filter(|(id, _, _)| new.contains(id))
        .filter_map(|(id, status, c)| {
            let cert = c.expiring_certificate.clone()?;
            Some(StatusEvent {
                event_id: Uuid::now_v7(),
                monitor_id: *id,
                from: *status,
                to: *status,
                notify: true,
                occurred_at: c.checked_at,
                cause: Some(format!(
                    "certificate expires in {} days ({})",
                    cert.days_left,
                    cert.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
                )),
                seq: None,
                trace_parent: c.trace_parent,
                certificate: Some(cert),
                degraded: None,
            })
        })
        .collect())
}

/// Every region's state of `monitor_ids` (the caller holds their `monitor_state` locks).
async fn load_regions(
    tx: &deadpool_postgres::Transaction<'_>,
    monitor_ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<RegionState>>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT monitor_id, region, status, consecutive_failures, consecutive_successes, last_due_at_ms, \
               (extract(epoch FROM last_checked_at) * 1000)::int8, last_error, degraded, degraded_streak \
             FROM monitor_region_state WHERE monitor_id = ANY($1)",
        )
        .await?;
    let mut out: BTreeMap<Uuid, Vec<RegionState>> = BTreeMap::new();
    for row in tx.query(&stmt, &[&monitor_ids]).await? {
        let state = MonitorState {
            status: crate::error::stored(row.get(2), MonitorStatus::parse, "region status")?,
            consecutive_failures: u32::try_from(row.get::<_, i32>(3)).unwrap_or(0),
            consecutive_successes: u32::try_from(row.get::<_, i32>(4)).unwrap_or(0),
            last_due_at_ms: row.get(5),
            degraded: row.get(8),
            degraded_streak: u32::try_from(row.get::<_, i32>(9)).unwrap_or(0),
        };
        out.entry(row.get(0)).or_default().push(RegionState {
            region: row.get(1),
            state,
            last_checked_ms: row.get::<_, Option<i64>>(6).unwrap_or(i64::MIN),
            last_error: row.get(7),
        });
    }
    Ok(out)
}

/// The region rows a batch changed: those that exist in one `UPDATE … FROM unnest(…)`, a
/// region's first rows in one `INSERT`.
#[derive(Default)]
struct RegionUpdate {
    existing: RegionRows,
    new: RegionRows,
}

impl RegionUpdate {
    fn push(&mut self, id: Uuid, r: &RegionState, latest_outcome: CheckOutcome, is_new: bool) {
        if is_new { &mut self.new } else { &mut self.existing }.push(id, r, latest_outcome);
    }

    /// Writes both sets. The `UPDATE` changes no indexed column and `monitor_region_state`
    /// keeps free room in its pages (fillfactor 30, migration V24), so each row's new version
    /// is a HOT update on its own page: one WAL record a row, against three to four for the
    /// `INSERT … ON CONFLICT DO UPDATE` every row went through before (its speculative insertion
    /// and tuple lock, and a new index entry when the page was full).
    async fn write(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
        self.existing.update(tx).await?;
        self.new.write(tx).await
    }
}

/// Region rows in columns, for `unnest`.
#[derive(Default)]
struct RegionRows {
    ids: Vec<Uuid>,
    regions: Vec<String>,
    statuses: Vec<&'static str>,
    failures: Vec<i32>,
    successes: Vec<i32>,
    dues: Vec<i64>,
    checked_ms: Vec<i64>,
    outcomes: Vec<&'static str>,
    errors: Vec<Option<String>>,
    degraded: Vec<bool>,
    degraded_streaks: Vec<i32>,
}

impl RegionRows {
    fn push(&mut self, id: Uuid, r: &RegionState, latest_outcome: CheckOutcome) {
        self.outcomes.push(latest_outcome.as_str());
        self.ids.push(id);
        self.regions.push(r.region.clone());
        self.statuses.push(r.state.status.as_str());
        self.failures.push(i32::try_from(r.state.consecutive_failures).unwrap_or(i32::MAX));
        self.successes.push(i32::try_from(r.state.consecutive_successes).unwrap_or(i32::MAX));
        self.dues.push(r.state.last_due_at_ms);
        self.checked_ms.push(r.last_checked_ms);
        self.errors.push(r.last_error.clone());
        self.degraded.push(r.state.degraded);
        self.degraded_streaks.push(i32::try_from(r.state.degraded_streak).unwrap_or(i32::MAX));
    }

    /// Updates the rows, which exist (their monitors' `monitor_state` rows are locked, so no
    /// other writer can remove or add them meanwhile).
    async fn update(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(
                "UPDATE monitor_region_state s SET status = u.status, consecutive_failures = u.failures, \
                   consecutive_successes = u.successes, last_due_at_ms = u.due, \
                   last_checked_at = to_timestamp(u.checked_ms / 1000.0), \
                   last_outcome = CASE WHEN s.last_checked_at > to_timestamp(u.checked_ms / 1000.0) \
                                       THEN s.last_outcome ELSE u.outcome END, \
                   last_error = u.error, degraded = u.degraded, degraded_streak = u.streak \
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::int8[], $7::int8[], \
                             $8::text[], $9::text[], $10::bool[], $11::int4[]) \
                      AS u(id, region, status, failures, successes, due, checked_ms, outcome, error, degraded, streak) \
                 WHERE s.monitor_id = u.id AND s.region = u.region",
            )
            .await?;
        tx.execute(&stmt, &self.params()).await?;
        Ok(())
    }

    /// Inserts the rows, or updates them if they exist after all.
    async fn write(&self, tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO monitor_region_state AS s (monitor_id, region, status, consecutive_failures, \
                   consecutive_successes, last_due_at_ms, last_checked_at, last_outcome, last_error, degraded, \
                   degraded_streak) \
                 SELECT u.id, u.region, u.status, u.failures, u.successes, u.due, \
                        to_timestamp(u.checked_ms / 1000.0), u.outcome, u.error, u.degraded, u.streak \
                 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::int4[], $6::int8[], $7::int8[], \
                             $8::text[], $9::text[], $10::bool[], $11::int4[]) \
                      AS u(id, region, status, failures, successes, due, checked_ms, outcome, error, degraded, streak) \
                 ORDER BY u.id, u.region \
                 ON CONFLICT (monitor_id, region) DO UPDATE SET status = excluded.status, \
                   consecutive_failures = excluded.consecutive_failures, \
                   consecutive_successes = excluded.consecutive_successes, \
                   last_due_at_ms = excluded.last_due_at_ms, last_checked_at = excluded.last_checked_at, \
                   last_outcome = CASE WHEN s.last_checked_at > excluded.last_checked_at THEN s.last_outcome \
                                       ELSE excluded.last_outcome END, \
                   last_error = excluded.last_error, degraded = excluded.degraded, \
                   degraded_streak = excluded.degraded_streak",
            )
            .await?;
        tx.execute(&stmt, &self.params()).await?;
        Ok(())
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 11] {
        [
            &self.ids,
            &self.regions,
            &self.statuses,
            &self.failures,
            &self.successes,
            &self.dues,
            &self.checked_ms,
            &self.outcomes,
            &self.errors,
            &self.degraded,
            &self.degraded_streaks,
        ]
    }
}

#[derive(Default)]
struct StateUpdate {
    ids: Vec<Uuid>,
    statuses: Vec<&'static str>,
    changed: Vec<OffsetDateTime>,
}

impl StateUpdate {
    fn push(&mut self, id: Uuid, status: MonitorStatus, changed_at: OffsetDateTime) {
        self.ids.push(id);
        self.statuses.push(status.as_str());
        self.changed.push(changed_at);
    }
}
