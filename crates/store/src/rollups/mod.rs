//! Check rollups per monitor and region (minute, hour, UTC day and UTC calendar month; see
//! migrations `V23__check_rollups.sql` and `V30__check_rollups_month.sql`, and
//! [`upcheck_domain::rollup`]), written by the batch that stores the checks, and read back over
//! any window.
//!
//! Writing: a minute is closed once, from the raw rows, by the first batch that stores a check
//! of a later minute for the same monitor and region; an hour (a day, a month) is closed from
//! its minute (hour, day) rows once its last minute (hour, day) is.
//! `check_rollup_marks.closed_until` is that boundary. A check stored after its minute was
//! closed (a late probe, a redelivery) is added to the closed rows directly. A steady 1 s monitor thus costs one mark lookup per check and one
//! small closing per minute; every step runs in the batch's transaction under the monitor's
//! `monitor_state` row lock, so concurrent batches never close a minute twice or miss a check.
//!
//! Reading: whole closed months from month rows, whole closed days from day rows, whole closed
//! hours from hour rows, closed minutes from minute rows, and the raw checks after the mark
//! (the current minute).
//!
//! The raw checks after the mark are read by `checked_at`, but `check_results` is partitioned
//! by `due_at`. So that the read can name the few partitions that hold them, every raw check at
//! or after its region's mark is within [`TAIL_SKEW`] of its due time: a check stored more than
//! that late (a job redelivered hours on) or early (a clock ahead) moves the mark past its own
//! minute in the batch that stores it, so it is rolled up at once and never in the tail.

pub mod cache;
pub mod prune;
pub mod read;
pub mod stats;
pub mod uptime;

pub use cache::RollupCache;
pub use prune::{Pruned, prune};
pub use read::{Range, WindowRollup, series, window};
pub use stats::{WindowStats, owned_window_stats, window_stats};

use crate::StoreError;
use crate::checks::CheckRecord;
use deadpool_postgres::Transaction;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use upcheck_domain::CheckOutcome;
use upcheck_domain::rollup::{Rollup, lower_bounds};
use uuid::Uuid;

/// How far a raw check after its region's mark may be from its due time, either way (see the
/// module's doc): the raw tail is read from the partitions of `due_at` within this of the
/// tail's `checked_at` range.
pub const TAIL_SKEW: Duration = Duration::hours(1);

const COLUMNS: &str =
    "checks, failures, degraded, latency_count, latency_sum, latency_min, latency_max, histogram";

/// `at` rounded down to its minute (UTC).
pub fn floor_minute(at: OffsetDateTime) -> OffsetDateTime {
    floor(at, 60)
}

/// `at` rounded down to its hour (UTC).
pub fn floor_hour(at: OffsetDateTime) -> OffsetDateTime {
    floor(at, 3_600)
}

/// `at` rounded down to its UTC day.
pub fn floor_day(at: OffsetDateTime) -> OffsetDateTime {
    floor(at, 86_400)
}

/// `at` rounded down to the first of its UTC calendar month.
pub fn floor_month(at: OffsetDateTime) -> OffsetDateTime {
    let day = floor_day(at).to_offset(time::UtcOffset::UTC);
    day - Duration::days(i64::from(day.day()) - 1)
}

/// `at` rounded up to the first of a UTC calendar month (itself when it is one).
fn ceil_month(at: OffsetDateTime) -> OffsetDateTime {
    let f = floor_month(at);
    if f == at {
        return f;
    }
    // 32 days on from the first is always within the next month.
    floor_month(f + Duration::days(32))
}

fn floor(at: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    let t = at.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(seconds)).unwrap_or(at)
}

fn ceil(at: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    let f = floor(at, seconds);
    if f == at { f } else { f + Duration::seconds(seconds) }
}

