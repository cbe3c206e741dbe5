//! Reading rollups back: any set of minute-aligned ranges of one monitor, summed per tag, from
//! month, day, hour and minute rows where they are closed and from the raw checks after the mark.

use super::cache::{self, Key, RollupCache};
use super::{Round, TAIL_SKEW, ceil, ceil_month, floor, floor_day, floor_hour, floor_minute, floor_month};
use crate::{Pool, StoreError};
use deadpool_postgres::GenericClient;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use upcheck_domain::maintenance::{Occurrence, merge};
use upcheck_domain::rollup::Rollup;
use uuid::Uuid;

/// A range `[start, end)` to read (whole minutes), summed into `tag`'s total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start, on a minute.
    pub start: OffsetDateTime,
    /// End (exclusive), on a minute.
    pub end: OffsetDateTime,
    /// Which total it adds to.
    pub tag: i32,
}

/// `[start, end)` split into whole UTC calendar months, whole UTC days, whole hours and minutes:
/// `(months, days, hours, minutes)`, each a list of `[start, end)`. `start` and `end` must be on
/// minutes.
pub fn split(start: OffsetDateTime, end: OffsetDateTime) -> [Vec<(OffsetDateTime, OffsetDateTime)>; 4] {
    let rounding: [(Round, Round); 3] =
        [(ceil_month, floor_month), (|t| ceil(t, 86_400), floor_day), (|t| ceil(t, 3_600), floor_hour)];
    let mut out: [Vec<(OffsetDateTime, OffsetDateTime)>; 4] = Default::default();
    if end <= start {
        return out;
    }
    let mut rest = vec![(start, end)];
    for (level, (up, down)) in rounding.into_iter().enumerate() {
        let mut next = Vec::new();
        for (a, b) in rest {
            let (lo, hi) = (up(a), down(b));
            if lo < hi {
                out[level].push((lo, hi));
                next.extend([(a, lo), (hi, b)].into_iter().filter(|(x, y)| x < y));
            } else {
                next.push((a, b));
            }
        }
        rest = next;
    }
    out[3] = rest;
    out
}

#[derive(Default)]
struct Params {
    monitors: Vec<Uuid>,
    regions: Vec<String>,
    starts: Vec<OffsetDateTime>,
    ends: Vec<OffsetDateTime>,
    tags: Vec<i32>,
}

impl Params {
    fn push(&mut self, monitor: Uuid, region: &str, start: OffsetDateTime, end: OffsetDateTime, tag: i32) {
        self.monitors.push(monitor);
        self.regions.push(region.to_string());
        self.starts.push(start);
        self.ends.push(end);
        self.tags.push(tag);
    }
}

/// The rollups of `monitor_id` over `ranges`, summed per tag (tags without checks are absent),
/// with the sums of closed ranges taken from and kept in `cache` when given.
///
/// # Errors
/// [`StoreError::Db`] when a query fails.
pub async fn read(
    client: &impl GenericClient,
    monitor_id: Uuid,
    ranges: &[Range],
    cache: Option<&RollupCache>,
) -> Result<BTreeMap<i32, Rollup>, StoreError> {
    let all: Vec<(Uuid, Range)> = ranges.iter().map(|r| (monitor_id, *r)).collect();
    Ok(read_many(client, &all, cache).await?.into_iter().map(|((_, tag), r)| (tag, r)).collect())
}

/// The rollups of several monitors over their ranges, summed per monitor and tag, in two
/// queries whatever the number of monitors and ranges (the second left out when `cache` holds
/// every closed range and no range reaches past its mark).
///
/// # Errors
/// [`StoreError::Db`] when a query fails.
pub async fn read_many(
    client: &impl GenericClient,
    ranges: &[(Uuid, Range)],
    cache: Option<&RollupCache>,
) -> Result<BTreeMap<(Uuid, i32), Rollup>, StoreError> {
    let mut monitors: Vec<Uuid> = ranges.iter().map(|r| r.0).collect();
    monitors.sort_unstable();
    monitors.dedup();
    let marks_stmt = client
        .prepare_cached(
            "SELECT monitor_id, region, closed_until, revision FROM check_rollup_marks WHERE monitor_id = ANY($1)",
        )
        .await?;
    let mut marks: Marks = BTreeMap::new();
    for r in client.query(&marks_stmt, &[&monitors]).await? {
        marks.entry(r.get(0)).or_default().push(Mark {
            region: r.get(1),
            closed_until: r.get(2),
            revision: r.get(3),
        });
    }
    read_marked(client, ranges, &marks, cache).await
}

