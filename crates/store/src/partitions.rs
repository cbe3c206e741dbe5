//! Tables range-partitioned by a `timestamptz` column in whole UTC days (native declarative
//! partitioning; plain Postgres 15 and Neon, no extension): partitions are created ahead, on
//! demand for a row whose day has none, and dropped whole once older than a retention (never a
//! `DELETE` storm).
//!
//! Creation and drops run under one transaction-scoped advisory lock per table, so any number
//! of replicas may call them at once: each day is created once, and a caller that finds it made
//! does nothing. A partition is built apart (its own indexes included) and then attached, which
//! takes only `SHARE UPDATE EXCLUSIVE` on the parent: checks keep flowing. A drop needs `ACCESS
//! EXCLUSIVE` on the parent for an instant; it waits at most [`DROP_LOCK_TIMEOUT_MS`] and is
//! otherwise left to the next pass.
//!
//! A partition's bounds are read from the catalogue (`pg_get_expr(relpartbound)`), so the
//! partitions made by hand or by a migration (e.g. `check_results_legacy`, covering every day
//! before the daily ones) are retained and dropped by the same rule.

use crate::{Pool, StoreError};
use time::{Date, Duration, OffsetDateTime, Time};

/// How long a drop waits for its lock on the parent before giving up until the next pass, ms.
pub const DROP_LOCK_TIMEOUT_MS: u32 = 2_000;

/// How long a creation waits for its lock on the parent (`SHARE UPDATE EXCLUSIVE`, which only
/// DDL and VACUUM conflict with), ms.
pub const CREATE_LOCK_TIMEOUT_MS: u32 = 10_000;

/// A table range-partitioned by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTable {
    /// The partitioned (parent) table. Day `d`'s partition is named `<table>_pYYYYMMDD` and
    /// holds the rows whose partition key is in `[d 00:00 UTC, d+1 00:00 UTC)`.
    pub table: &'static str,
    /// Advisory lock key serialising creations and drops on this table.
    pub lock_key: i64,
    /// Statements run on each new partition before it is attached, `{p}` standing for its
    /// name: the indexes the parent cannot declare (a unique index without the partition key).
    /// The parent's own (partitioned) indexes are added by the attachment.
    pub per_partition: &'static [&'static str],
}

/// `check_results`, partitioned by `due_at` (migration V24). Each day's partition carries the
/// idempotency key `UNIQUE (due_at, monitor_id, job_id, region)`: a redelivered job has the same
/// due time, so it meets its first copy in the same partition, and in the same place of the
/// index. The due time first keeps a batch's entries together at the index's right end (checks
/// are due about now), where `(monitor_id, …)` first scattered them over a leaf page per monitor
/// (migration V28; partitions made before it keep `(monitor_id, job_id, region)`, the same key
/// for the same job).
pub const CHECK_RESULTS: DailyTable = DailyTable {
    table: "check_results",
    lock_key: 0x7570_6368_6563_6b02,
    per_partition: &["CREATE UNIQUE INDEX {p}_key ON {p} (due_at, monitor_id, job_id, region)"],
};

/// Days of `check_results` partitions the monitoring worker keeps ready beyond today.
pub const DAYS_AHEAD: u32 = 3;

/// One partition of a [`DailyTable`] and the range it covers (`-infinity` / `infinity` for
/// `MINVALUE` / `MAXVALUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The partition's table name.
    pub name: String,
    /// Inclusive lower bound.
    pub from: Bound,
    /// Exclusive upper bound.
    pub to: Bound,
}

/// A partition bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bound {
    /// `MINVALUE`.
    Min,
    /// A point in time.
    At(OffsetDateTime),
    /// `MAXVALUE`.
    Max,
}

/// What one [`maintain`] pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Partitions created.
    pub created: Vec<String>,
    /// Partitions dropped.
    pub dropped: Vec<String>,
}

/// The UTC day of `t`.
pub fn day_of(t: OffsetDateTime) -> Date {
    t.to_offset(time::UtcOffset::UTC).date()
}

fn start_of(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_utc()
}

fn partition_name(table: &DailyTable, day: Date) -> String {
    format!("{}_p{:04}{:02}{:02}", table.table, day.year(), u8::from(day.month()), day.day())
}