/// Rolls up `stored`, the checks `record_checks` has just stored (newly: not redeliveries),
/// inside its transaction. The caller must hold the `monitor_state` row locks of their
/// monitors (that is what serializes the closing of a monitor's minutes).
///
/// # Errors
/// [`StoreError::Db`] when a statement fails; the caller's transaction is then to be dropped.
pub async fn record(tx: &Transaction<'_>, stored: &[&CheckRecord]) -> Result<(), StoreError> {
    if stored.is_empty() {
        return Ok(());
    }
    // Per monitor and region: the latest minute seen and the checks.
    let mut keys: BTreeMap<(Uuid, &str), (OffsetDateTime, Vec<&CheckRecord>)> = BTreeMap::new();
    for c in stored {
        let minute = floor_minute(c.checked_at);
        let e = keys.entry((c.monitor_id, c.region.as_str())).or_insert((minute, Vec::new()));
        e.0 = e.0.max(minute);
        e.1.push(c);
    }
    // Every region's mark of these monitors (a superset of the keys, rarely larger): one scan
    // of the key's index in order, cheaper than a lookup per key.
    let mut ids: Vec<Uuid> = keys.keys().map(|k| k.0).collect();
    ids.dedup();
    let marks_stmt = tx
        .prepare_cached(
            "SELECT monitor_id, region, closed_until FROM check_rollup_marks WHERE monitor_id = ANY($1)",
        )
        .await?;
    let mut marks: BTreeMap<(Uuid, String), OffsetDateTime> = BTreeMap::new();
    for r in tx.query(&marks_stmt, &[&ids]).await? {
        marks.insert((r.get(0), r.get(1)), r.get(2));
    }
    let mut closing = Closing::default();
    let mut late: BTreeMap<(Uuid, &str, OffsetDateTime), Rollup> = BTreeMap::new();
    let mut late_marks: BTreeMap<(Uuid, &str), OffsetDateTime> = BTreeMap::new();
    for ((id, region), (latest, checks)) in &keys {
        let mark = marks.get(&(*id, (*region).to_string())).copied();
        if let Some(w) = mark {
            for c in checks.iter().filter(|c| c.checked_at < w) {
                add(late.entry((*id, *region, floor_minute(c.checked_at))).or_default(), c);
                late_marks.insert((*id, *region), w);
            }
        }
        // A check too far from its due time must not stay in the raw tail: close past its minute.
        let until = checks
            .iter()
            .filter(|c| mark.is_none_or(|w| c.checked_at >= w) && skewed(c))
            .map(|c| floor_minute(c.checked_at) + Duration::minutes(1))
            .fold(*latest, OffsetDateTime::max);
        if mark.is_none_or(|w| w < until) {
            closing.push(*id, region, mark, until);
        }
    }
    write_late(tx, &late, &late_marks).await?;
    closing.write(tx).await
}

/// Whether `c` was checked more than [`TAIL_SKEW`] before or after its due time.
fn skewed(c: &CheckRecord) -> bool {
    let skew_ms = (upcheck_domain::clock::unix_ms(c.checked_at) - c.due_at_ms).abs();
    i128::from(skew_ms) > TAIL_SKEW.whole_milliseconds()
}

fn add(r: &mut Rollup, c: &CheckRecord) {
    r.add(c.outcome == CheckOutcome::Down, c.outcome == CheckOutcome::Degraded, c.latency_ms);
}

/// Minutes to close: per key `[from, to)` (`from` None: from the first check).
#[derive(Default)]
struct Closing {
    ids: Vec<Uuid>,
    regions: Vec<String>,
    from: Vec<Option<OffsetDateTime>>,
    to: Vec<OffsetDateTime>,
}

impl Closing {
    fn push(&mut self, id: Uuid, region: &str, from: Option<OffsetDateTime>, to: OffsetDateTime) {
        self.ids.push(id);
        self.regions.push(region.to_string());
        self.from.push(from);
        self.to.push(to);
    }

    async fn write(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        // Each key's raw checks (minute rows, for the levels above) by its own index range
        // scan, `LATERAL` and fenced with `OFFSET 0`, as `read::read_marked` reads: with few
        // monitors in the tables, the generic plan of a plain join hashed the whole table (every
        // raw check of every partition) at each closing.
        let minutes = tx
            .prepare_cached(&format!(
                "INSERT INTO check_rollups_minute AS r (monitor_id, region, bucket, {COLUMNS}) \
                 SELECT g.monitor_id, g.region, g.minute, sum(g.n)::int, sum(g.f)::int, sum(g.d)::int, sum(g.lc)::int, \
                        sum(g.ls)::int8, min(g.lmin), max(g.lmax), \
                        coalesce(array_agg((g.idx::int8 << 32) | g.lc ORDER BY g.idx) FILTER (WHERE g.idx IS NOT NULL), '{{}}') \
                 FROM (SELECT c.monitor_id, c.region, date_trunc('minute', c.checked_at, 'UTC') AS minute, \
                         width_bucket(greatest(c.latency_ms, 0), $5::int4[]) - 1 AS idx, count(*) AS n, \
                         count(*) FILTER (WHERE c.status = 'down') AS f, count(*) FILTER (WHERE c.status = 'degraded') AS d, \
                         count(c.latency_ms) AS lc, coalesce(sum(c.latency_ms), 0) AS ls, min(c.latency_ms) AS lmin, \
                         max(c.latency_ms) AS lmax \
                       FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS k(id, region, s, e) \
                       CROSS JOIN LATERAL (SELECT * FROM check_results c WHERE c.monitor_id = k.id AND c.region = k.region \
                        AND c.checked_at >= coalesce(k.s, '-infinity') AND c.checked_at < k.e OFFSET 0) c \
                       GROUP BY 1, 2, 3, 4) g \
                 GROUP BY 1, 2, 3 \
                 ON CONFLICT (monitor_id, region, bucket) DO UPDATE SET {MERGE}"
            ))
            .await?;
        tx.execute(&minutes, &[&self.ids, &self.regions, &self.from, &self.to, &lower_bounds()]).await?;
        // Hours (days, months) whose last minute (hour, day) is now closed:
        // [floor(old mark), floor(new mark)).
        for (unit, round, source, target) in LEVELS_ABOVE_MINUTES {
            let from: Vec<Option<OffsetDateTime>> = self.from.iter().map(|f| f.map(round)).collect();
            let to: Vec<OffsetDateTime> = self.to.iter().map(|t| round(*t)).collect();
            if from.iter().zip(&to).all(|(f, t)| f.is_some_and(|f| f >= *t)) {
                continue;
            }
            let stmt = tx.prepare_cached(&close_level(unit, source, target)).await?;
            tx.execute(&stmt, &[&self.ids, &self.regions, &from, &to]).await?;
        }
        let marks = tx
            .prepare_cached(
                "INSERT INTO check_rollup_marks AS m (monitor_id, region, closed_until) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) \
                 ON CONFLICT (monitor_id, region) DO UPDATE \
                 SET closed_until = greatest(m.closed_until, excluded.closed_until)",
            )
            .await?;
        tx.execute(&marks, &[&self.ids, &self.regions, &self.to]).await?;
        Ok(())
    }
}