/// Makes the rest of the caller's transaction use generic plans (`plan_cache_mode`), for
/// [`read_marked`] on one monitor's ranges. By default Postgres plans that statement afresh on
/// every call: its plan for arrays of unknown length looks costlier than one for the arrays at
/// hand, though both are the same nested loops over the ranges' index scans, with the raw tail's
/// partitions pruned when the executor starts. Planning was about a third of Postgres's CPU
/// under `/stats` load (`perf`); with one plan per connection the API served 24 h windows at
/// 1,851–2,076 instead of 1,427–1,518 requests a second (2 cores, 8 connections;
/// BENCHMARKS.md).
pub const GENERIC_PLANS: &str = "SET LOCAL plan_cache_mode = force_generic_plan";

/// A region's rollup mark (`check_rollup_marks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The region.
    pub region: String,
    /// Its checks before this are in closed rollup rows; from it on they are read raw.
    pub closed_until: OffsetDateTime,
    /// Moves whenever a rollup row before `closed_until` changes (migration V32): the key of
    /// [`RollupCache`]'s sums.
    pub revision: i64,
}

/// Rollup marks per monitor, one per region.
pub type Marks = BTreeMap<Uuid, Vec<Mark>>;

/// [`read_many`] with the monitors' marks read already (a monitor absent from `marks` has
/// none: all its checks are read raw), in one query. Closed rows are read before each region's
/// mark and raw checks from it on, by the marks given: a mark that moves meanwhile (a closing
/// commits between the two reads) neither drops nor doubles a check, as the raw checks stay.
///
/// With `cache`, each closed range (one level's rows of one region) is summed from the cache
/// when it holds that range under the mark's revision, and otherwise read and then kept there;
/// when every range is in the cache and none reaches past its mark, nothing is queried.
///
/// Each range is read by its own index range scan: the tables are joined `LATERAL` to the
/// ranges, in subqueries fenced with `OFFSET 0` so that the planner cannot flatten them into a
/// join. As a plain join, with few monitors in the tables (a self-hoster's three, say) the
/// planner reckoned each range would match a third of a table and hashed the whole table
/// instead, most of all in the generic plan `/stats` uses: 263,529 rows touched for a 24 h
/// window and a 24-step series of three monitors, 145 now (test
/// `a_read_touches_only_its_monitors_rows_in_its_window_however_few_monitors_share_the_tables`).
///
/// # Errors
/// [`StoreError::Db`] when the query fails.
pub async fn read_marked(
    client: &impl GenericClient,
    ranges: &[(Uuid, Range)],
    marks: &Marks,
    cache: Option<&RollupCache>,
) -> Result<BTreeMap<(Uuid, i32), Rollup>, StoreError> {
    let mut out: BTreeMap<(Uuid, i32), Rollup> = BTreeMap::new();
    let mut levels: [Params; 4] = Default::default();
    let mut raw = Params::default();
    // Per range queried, by its position (sent as the ranges' `tag`): the total it adds to and,
    // for a closed range with a cache, its key there.
    let mut queried: Vec<((Uuid, i32), Option<Key>)> = Vec::new();
    let mut hits = 0;
    for (monitor, r) in ranges {
        let mine = marks.get(monitor).map_or(&[][..], Vec::as_slice);
        for m in mine {
            for (level, list) in split(r.start, r.end.min(m.closed_until)).iter().enumerate() {
                for span in list {
                    let key = cache.map(|_| cache::key(*monitor, &m.region, level, *span, m.revision));
                    if let (Some(c), Some(k)) = (cache, &key)
                        && let Some(sum) = c.get(k)
                    {
                        if sum.checks > 0 {
                            out.entry((*monitor, r.tag)).or_default().merge(&sum);
                        }
                        hits += 1;
                        continue;
                    }
                    levels[level].push(*monitor, &m.region, span.0, span.1, queried.len() as i32);
                    queried.push(((*monitor, r.tag), key));
                }
            }
        }
        let raw_start = mine.iter().map(|m| m.closed_until).min().map_or(r.start, |m| m.max(r.start));
        if raw_start < r.end {
            raw.push(*monitor, "", raw_start, r.end, queried.len() as i32);
            queried.push(((*monitor, r.tag), None));
        }
    }
    if cache.is_some() {
        let misses = queried.iter().filter(|q| q.1.is_some()).count();
        metrics::counter!(cache::RANGES, "result" => "hit").increment(hits);
        metrics::counter!(cache::RANGES, "result" => "miss").increment(misses as u64);
    }
    if queried.is_empty() {
        return Ok(out);
    }
    // Parameters: each level's five arrays ($1–$20), the raw tail's four ($21–$24), its due
    // times ($25, $26) and the marks ($27–$29).
    let stmt = client
        .prepare_cached(&format!(
            "{month} UNION ALL {day} UNION ALL {hour} UNION ALL {minute} UNION ALL \
             SELECT q.monitor_id, q.tag, 1, (c.status = 'down')::int, (c.status = 'degraded')::int, \
                    (c.latency_ms IS NOT NULL)::int, coalesce(c.latency_ms, 0)::int8, c.latency_ms, c.latency_ms, \
                    NULL::bytea, NULL::int8[] \
             FROM unnest($21::uuid[], $22::timestamptz[], $23::timestamptz[], $24::int4[]) AS q(monitor_id, s, e, tag) \
             CROSS JOIN LATERAL (SELECT * FROM check_results c WHERE c.monitor_id = q.monitor_id \
               AND c.checked_at >= q.s AND c.checked_at < q.e AND c.due_at >= $25 AND c.due_at < $26 OFFSET 0) c \
             LEFT JOIN unnest($27::uuid[], $28::text[], $29::timestamptz[]) AS k(monitor_id, region, closed_until) \
               ON k.monitor_id = c.monitor_id AND k.region = c.region \
             WHERE c.checked_at >= coalesce(k.closed_until, '-infinity')",
            month = level_query("check_rollups_month", 1),
            day = level_query("check_rollups_day", 6),
            hour = level_query("check_rollups_hour", 11),
            minute = level_query("check_rollups_minute", 16),
        ))
        .await?;
    // The tail's due times are within TAIL_SKEW of its checked_at range: only those partitions.
    let (due_from, due_to) = match (raw.starts.iter().min(), raw.ends.iter().max()) {
        (Some(s), Some(e)) => (*s - TAIL_SKEW, *e + TAIL_SKEW),
        _ => (OffsetDateTime::UNIX_EPOCH, OffsetDateTime::UNIX_EPOCH),
    };
    let (mut mark_monitors, mut mark_regions, mut mark_until) = (Vec::new(), Vec::new(), Vec::new());
    for (monitor, list) in marks {
        for m in list {
            mark_monitors.push(*monitor);
            mark_regions.push(m.region.as_str());
            mark_until.push(m.closed_until);
        }
    }
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::with_capacity(29);
    for l in &levels {
        params.extend([
            &l.monitors as &(dyn tokio_postgres::types::ToSql + Sync),
            &l.regions,
            &l.starts,
            &l.ends,
            &l.tags,
        ]);
    }
    params.extend([
        &raw.monitors as &(dyn tokio_postgres::types::ToSql + Sync),
        &raw.starts,
        &raw.ends,
        &raw.tags,
        &due_from,
        &due_to,
        &mark_monitors,
        &mark_regions,
        &mark_until,
    ]);
    let rows = client.query(&stmt, &params).await?;
    let mut sums: Vec<Rollup> = vec![Rollup::default(); queried.len()];
    for row in rows {
        // The position this query gave the range.
        let Some(sum) = usize::try_from(row.get::<_, i32>(1)).ok().and_then(|i| sums.get_mut(i)) else {
            continue;
        };
        // A rollup row's histogram as bytes or, in rows written before V31, only as `int8[]`
        // (the query sends that only then); a raw check has neither.
        let bytes: Option<&[u8]> = row.get(9);
        let packed: Option<Vec<i64>> = row.get(10);
        if bytes.is_none() && packed.is_none() {
            sum.add(row.get::<_, i32>(3) == 1, row.get::<_, i32>(4) == 1, row.get(7));
            continue;
        }
        // The counts without a histogram, then the stored histogram straight into the sum.
        sum.merge(&Rollup {
            checks: i64::from(row.get::<_, i32>(2)),
            failures: i64::from(row.get::<_, i32>(3)),
            degraded: i64::from(row.get::<_, i32>(4)),
            latency_count: i64::from(row.get::<_, i32>(5)),
            latency_sum: row.get(6),
            latency_min: row.get(7),
            latency_max: row.get(8),
            histogram: Vec::new(),
        });
        if let Some(b) = bytes {
            sum.add_packed_bytes(b);
        } else if let Some(p) = packed {
            sum.add_packed(&p);
        }
    }
    for ((total, key), sum) in queried.into_iter().zip(sums) {
        if sum.checks > 0 {
            out.entry(total).or_default().merge(&sum);
        }
        if let (Some(c), Some(k)) = (cache, key) {
            c.insert(k, sum);
        }
    }
    Ok(out)
}