fn literal(t: OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC);
    format!(
        "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00'",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// Every partition of `table` but a `DEFAULT` one, by lower bound.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`] (e.g. `table` is not partitioned).
pub async fn list(pool: &Pool, table: &DailyTable) -> Result<Vec<Partition>, StoreError> {
    let client = pool.get().await?;
    list_on(&**client, table).await
}

async fn list_on<C: tokio_postgres::GenericClient>(
    client: &C,
    table: &DailyTable,
) -> Result<Vec<Partition>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname::text, \
               CASE WHEN b ~ 'FROM \\(MINVALUE\\)' THEN NULL \
                    ELSE substring(b FROM 'FROM \\(''([^'']+)''\\)')::timestamptz END, \
               CASE WHEN b ~ 'TO \\(MAXVALUE\\)' THEN NULL \
                    ELSE substring(b FROM 'TO \\(''([^'']+)''\\)')::timestamptz END \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid, \
                  pg_get_expr(c.relpartbound, c.oid) AS b \
             WHERE i.inhparent = $1::text::regclass AND b <> 'DEFAULT'",
            &[&table.table],
        )
        .await?;
    let mut out: Vec<Partition> = rows
        .iter()
        .map(|r| Partition {
            name: r.get(0),
            from: r.get::<_, Option<OffsetDateTime>>(1).map_or(Bound::Min, Bound::At),
            to: r.get::<_, Option<OffsetDateTime>>(2).map_or(Bound::Max, Bound::At),
        })
        .collect();
    out.sort_by_key(|p| p.from);
    Ok(out)
}

/// Creates the partitions of `days` that no partition covers yet, in one transaction under the
/// table's advisory lock; returns the names created. A day another partition covers even in
/// part (e.g. the legacy partition) is left alone. Safe from any number of callers at once.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`] (a lock wait past [`CREATE_LOCK_TIMEOUT_MS`] is
/// SQLSTATE 55P03, transient); nothing is then created.
pub async fn ensure_days(pool: &Pool, table: &DailyTable, days: &[Date]) -> Result<Vec<String>, StoreError> {
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&table.lock_key]).await?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = {CREATE_LOCK_TIMEOUT_MS}")).await?;
    let existing = list_on(&*tx, table).await?;
    let mut wanted: Vec<Date> = days.to_vec();
    wanted.sort();
    wanted.dedup();
    let mut created = Vec::new();
    for day in wanted {
        let (from, to) = (start_of(day), start_of(day + Duration::days(1)));
        let covered = existing.iter().any(|p| p.from < Bound::At(to) && Bound::At(from) < p.to);
        if covered {
            continue;
        }
        let name = partition_name(table, day);
        let mut sql = format!(
            "CREATE TABLE {name} (LIKE {t} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);\n",
            t = table.table
        );
        for stmt in table.per_partition {
            sql.push_str(&stmt.replace("{p}", &name));
            sql.push_str(";\n");
        }
        sql.push_str(&format!(
            "ALTER TABLE {t} ATTACH PARTITION {name} FOR VALUES FROM ({}) TO ({});",
            literal(from),
            literal(to),
            t = table.table
        ));
        tx.batch_execute(&sql).await?;
        created.push(name);
    }
    tx.commit().await?;
    if !created.is_empty() {
        tracing::info!(table = table.table, partitions = ?created, "partitions created");
    }
    Ok(created)
}

/// Drops whole every partition of `table` whose rows are all older than `keep_days` days
/// before `now` (its upper bound at or before `now - keep_days`); returns the names dropped.
/// Each drop is its own short transaction under the table's advisory lock; a drop whose lock
/// on the parent is not had within [`DROP_LOCK_TIMEOUT_MS`] (a long read holds it) is skipped
/// and logged, for the next pass.
///
/// Reusable for any [`DailyTable`] (events, notifications, rollups): pass its spec and its
/// retention.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`] for the listing or a drop failing otherwise than
/// by its lock time-out.
pub async fn drop_older_than(
    pool: &Pool,
    table: &DailyTable,
    now: OffsetDateTime,
    keep_days: u32,
) -> Result<Vec<String>, StoreError> {
    let horizon = Bound::At(now - Duration::days(i64::from(keep_days)));
    let expired: Vec<Partition> = list(pool, table).await?.into_iter().filter(|p| p.to <= horizon).collect();
    let mut dropped = Vec::new();
    for p in expired {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&table.lock_key]).await?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {DROP_LOCK_TIMEOUT_MS}")).await?;
        // Another caller may have dropped it while this one waited for the advisory lock.
        match tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", p.name)).await {
            Ok(()) => {
                tx.commit().await?;
                dropped.push(p.name);
            }
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                tracing::warn!(partition = %p.name, "partition not dropped: its table is busy; next pass");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !dropped.is_empty() {
        tracing::info!(table = table.table, partitions = ?dropped, keep_days, "expired partitions dropped");
    }
    Ok(dropped)
}