/// The statement that closes `target`'s `unit` buckets from `source`'s rows over each key's
/// `[from, to)` (parameters: monitor ids, regions, `from` (null: from the first row), `to`,
/// the bounds rounded to `unit`), adding to the rows that exist.
fn close_level(unit: &str, source: &str, target: &str) -> String {
    format!(
        "WITH m AS (SELECT r.monitor_id, r.region, date_trunc('{unit}', r.bucket, 'UTC') AS b, r.checks, \
                  r.failures, r.degraded, r.latency_count, r.latency_sum, r.latency_min, r.latency_max, \
                  r.histogram \
                FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS k(id, region, s, e) \
                CROSS JOIN LATERAL (SELECT * FROM {source} r WHERE r.monitor_id = k.id AND r.region = k.region \
                 AND r.bucket >= coalesce(k.s, '-infinity') AND r.bucket < k.e OFFSET 0) r \
                WHERE coalesce(k.s, '-infinity') < k.e), \
          h AS (SELECT monitor_id, region, b, array_agg((i << 32) | n ORDER BY i) AS histogram \
                FROM (SELECT m.monitor_id, m.region, m.b, e >> 32 AS i, sum(e & 4294967295)::int8 AS n \
                      FROM m, unnest(m.histogram) AS e GROUP BY 1, 2, 3, 4) x GROUP BY 1, 2, 3) \
     INSERT INTO {target} AS r (monitor_id, region, bucket, {COLUMNS}) \
     SELECT m.monitor_id, m.region, m.b, sum(m.checks)::int, sum(m.failures)::int, sum(m.degraded)::int, \
            sum(m.latency_count)::int, sum(m.latency_sum)::int8, min(m.latency_min), max(m.latency_max), \
            coalesce(min(h.histogram), '{{}}') \
     FROM m LEFT JOIN h USING (monitor_id, region, b) GROUP BY 1, 2, 3 \
     ON CONFLICT (monitor_id, region, bucket) DO UPDATE SET {MERGE}"
    )
}

/// Rounding a time down to a rollup level's bucket.
type Round = fn(OffsetDateTime) -> OffsetDateTime;

/// The levels closed from the one below them, in closing order: `(unit, rounding down to it,
/// source table, target table)`.
const LEVELS_ABOVE_MINUTES: [(&str, Round, &str, &str); 3] = [
    ("hour", floor_hour, "check_rollups_minute", "check_rollups_hour"),
    ("day", floor_day, "check_rollups_hour", "check_rollups_day"),
    ("month", floor_month, "check_rollups_day", "check_rollups_month"),
];

/// Adding a row's figures to an existing one (`r`: the stored row, `excluded`: the new).
const MERGE: &str = "checks = r.checks + excluded.checks, failures = r.failures + excluded.failures, \
    degraded = r.degraded + excluded.degraded, latency_count = r.latency_count + excluded.latency_count, \
    latency_sum = r.latency_sum + excluded.latency_sum, latency_min = least(r.latency_min, excluded.latency_min), \
    latency_max = greatest(r.latency_max, excluded.latency_max), \
    histogram = check_rollup_histogram_add(r.histogram, excluded.histogram)";