/// One level's rows over its ranges: parameters `$first..$first+4` (monitors, regions, starts,
/// ends, the ranges' positions in the read).
fn level_query(table: &str, first: usize) -> String {
    format!(
        "SELECT q.monitor_id, q.tag, r.checks, r.failures, r.degraded, r.latency_count, r.latency_sum, \
           r.latency_min, r.latency_max, r.histogram_bytes, \
           CASE WHEN r.histogram_bytes IS NULL THEN r.histogram END \
         FROM unnest(${}::uuid[], ${}::text[], ${}::timestamptz[], ${}::timestamptz[], ${}::int4[]) \
              AS q(monitor_id, region, s, e, tag) \
         CROSS JOIN LATERAL (SELECT * FROM {table} r WHERE r.monitor_id = q.monitor_id AND r.region = q.region \
           AND r.bucket >= q.s AND r.bucket < q.e OFFSET 0) r",
        first,
        first + 1,
        first + 2,
        first + 3,
        first + 4
    )
}

/// A monitor's checks over a window, split by maintenance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowRollup {
    /// Checks outside maintenance windows.
    pub counted: Rollup,
    /// Checks inside maintenance windows (left out of `counted`).
    pub held: Rollup,
}

/// The checks of `monitor_id` over `[from, to)`, widened to the whole minutes it touches, with
/// the minutes a maintenance window touches (`maintenance`, any order) counted apart: at minute
/// granularity, a check is left out when a window covers any part of its minute. Before
/// `minutes_from` (where minute rollups end: `RETENTION_ROLLUP_MINUTE_DAYS`), both are widened
/// to whole hours instead.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a query fails.
pub async fn window(
    pool: &Pool,
    monitor_id: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
    maintenance: &[Occurrence],
    minutes_from: OffsetDateTime,
) -> Result<WindowRollup, StoreError> {
    let client = pool.get().await?;
    let ranges = window_ranges(from, to, maintenance, minutes_from);
    let mut totals = read(&client, monitor_id, &ranges, None).await?;
    Ok(WindowRollup {
        counted: totals.remove(&0).unwrap_or_default(),
        held: totals.remove(&1).unwrap_or_default(),
    })
}