/// One maintenance pass over `table`: the partitions of today (UTC, from `now`) through
/// `days_ahead` days later are made, and those older than `keep_days` dropped.
///
/// # Errors
/// The first [`StoreError`] of [`ensure_days`] or [`drop_older_than`].
pub async fn maintain(
    pool: &Pool,
    table: &DailyTable,
    now: OffsetDateTime,
    days_ahead: u32,
    keep_days: u32,
) -> Result<Maintained, StoreError> {
    let today = day_of(now);
    let days: Vec<Date> = (0..=i64::from(days_ahead)).map(|n| today + Duration::days(n)).collect();
    let created = ensure_days(pool, table, &days).await?;
    let dropped = drop_older_than(pool, table, now, keep_days).await?;
    Ok(Maintained { created, dropped })
}

/// How long after its last moment a day's partition counts as settled (its late checks in) and
/// may be compacted by [`compact_settled`].
pub const SETTLED_AFTER: Duration = Duration::hours(2);

/// The comment [`compact_settled`] marks a compacted partition with.
const COMPACTED: &str = "upcheck: indexes rebuilt after the day";

/// Rebuilds the indexes of the oldest settled daily partition of `table` not yet compacted
/// (its day ended at least [`SETTLED_AFTER`] before `now`), with `REINDEX TABLE CONCURRENTLY`:
/// reads and late writes go on meanwhile. Returns its name, or `None` when there was nothing to
/// do or another caller is compacting.
///
/// Why: a day's checks arrive interleaved across monitors, so both indexes (whose first column
/// is `monitor_id`) split their pages in the middle and end about half full (about 190 B of
/// index per check); once the day is over nothing more comes, and the rebuilt indexes are
/// about 110 B per check. One partition per call keeps a pass's work bounded; the rebuild runs
/// on a connection of its own taken out of the pool, without `statement_timeout`. Partitions
/// not named `<table>_pYYYYMMDD` (the legacy one) are left as they are. An index left invalid
/// by an interrupted rebuild is dropped first.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`]; the partition is then tried again next time.
pub async fn compact_settled(
    pool: &Pool,
    table: &DailyTable,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    let settled = Bound::At(now - SETTLED_AFTER);
    let prefix = format!("{}_p", table.table);
    let client = deadpool_postgres::Object::take(pool.get().await?);
    let candidates: Vec<Partition> = list_on(&*client, table)
        .await?
        .into_iter()
        .filter(|p| p.to <= settled && p.from != Bound::Min && p.name.starts_with(&prefix))
        .collect();
    let mut target = None;
    for p in candidates {
        let note: Option<String> = client
            .query_one("SELECT obj_description($1::text::regclass, 'pg_class')", &[&p.name])
            .await?
            .get(0);
        if note.as_deref() != Some(COMPACTED) {
            target = Some(p.name);
            break;
        }
    }
    let Some(name) = target else { return Ok(None) };
    // A session lock: REINDEX CONCURRENTLY cannot run inside a transaction.
    let key = table.lock_key ^ 0x0c0f;
    let got: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).await?.get(0);
    if !got {
        return Ok(None);
    }
    let result = async {
        let invalid = client
            .query(
                "SELECT i.indexrelid::regclass::text FROM pg_index i \
                 WHERE i.indrelid = $1::text::regclass AND NOT i.indisvalid",
                &[&name],
            )
            .await?;
        // One statement at a time: several in one query string make a transaction block.
        client.batch_execute("SET statement_timeout = 0").await?;
        for row in invalid {
            client
                .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {}", row.get::<_, String>(0)))
                .await?;
        }
        client.batch_execute(&format!("REINDEX TABLE CONCURRENTLY {name}")).await?;
        client.batch_execute(&format!("COMMENT ON TABLE {name} IS '{COMPACTED}'")).await
    }
    .await;
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&key]).await;
    result?;
    tracing::info!(partition = %name, "settled partition's indexes rebuilt");
    Ok(Some(name))
}

/// Whether `e` is Postgres finding no partition for a row (SQLSTATE 23514 with that message):
/// the caller creates the missing days with [`ensure_days`] and tries again.
pub fn is_missing_partition(e: &StoreError) -> bool {
    match e {
        StoreError::Db(db) => db.as_db_error().is_some_and(|d| {
            d.code() == &tokio_postgres::error::SqlState::CHECK_VIOLATION
                && d.message().starts_with("no partition")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_literals_are_utc_days() {
        let day = time::macros::date!(2026 - 12 - 07);
        assert_eq!(partition_name(&CHECK_RESULTS, day), "check_results_p20261207");
        let t = time::macros::datetime!(2026-12-07 23:30 -02:00);
        assert_eq!(day_of(t), time::macros::date!(2026 - 12 - 08));
        assert_eq!(literal(start_of(day)), "'2026-12-07 00:00:00+00'");
    }

    #[test]
    fn bounds_order_min_before_times_before_max() {
        let t = time::macros::datetime!(2026-12-07 00:00 UTC);
        assert!(Bound::Min < Bound::At(t));
        assert!(Bound::At(t) < Bound::Max);
    }
}