/// Adds checks stored after their minute was closed to the closed rows: the minute, and the
/// hour (day, month) when that was closed before this batch (one closed by this batch is built
/// from the rows below it, late ones included, so this runs first). Moves the revision of each
/// mark it wrote before.
async fn write_late(
    tx: &Transaction<'_>,
    late: &BTreeMap<(Uuid, &str, OffsetDateTime), Rollup>,
    marks: &BTreeMap<(Uuid, &str), OffsetDateTime>,
) -> Result<(), StoreError> {
    if late.is_empty() {
        return Ok(());
    }
    let levels = std::iter::once(("check_rollups_minute", floor_minute as Round))
        .chain(LEVELS_ABOVE_MINUTES.iter().map(|(_, round, _, target)| (*target, *round)));
    for (table, round) in levels {
        let mut rows = Rows::default();
        let mut merged: BTreeMap<(Uuid, &str, OffsetDateTime), Rollup> = BTreeMap::new();
        for ((id, region, minute), r) in late {
            let mark = marks.get(&(*id, *region)).copied().unwrap_or(*minute);
            // The minute row is closed (the check is late); a coarser one only if its end is
            // at or before the mark.
            if table == "check_rollups_minute" || round(*minute) < round(mark) {
                merged.entry((*id, *region, round(*minute))).or_default().merge(r);
            }
        }
        for ((id, region, bucket), r) in &merged {
            rows.push(*id, region, *bucket, r);
        }
        rows.upsert(tx, table).await?;
    }
    // Rows before these marks changed: readers' cached sums of them are stale (V32).
    let (ids, regions): (Vec<Uuid>, Vec<&str>) = marks.keys().copied().unzip();
    bump_revisions(tx, &ids, &regions).await
}

/// Moves the revision of each `(ids[i], regions[i])` mark (migration V32), inside the
/// transaction that changed rollup rows before it.
async fn bump_revisions(
    tx: &Transaction<'_>,
    ids: &[Uuid],
    regions: &[impl tokio_postgres::types::ToSql + Sync],
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE check_rollup_marks m SET revision = m.revision + 1 \
             FROM unnest($1::uuid[], $2::text[]) AS k(id, region) \
             WHERE m.monitor_id = k.id AND m.region = k.region",
        )
        .await?;
    tx.execute(&stmt, &[&ids, &regions]).await?;
    Ok(())
}

/// Rollup rows to upsert, as column arrays.
#[derive(Default)]
struct Rows {
    ids: Vec<Uuid>,
    regions: Vec<String>,
    buckets: Vec<OffsetDateTime>,
    checks: Vec<i32>,
    failures: Vec<i32>,
    degraded: Vec<i32>,
    latency_count: Vec<i32>,
    latency_sum: Vec<i64>,
    latency_min: Vec<Option<i32>>,
    latency_max: Vec<Option<i32>>,
    histograms: Vec<String>,
}

impl Rows {
    fn push(&mut self, id: Uuid, region: &str, bucket: OffsetDateTime, r: &Rollup) {
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        self.ids.push(id);
        self.regions.push(region.to_string());
        self.buckets.push(bucket);
        self.checks.push(n(r.checks));
        self.failures.push(n(r.failures));
        self.degraded.push(n(r.degraded));
        self.latency_count.push(n(r.latency_count));
        self.latency_sum.push(r.latency_sum);
        self.latency_min.push(r.latency_min);
        self.latency_max.push(r.latency_max);
        // Text, since Postgres arrays of arrays must be rectangular.
        let packed: Vec<String> = r.packed_histogram().iter().map(i64::to_string).collect();
        self.histograms.push(format!("{{{}}}", packed.join(",")));
    }

    async fn upsert(&self, tx: &Transaction<'_>, table: &str) -> Result<(), StoreError> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {table} AS r (monitor_id, region, bucket, {COLUMNS}) \
                 SELECT u.id, u.region, u.bucket, u.checks, u.failures, u.degraded, u.lc, u.ls, u.lmin, u.lmax, \
                        u.hist::int8[] \
                 FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int4[], $5::int4[], $6::int4[], $7::int4[], \
                             $8::int8[], $9::int4[], $10::int4[], $11::text[]) \
                      AS u(id, region, bucket, checks, failures, degraded, lc, ls, lmin, lmax, hist) \
                 ORDER BY 1, 2, 3 \
                 ON CONFLICT (monitor_id, region, bucket) DO UPDATE SET {MERGE}"
            ))
            .await?;
        tx.execute(
            &stmt,
            &[
                &self.ids,
                &self.regions,
                &self.buckets,
                &self.checks,
                &self.failures,
                &self.degraded,
                &self.latency_count,
                &self.latency_sum,
                &self.latency_min,
                &self.latency_max,
                &self.histograms,
            ],
        )
        .await?;
        Ok(())
    }
}