/// `[from, to)` widened to whole minutes (whole hours before `minutes_from`), as ranges tagged
/// 0 (outside maintenance) and 1 (the minutes, or hours, a window touches).
pub fn window_ranges(
    from: OffsetDateTime,
    to: OffsetDateTime,
    maintenance: &[Occurrence],
    minutes_from: OffsetDateTime,
) -> Vec<Range> {
    let down = |t: OffsetDateTime| if t < minutes_from { floor(t, 3_600) } else { floor_minute(t) };
    let up = |t: OffsetDateTime| if t < minutes_from { ceil(t, 3_600) } else { ceil(t, 60) };
    let (start, end) = (down(from), up(to));
    let held = merge(
        maintenance
            .iter()
            .map(|o| Occurrence { starts_at: down(o.starts_at).max(start), ends_at: up(o.ends_at).min(end) })
            .filter(|o| o.starts_at < o.ends_at)
            .collect(),
    );
    let mut out = Vec::with_capacity(2 * held.len() + 1);
    let mut at = start;
    for h in held {
        if at < h.starts_at {
            out.push(Range { start: at, end: h.starts_at, tag: 0 });
        }
        out.push(Range { start: h.starts_at, end: h.ends_at, tag: 1 });
        at = h.ends_at;
    }
    if at < end {
        out.push(Range { start: at, end, tag: 0 });
    }
    out
}

/// The checks of `monitor_id` per `step` from `from` (rounded down to a step, UTC) up to `to`:
/// one entry per step start, steps without checks included (empty). Closed steps are summed
/// from and kept in `cache` when given ([`read_marked`]).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a query fails.
pub async fn series(
    pool: &Pool,
    monitor_id: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
    cache: Option<&RollupCache>,
) -> Result<Vec<(OffsetDateTime, Rollup)>, StoreError> {
    let seconds = step.whole_seconds().max(60);
    let first = floor(from, seconds);
    let mut starts = Vec::new();
    let mut at = first;
    while at < to {
        starts.push(at);
        at += Duration::seconds(seconds);
    }
    let ranges: Vec<Range> = starts
        .iter()
        .enumerate()
        .map(|(i, s)| Range { start: *s, end: *s + Duration::seconds(seconds), tag: i as i32 })
        .collect();
    let client = pool.get().await?;
    let mut totals = read(&client, monitor_id, &ranges, cache).await?;
    Ok(starts
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, totals.remove(&(i as i32)).unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_range_splits_into_whole_days_hours_and_minutes() {
        let [months, days, hours, minutes] =
            split(datetime!(2026-12-01 22:58 UTC), datetime!(2026-12-04 01:03 UTC));
        assert!(months.is_empty());
        assert_eq!(days, vec![(datetime!(2026-12-02 00:00 UTC), datetime!(2026-12-04 00:00 UTC))]);
        assert_eq!(
            hours,
            vec![
                (datetime!(2026-12-01 23:00 UTC), datetime!(2026-12-02 00:00 UTC)),
                (datetime!(2026-12-04 00:00 UTC), datetime!(2026-12-04 01:00 UTC))
            ]
        );
        assert_eq!(
            minutes,
            vec![
                (datetime!(2026-12-01 22:58 UTC), datetime!(2026-12-01 23:00 UTC)),
                (datetime!(2026-12-04 01:00 UTC), datetime!(2026-12-04 01:03 UTC))
            ]
        );
        let [mo, d, h, m] = split(datetime!(2026-12-01 10:05 UTC), datetime!(2026-12-01 10:20 UTC));
        assert!(mo.is_empty() && d.is_empty() && h.is_empty());
        assert_eq!(m, vec![(datetime!(2026-12-01 10:05 UTC), datetime!(2026-12-01 10:20 UTC))]);
    }

    #[test]
    fn a_long_range_takes_whole_calendar_months_then_days_hours_and_minutes() {
        let [months, days, hours, minutes] =
            split(datetime!(2025-12-07 09:35 UTC), datetime!(2026-12-07 09:22 UTC));
        // December 2025 runs to its 31st; February 2026 has 28 days: whole months either way.
        assert_eq!(months, vec![(datetime!(2026-01-01 00:00 UTC), datetime!(2026-12-01 00:00 UTC))]);
        assert_eq!(
            days,
            vec![
                (datetime!(2025-12-08 00:00 UTC), datetime!(2026-01-01 00:00 UTC)),
                (datetime!(2026-12-01 00:00 UTC), datetime!(2026-12-07 00:00 UTC))
            ]
        );
        assert_eq!(
            hours,
            vec![
                (datetime!(2025-12-07 10:00 UTC), datetime!(2025-12-08 00:00 UTC)),
                (datetime!(2026-12-07 00:00 UTC), datetime!(2026-12-07 09:00 UTC))
            ]
        );
        assert_eq!(
            minutes,
            vec![
                (datetime!(2025-12-07 09:35 UTC), datetime!(2025-12-07 10:00 UTC)),
                (datetime!(2026-12-07 09:00 UTC), datetime!(2026-12-07 09:22 UTC))
            ]
        );
        // A range given in another offset is split on UTC months.
        let [months, ..] = split(datetime!(2026-02-01 01:00 +01:00), datetime!(2026-04-01 00:00 UTC));
        assert_eq!(months, vec![(datetime!(2026-02-01 00:00 UTC), datetime!(2026-04-01 00:00 UTC))]);
    }

    #[test]
    fn maintenance_takes_the_whole_minutes_it_touches() {
        let ranges = window_ranges(
            datetime!(2026-12-01 10:00:30 UTC),
            datetime!(2026-12-01 11:00:00 UTC),
            &[Occurrence {
                starts_at: datetime!(2026-12-01 10:10:30 UTC),
                ends_at: datetime!(2026-12-01 10:20:10 UTC),
            }],
            datetime!(2026-11-01 00:00 UTC),
        );
        assert_eq!(
            ranges,
            vec![
                Range {
                    start: datetime!(2026-12-01 10:00 UTC),
                    end: datetime!(2026-12-01 10:10 UTC),
                    tag: 0
                },
                Range {
                    start: datetime!(2026-12-01 10:10 UTC),
                    end: datetime!(2026-12-01 10:21 UTC),
                    tag: 1
                },
                Range {
                    start: datetime!(2026-12-01 10:21 UTC),
                    end: datetime!(2026-12-01 11:00 UTC),
                    tag: 0
                },
            ]
        );
    }
}

#[cfg(test)]
mod widening {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn before_the_minute_retention_windows_take_whole_hours() {
        let ranges = window_ranges(
            datetime!(2026-12-01 10:20 UTC),
            datetime!(2026-12-01 12:30 UTC),
            &[],
            datetime!(2026-12-01 12:00 UTC),
        );
        assert_eq!(
            ranges,
            vec![Range {
                start: datetime!(2026-12-01 10:00 UTC),
                end: datetime!(2026-12-01 12:30 UTC),
                tag: 0
            }]
        );
    }
}
