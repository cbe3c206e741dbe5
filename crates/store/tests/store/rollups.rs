//! Rollups against the raw checks they summarize: written by `record_checks` in any batching
//! and order (late checks included), read back over any window; exact uptime from the status
//! timeline; retention.

use crate::helpers::*;
use time::{Duration, OffsetDateTime};
use upcheck_domain::CheckOutcome;
use upcheck_domain::maintenance::Occurrence;
use upcheck_domain::rollup::{RELATIVE_ERROR, exact_percentile};
use upcheck_store::checks::{CheckRecord, record_checks};
use upcheck_store::rollups::RollupCache;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// 2026-11-30 22:30 UTC: streams cross an hour and a day boundary.
const T0_MS: i64 = 1_796_077_800_000;

fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

/// One generated check: offset from T0 (ms), region, outcome, latency.
type Gen = (i64, u8, u8, Option<i32>);

fn record(monitor: Uuid, (offset, region, kind, latency): Gen, n: usize) -> CheckRecord {
    let mut c = check(monitor, T0_MS + offset, CheckOutcome::Up);
    c.job_id = format!("{n}-0");
    c.region = if region == 0 { "eu".into() } else { "us".into() };
    c.outcome = match kind {
        0 => CheckOutcome::Down,
        1 => CheckOutcome::Degraded,
        _ => CheckOutcome::Up,
    };
    c.checked_at = at(T0_MS + offset);
    c.latency_ms = latency;
    c
}

/// Raw truth over `[from, to)`: (checks, failures, degraded, latencies).
async fn raw(env: &TestEnv, m: Uuid, from: OffsetDateTime, to: OffsetDateTime) -> (i64, i64, i64, Vec<i32>) {
    let db = env.db().await;
    let r = db
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'down'), count(*) FILTER (WHERE status = 'degraded'), \
               coalesce(array_agg(latency_ms) FILTER (WHERE latency_ms IS NOT NULL), '{}') \
             FROM check_results WHERE monitor_id = $1 AND checked_at >= $2 AND checked_at < $3",
            &[&m, &from, &to],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

async fn stream_matches_raw(
    env: &TestEnv,
    owner: Uuid,
    checks: Vec<Gen>,
    batches: Vec<usize>,
    windows: Vec<(i64, i64)>,
) {
    let m = monitor(env, owner).await;
    let records: Vec<CheckRecord> = checks.iter().enumerate().map(|(n, g)| record(m, *g, n)).collect();
    let whole = (at(T0_MS - 60_000), at(T0_MS + 4 * 3_600_000));
    // One API process's rollup cache, kept across the whole stream.
    let cache = RollupCache::new(16 << 20);
    let cached = async |(from, to): (OffsetDateTime, OffsetDateTime)| {
        let read =
            upcheck_store::rollups::window_stats(&env.pool, m, (from, to), to, &[], at(0), cache.as_ref());
        read.await.unwrap().counts
    };
    // Stored in the generated order (not time order: some arrive late), in batches of the
    // generated sizes, each batch once more as a redelivery. After each, a read through the
    // cache gives what Postgres holds: a late check moves its mark's revision.
    let mut i = 0;
    for size in batches.into_iter().chain(std::iter::repeat(7)) {
        if i >= records.len() {
            break;
        }
        let batch = &records[i..(i + size).min(records.len())];
        record_checks(&env.pool, batch).await.unwrap();
        record_checks(&env.pool, batch).await.unwrap();
        i += size;
        let want = upcheck_store::rollups::window(&env.pool, m, whole.0, whole.1, &[], at(0)).await.unwrap();
        assert_eq!(cached(whole).await, want, "a cached read after {i} checks");
        assert_eq!(cached(whole).await, want, "a cached read again after {i} checks");
    }
    for (from, to) in std::iter::once(whole).chain(windows.into_iter().map(|(a, b)| {
        let (a, b) = (a.min(b), a.max(b) + 60_000);
        (at(T0_MS + a), at(T0_MS + b))
    })) {
        let both = upcheck_store::rollups::window(&env.pool, m, from, to, &[], at(0)).await.unwrap();
        let stats = upcheck_store::rollups::window_stats(&env.pool, m, (from, to), to, &[], at(0), None)
            .await
            .unwrap();
        assert_eq!(stats.counts, both, "`/stats`' read");
        // The owner's read (ownership and maintenance in its first round trip) gives the same,
        // through the cache or not; anyone else's gives nothing.
        for c in [None, cache.as_ref(), cache.as_ref()] {
            let owned =
                upcheck_store::rollups::owned_window_stats(&env.pool, owner, m, (from, to), to, at(0), c)
                    .await;
            assert_eq!(owned.unwrap(), Some(stats.clone()), "the owner's `/stats` read");
        }
        let stranger = upcheck_store::rollups::owned_window_stats(
            &env.pool,
            Uuid::now_v7(),
            m,
            (from, to),
            to,
            at(0),
            cache.as_ref(),
        );
        assert_eq!(stranger.await.unwrap(), None, "another user's `/stats` read");
        let got = both.counted;
        // The window covers the whole minutes it touches.
        let (f, t) = (
            upcheck_store::rollups::floor_minute(from),
            upcheck_store::rollups::floor_minute(to - Duration::nanoseconds(1)) + Duration::minutes(1),
        );
        let (checks, failures, degraded, latencies) = raw(env, m, f, t).await;
        assert_eq!((got.checks, got.failures, got.degraded), (checks, failures, degraded), "[{f}, {t})");
        assert_eq!(got.latency_count, latencies.len() as i64);
        assert_eq!(got.latency_sum, latencies.iter().map(|v| i64::from(*v)).sum::<i64>());
        for q in [0.5, 0.95, 0.99] {
            match (got.percentile(q), exact_percentile(&latencies, q)) {
                (Some(g), Some(w)) => {
                    assert!((g - w).abs() <= RELATIVE_ERROR * w.max(1.0), "p{q}: {g} vs {w}")
                }
                (None, None) => {}
                other => panic!("p{q}: {other:?}"),
            }
        }
    }
    // Closing everything (as housekeeping does a day later) keeps the totals and fills the
    // day rows.
    upcheck_store::rollups::prune(&env.pool, 3_650, at(T0_MS) + Duration::days(3)).await.unwrap();
    let all =
        upcheck_store::rollups::window(&env.pool, m, whole.0, whole.1, &[], at(0)).await.unwrap().counted;
    assert_eq!(all.checks, records.len() as i64);
    assert_eq!(cached(whole).await.counted, all, "a cached read once all is closed");
    let days: i64 = env
        .db()
        .await
        .query_one(
            "SELECT coalesce(sum(checks), 0)::int8 FROM check_rollups_day WHERE monitor_id = $1",
            &[&m],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(days, records.len() as i64, "every check is in a day row once");
    // November (the streams start on its last evening) is closed into its month row: a window
    // of whole months reads it, December's days and the raw tail, each check once.
    let november = records.iter().filter(|r| r.checked_at < at(T0_MS + 5_400_000)).count() as i64;
    let months: i64 = env
        .db()
        .await
        .query_one(
            "SELECT coalesce(sum(checks), 0)::int8 FROM check_rollups_month WHERE monitor_id = $1",
            &[&m],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(months, november, "November's checks are in its month row once");
    let quarter = (at(T0_MS) - Duration::days(61), at(T0_MS) + Duration::days(31));
    let read = upcheck_store::rollups::window(&env.pool, m, quarter.0, quarter.1, &[], at(0)).await.unwrap();
    assert_eq!(read.counted.checks, records.len() as i64, "a window of whole months counts every check");
    assert_eq!(read.counted.latency_count, raw(env, m, quarter.0, quarter.1).await.3.len() as i64);

    // Every row's `histogram_bytes` holds its `int8[]` entries, 6 bytes each (V31's trigger,
    // through closing, late checks and the month mend), and rows without them (written before
    // V31) read the same.
    let db = env.db().await;
    let tables = ["check_rollups_minute", "check_rollups_hour", "check_rollups_day", "check_rollups_month"];
    for table in tables {
        let sql = format!("SELECT histogram, histogram_bytes FROM {table} WHERE monitor_id = $1");
        for row in db.query(&sql, &[&m]).await.unwrap() {
            let (packed, bytes): (Vec<i64>, Vec<u8>) = (row.get(0), row.get(1));
            let want: Vec<u8> = packed.iter().flat_map(|e| e.to_be_bytes()[2..].to_vec()).collect();
            assert_eq!(bytes, want, "{table}: {packed:?}");
        }
    }
    let with_bytes =
        upcheck_store::rollups::window(&env.pool, m, quarter.0, quarter.1, &[], at(0)).await.unwrap();
    for table in tables {
        let sql = format!("UPDATE {table} SET histogram_bytes = NULL WHERE monitor_id = $1");
        db.execute(&sql, &[&m]).await.unwrap();
    }
    let without =
        upcheck_store::rollups::window(&env.pool, m, quarter.0, quarter.1, &[], at(0)).await.unwrap();
    assert_eq!(without, with_bytes, "rows without bytes read from their int8[]");
}

#[test]
fn rollups_of_any_check_stream_match_the_raw_checks() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (env, owner) = rt.block_on(async {
        let env = TestEnv::new().await;
        let owner = user(&env).await;
        (env, owner)
    });
    // Checks over 3 hours (across 23:00 and midnight), mostly in time order with some late.
    let check = (
        0i64..3 * 3_600_000,
        0u8..2,
        0u8..6,
        prop_oneof![Just(None), (0i32..400).prop_map(Some), (0i32..60_000).prop_map(Some)],
    );
    let cases = (
        prop::collection::vec(check, 1..150).prop_map(|mut v| {
            // Sort, then swap a few neighbours so some checks arrive after later ones.
            v.sort_by_key(|c| c.0);
            for i in (1..v.len()).step_by(9) {
                v.swap(i - 1, i);
            }
            v
        }),
        prop::collection::vec(1usize..40, 1..10),
        prop::collection::vec((0i64..3 * 3_600_000, 0i64..3 * 3_600_000), 1..4),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&cases, |(checks, batches, windows)| {
            rt.block_on(stream_matches_raw(&env, owner, checks, batches, windows));
            Ok(())
        })
        .unwrap();
    drop(env);
}

#[tokio::test]
async fn a_late_check_is_added_to_its_closed_minute_hour_day_and_month() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let mk = |offset: i64, n: usize| record(m, (offset, 0, 2, Some(10)), n);
    // 22:30:00 and 22:31:00 on 30 November, then the next day: every earlier minute, hour, day
    // and month closes.
    record_checks(&env.pool, &[mk(0, 0), mk(60_000, 1)]).await.unwrap();
    record_checks(&env.pool, &[mk(26 * 3_600_000, 2)]).await.unwrap();
    // Read through an API's rollup cache before and after, over whole minutes, hours and a day
    // (the late check moves no mark, so the same closed ranges are asked for again).
    let cache = RollupCache::new(1 << 20);
    let (from, to) = (at(T0_MS - 30 * 60_000), at(T0_MS + 27 * 3_600_000));
    let cached = async || {
        let read =
            upcheck_store::rollups::window_stats(&env.pool, m, (from, to), to, &[], at(0), cache.as_ref());
        read.await.unwrap().counts.counted.checks
    };
    assert_eq!(cached().await, 3);
    assert!(cache.as_ref().unwrap().entry_count() > 0, "the closed ranges are kept");
    // Late: 22:30:30.
    record_checks(&env.pool, &[mk(30_000, 3)]).await.unwrap();
    assert_eq!(cached().await, 4, "the late check through the cache");

    let db = env.db().await;
    let rows =
        |table: &str| format!("SELECT checks FROM {table} WHERE monitor_id = $1 ORDER BY bucket LIMIT 1");
    for (table, want) in [
        ("check_rollups_minute", 2),
        ("check_rollups_hour", 3),
        ("check_rollups_day", 3),
        ("check_rollups_month", 3),
    ] {
        let got: i32 = db.query_one(&rows(table), &[&m]).await.unwrap().get(0);
        assert_eq!(got, want, "{table}");
    }
}

#[tokio::test]
async fn expired_minute_rollups_are_removed_and_hours_are_kept() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let mk = |offset: i64, n: usize| record(m, (offset, 0, 2, Some(10)), n);
    record_checks(&env.pool, &[mk(0, 0), mk(60_000, 1), mk(2 * 3_600_000, 2)]).await.unwrap();
    let db = env.db().await;
    let count = |table: &'static str| {
        let db = &db;
        async move {
            db.query_one(&format!("SELECT count(*) FROM {table} WHERE monitor_id = $1"), &[&m])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!((count("check_rollups_minute").await, count("check_rollups_hour").await), (2, 1));

    let pruned = upcheck_store::rollups::prune(&env.pool, 2, at(T0_MS) + Duration::days(3)).await.unwrap();

    assert_eq!(pruned.minute_rows_deleted, 3);
    assert_eq!((count("check_rollups_minute").await, count("check_rollups_hour").await), (0, 2));
    let minutes_from = at(T0_MS) + Duration::days(1);
    let all = upcheck_store::rollups::window(
        &env.pool,
        m,
        at(T0_MS),
        at(T0_MS) + Duration::days(1),
        &[],
        minutes_from,
    )
    .await
    .unwrap();
    assert_eq!(all.counted.checks, 3, "hours and the sealed rest still count every check");
}

#[tokio::test]
async fn exact_uptime_follows_status_changes_pauses_and_maintenance() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let base = now - Duration::minutes(100);
    let ms = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    let stored = |t: OffsetDateTime, outcome| {
        let env = &env;
        async move {
            let mut c = check(m, ms(t), outcome);
            c.checked_at = t;
            record_checks(&env.pool, &[c]).await.unwrap()
        }
    };
    // Up at 0; two failures at 10 and 11 (down from 11); up at 30.
    stored(base, CheckOutcome::Up).await;
    stored(base + Duration::minutes(10), CheckOutcome::Down).await;
    stored(base + Duration::minutes(11), CheckOutcome::Down).await;
    stored(base + Duration::minutes(30), CheckOutcome::Up).await;
    // Paused from 40 to 60 (recorded now: shift the pause into place).
    upcheck_store::monitors::set_paused(&env.pool, owner, m, true).await.unwrap();
    upcheck_store::monitors::set_paused(&env.pool, owner, m, false).await.unwrap();
    env.db()
        .await
        .execute(
            "UPDATE monitor_pauses SET paused_at = $2, resumed_at = $3 WHERE monitor_id = $1",
            &[&m, &(base + Duration::minutes(40)), &(base + Duration::minutes(60))],
        )
        .await
        .unwrap();
    // After the resume: pending until up at 65.
    stored(base + Duration::minutes(65), CheckOutcome::Up).await;
    // Maintenance 20..25 (inside the outage).
    let held =
        [Occurrence { starts_at: base + Duration::minutes(20), ends_at: base + Duration::minutes(25) }];

    let u = upcheck_store::rollups::uptime::uptime(&env.pool, m, base, base + Duration::minutes(100), &held)
        .await
        .unwrap();

    // Monitored: 0..40 minus 20..25 (35) + 65..100 (35) = 70 minutes; down: 11..30 minus 20..25 = 14.
    assert_eq!(u.monitored_ms, 70 * 60_000);
    assert_eq!(u.down_ms, 14 * 60_000);
    assert_eq!(u.percent(), Some(80.0));

    // `/stats`' two-query read gives the same figures.
    let end = base + Duration::minutes(100);
    let s = upcheck_store::rollups::window_stats(&env.pool, m, (base, end), end, &held, base, None)
        .await
        .unwrap();
    assert_eq!(s.uptime, u);
    assert_eq!(s.counts, upcheck_store::rollups::window(&env.pool, m, base, end, &held, base).await.unwrap());
    assert_eq!((s.counts.counted.checks, s.counts.counted.failures, s.counts.held.checks), (5, 2, 0));
}

/// `/stats` reads in a transaction of its own, begun in the same round trip as its first
/// statements and ended by a ROLLBACK sent when the read is dropped. Dropped at any point (a
/// client that hangs up mid-request), it must hand its connection back to the pool outside that
/// transaction and without its generic-plan setting: the connection's next user may be a write
/// that would otherwise never commit.
#[tokio::test]
async fn a_stats_read_dropped_at_any_point_leaves_its_connection_outside_its_transaction() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let checks: Vec<CheckRecord> =
        (0..120).map(|n| record(m, (n * 30_000, 0, 2, Some(40)), n as usize)).collect();
    record_checks(&env.pool, &checks).await.unwrap();
    let (from, to) = (at(T0_MS - 3_600_000), at(T0_MS + 3_600_000));
    let mut settings = env.settings.database.clone();
    settings.pool_size = 1;
    let pool = upcheck_store::connect_pool(&settings).unwrap();
    // Its one connection made first: the reads below find it idle.
    drop(pool.get().await.unwrap());
    // Between polls the test waits for the read to be woken (an answer arrived), as an
    // executor would.
    struct Woken(tokio::sync::Notify);
    impl std::task::Wake for Woken {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.notify_one();
        }
    }
    let woken = std::sync::Arc::new(Woken(tokio::sync::Notify::new()));
    let waker = std::task::Waker::from(woken.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    // Dropped after one poll (the first round trip sent), after two, …, until a read finishes.
    let mut dropped_midway = 0;
    for polls in 1.. {
        // Boxed, so that dropping it drops the read (a future pinned in place lives on).
        let mut read =
            Box::pin(upcheck_store::rollups::owned_window_stats(&pool, owner, m, (from, to), to, from, None));
        let mut finished = false;
        for _ in 0..polls {
            if let std::task::Poll::Ready(r) = read.as_mut().poll(&mut cx) {
                assert_eq!(r.unwrap().unwrap().counts.counted.checks, 120);
                finished = true;
                break;
            }
            woken.0.notified().await;
        }
        drop(read);
        let client = pool.get().await.unwrap();
        // The read's transaction is READ ONLY: a connection still inside it reads as such.
        let row = client
            .query_one(
                "SELECT current_setting('transaction_read_only'), current_setting('plan_cache_mode')",
                &[],
            )
            .await
            .unwrap();
        let state: (String, String) = (row.get(0), row.get(1));
        assert_eq!(state, ("off".into(), "auto".into()), "after {polls} polls");
        drop(client);
        if finished {
            break;
        }
        dropped_midway += 1;
    }
    assert!(dropped_midway >= 2, "dropped after the first and the second round trip ({dropped_midway})");
}

#[tokio::test]
async fn checks_far_from_their_due_time_are_counted_though_the_raw_tail_is_read_by_due_time() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let window = || {
        upcheck_store::rollups::window(&env.pool, m, at(T0_MS - 60_000), at(T0_MS + 3_600_000), &[], at(0))
    };
    // On time at 22:30:00 (the mark moves to 22:30).
    record_checks(&env.pool, &[record(m, (0, 0, 2, Some(10)), 0)]).await.unwrap();
    // Checked at 22:30:20, in the raw tail, but due 3 hours before (a job redelivered late).
    let mut late = record(m, (20_000, 0, 2, Some(20)), 1);
    late.due_at_ms -= 3 * 3_600_000;
    record_checks(&env.pool, &[late]).await.unwrap();
    let got = window().await.unwrap().counted;
    assert_eq!((got.checks, got.latency_sum), (2, 30));
    // Checked at 22:31:40 but due 3 hours after (a clock ahead), failed.
    let mut early = record(m, (100_000, 0, 0, Some(30)), 2);
    early.due_at_ms += 3 * 3_600_000;
    record_checks(&env.pool, &[early]).await.unwrap();
    let got = window().await.unwrap().counted;
    assert_eq!((got.checks, got.failures, got.latency_sum), (3, 1, 60));
    // A later on-time check of the same minute is added to the minute closed early.
    record_checks(&env.pool, &[record(m, (110_000, 0, 2, Some(40)), 3)]).await.unwrap();
    let got = window().await.unwrap().counted;
    assert_eq!((got.checks, got.failures, got.latency_sum), (4, 1, 100));
}

/// Inserts a rollup row into `table` (`check_rollups_day`, `check_rollups_month`, …) for
/// `(monitor, region, bucket)`: `(checks, failures, latency_sum)`, every check with a latency
/// of 5 to 7 ms, `histogram` packed ([`upcheck_domain::rollup::pack`]).
async fn rollup_row(
    db: &tokio_postgres::Client,
    table: &str,
    (monitor, region, bucket): (Uuid, &str, OffsetDateTime),
    (checks, failures, latency_sum): (i32, i32, i64),
    histogram: &[i64],
) {
    db.execute(
        &format!(
            "INSERT INTO {table} (monitor_id, region, bucket, checks, failures, degraded, latency_count, \
               latency_sum, latency_min, latency_max, histogram) VALUES ($1, $2, $3, $4, $5, 0, $4, $6, 5, 7, $7)"
        ),
        &[&monitor, &region, &bucket, &checks, &failures, &latency_sum, &histogram],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_month_migration_rolls_up_every_closed_month_from_its_days() {
    use upcheck_domain::rollup::pack;
    let env = TestEnv::new().await;
    let (name, database, pool) = database_at(&env, 29).await;
    let db = pool.get().await.unwrap();
    let m = owner_and_monitor(&db, "old").await;
    let (oct30, oct31) = (at(1_793_318_400_000), at(1_793_404_800_000));
    // Two closed October days in region eu, whose mark is just past October, and one in region
    // us, whose mark is still in October (not closed, so no month row).
    for (region, day, checks, failures, histogram) in [
        ("eu", oct30, 10, 1, vec![pack(5, 10)]),
        ("eu", oct31, 20, 0, vec![pack(5, 5), pack(7, 15)]),
        ("us", oct30, 3, 0, vec![pack(9, 3)]),
    ] {
        rollup_row(
            &db,
            "check_rollups_day",
            (m, region, day),
            (checks, failures, i64::from(checks) * 6),
            &histogram,
        )
        .await;
    }
    db.execute(
        "INSERT INTO check_rollup_marks (monitor_id, region, closed_until) VALUES ($1, 'eu', $2), ($1, 'us', $3)",
        &[&m, &(oct31 + Duration::days(1) + Duration::minutes(5)), &(oct31 + Duration::hours(3))],
    )
    .await
    .unwrap();
    drop(db);

    upcheck_store::migrate(&database).await.unwrap();

    let db = pool.get().await.unwrap();
    let rows = db
        .query(
            "SELECT region, bucket, checks, failures, latency_count, latency_sum, histogram FROM check_rollups_month \
             WHERE monitor_id = $1",
            &[&m],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the closed month of the region past it");
    let r = &rows[0];
    let october = at(1_790_812_800_000);
    assert_eq!((r.get::<_, String>(0), r.get::<_, OffsetDateTime>(1)), ("eu".to_string(), october));
    assert_eq!((r.get::<_, i32>(2), r.get::<_, i32>(3), r.get::<_, i32>(4)), (30, 1, 30));
    assert_eq!(r.get::<_, i64>(5), 180);
    assert_eq!(r.get::<_, Vec<i64>>(6), vec![pack(5, 15), pack(7, 15)], "the days' histograms added");
    drop(db);
    drop(pool);
    env.db().await.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
}

/// Three monitors, each with 30 days of minute and hour rows (closed up to the current minute,
/// the marks) and 6 hours of raw 1 s checks, analyzed (about 196,500 rows): `(monitors, now, mark)`. With so few
/// monitors the planner reckons a monitor's rows as a third of each table, and a join over a
/// whole table looks cheaper than an index range scan per range.
async fn three_monitors_with_history(env: &TestEnv) -> (Vec<Uuid>, OffsetDateTime, OffsetDateTime) {
    use upcheck_store::rollups::{floor_hour, floor_minute};
    let owner = user(env).await;
    let ids = vec![monitor(env, owner).await, monitor(env, owner).await, monitor(env, owner).await];
    let now = OffsetDateTime::now_utc();
    let mark = floor_minute(now);
    let days: Vec<time::Date> = (0..2).map(|d| (now - Duration::days(d)).date()).collect();
    upcheck_store::partitions::ensure_days(&env.pool, &upcheck_store::partitions::CHECK_RESULTS, &days)
        .await
        .unwrap();
    let db = env.db().await;
    // 30 days of minute and hour rows and 6 hours of raw 1 s checks, for each monitor.
    for (table, unit, from, checks) in [
        ("check_rollups_minute", "1 minute", mark - Duration::days(30), 60),
        ("check_rollups_hour", "1 hour", floor_hour(mark) - Duration::days(30), 3_600),
    ] {
        db.execute(
            &format!(
                "INSERT INTO {table} (monitor_id, region, bucket, checks, failures, degraded, latency_count, \
                   latency_sum, latency_min, latency_max, histogram) \
                 SELECT m, 'local', b, $4, 0, 0, $4, $4 * 10, 10, 10, '{{}}' FROM unnest($1::uuid[]) AS m, \
                   generate_series($2::timestamptz, $3::timestamptz - interval '{unit}', interval '{unit}') AS b"
            ),
            &[&ids, &from, &if unit == "1 hour" { floor_hour(mark) } else { mark }, &checks],
        )
        .await
        .unwrap();
    }
    db.execute(
        "INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms) \
         SELECT m, s::text || '-0', 'local', to_timestamp(s), to_timestamp(s), 'up', 10 \
         FROM unnest($1::uuid[]) AS m, generate_series($2::int8, $3::int8) AS s",
        &[&ids, &(now - Duration::hours(6)).unix_timestamp(), &now.unix_timestamp()],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO check_rollup_marks (monitor_id, region, closed_until) SELECT m, 'local', $2 FROM unnest($1::uuid[]) AS m",
        &[&ids, &mark],
    )
    .await
    .unwrap();
    db.batch_execute("ANALYZE check_rollups_minute; ANALYZE check_rollups_hour; ANALYZE check_results")
        .await
        .unwrap();

    (ids, now, mark)
}

/// Rows read so far in `tx`'s transaction from the check and rollup tables (sequential scans'
/// rows and index scans' fetches, `pg_stat_xact_user_tables`).
async fn rows_touched(tx: &impl deadpool_postgres::GenericClient) -> i64 {
    tx.query_one(
        "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::int8 \
         FROM pg_stat_xact_user_tables WHERE relname LIKE 'check_%'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_read_touches_only_its_monitors_rows_in_its_window_however_few_monitors_share_the_tables() {
    use upcheck_store::rollups::read::{read, window_ranges};
    use upcheck_store::rollups::{Range, floor_hour, floor_minute};
    let env = TestEnv::new().await;
    let (ids, now, mark) = three_monitors_with_history(&env).await;
    // A 24 h window, not on hours, and a series of 1 h steps, read with the plans Postgres
    // makes for the values at hand and then with generic plans, as `/stats` reads
    // (`GENERIC_PLANS`), in one transaction whose table statistics count the rows each read
    // touched.
    let from = now - Duration::hours(24) + Duration::minutes(7);
    let ranges = window_ranges(from, now, &[], now - Duration::days(90));
    // The last 24 whole hours before the current one, all closed (`floor_hour(from)` would
    // reach into the current hour when `now` is 53 minutes or more past it).
    let first = floor_hour(now) - Duration::hours(24);
    let steps: Vec<Range> = (0..24)
        .map(|h| Range {
            start: first + Duration::hours(h),
            end: first + Duration::hours(h + 1),
            tag: h as i32,
        })
        .collect();
    let mut client = env.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let mut touched = Vec::new();
    for generic in [false, true] {
        if generic {
            tx.batch_execute(upcheck_store::rollups::read::GENERIC_PLANS).await.unwrap();
        }
        let before = rows_touched(&tx).await;
        let got = read(&tx, ids[1], &ranges, None).await.unwrap();
        let series = read(&tx, ids[1], &steps, None).await.unwrap();
        touched.push(rows_touched(&tx).await - before);
        // The window's checks are all there: 60 a closed minute, then the raw checks since the
        // mark; and each hour's 3,600.
        let closed = 60 * (mark - floor_minute(from)).whole_minutes();
        let tail = raw(&env, ids[1], mark, mark + Duration::minutes(1)).await.0;
        assert_eq!(got[&0].checks, closed + tail);
        assert_eq!(series.len(), 24);
        assert!(series.values().all(|r| r.checks == 3_600), "{series:?}");
    }
    // About 24 hour rows, up to 120 minute rows and the raw tail since the mark (≤ 60), and as
    // many again for the series: not the whole tables (263,529 rows touched by the generic
    // plan of a plain join).
    assert!(
        touched.iter().all(|t| *t < 1_000),
        "the reads touched {touched:?} rows (custom plans, generic plans)"
    );
}

#[tokio::test]
async fn closing_minutes_reads_only_their_checks_however_few_monitors_share_the_tables() {
    let env = TestEnv::new().await;
    let (ids, now, mark) = three_monitors_with_history(&env).await;
    let mut client = env.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let mut touched = Vec::new();
    // Each monitor's next check two minutes on, then two minutes later: each closes the minutes
    // from its region's mark up to its own from their raw checks (and the hour, when one ends
    // between). The first with the plans Postgres makes for the values at hand, the second with
    // generic plans, which Postgres may choose after five executions.
    for (step, generic) in [(1, false), (2, true)] {
        if generic {
            tx.batch_execute(upcheck_store::rollups::read::GENERIC_PLANS).await.unwrap();
        }
        let next = now + Duration::minutes(2 * step);
        let checks: Vec<CheckRecord> =
            ids.iter().map(|m| check(*m, upcheck_domain::clock::unix_ms(next), CheckOutcome::Up)).collect();
        let before = rows_touched(&tx).await;
        upcheck_store::rollups::record(&tx, &checks.iter().collect::<Vec<_>>()).await.unwrap();
        touched.push(rows_touched(&tx).await - before);
    }
    let closed: i32 = tx
        .query_one(
            "SELECT checks FROM check_rollups_minute WHERE monitor_id = $1 AND region = 'local' AND bucket = $2",
            &[&ids[0], &mark],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(i64::from(closed), raw(&env, ids[0], mark, mark + Duration::minutes(1)).await.0);
    // The closed minutes' raw checks (at most 60 a monitor), up to 60 minute rows a monitor for
    // an hour, and the marks: not the 65,000 raw checks of the three monitors.
    assert!(
        touched.iter().all(|t| *t < 1_000),
        "closing touched {touched:?} rows (custom plans, generic plans)"
    );
}

#[tokio::test]
async fn a_month_an_older_worker_closed_without_its_row_is_rebuilt_from_its_days() {
    use upcheck_domain::rollup::pack;
    use upcheck_store::rollups::floor_minute;
    use upcheck_store::rollups::prune::mend_months;
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    // Without a month row (a worker older than V30 moved the mark into November), with a row a
    // late check made of itself alone, and with the row the closing wrote.
    let (missing, partial, closed) =
        (monitor(&env, owner).await, monitor(&env, owner).await, monitor(&env, owner).await);
    let (oct30, oct31, october) = (at(1_793_318_400_000), at(1_793_404_800_000), at(1_790_812_800_000));
    let now = oct31 + Duration::days(2) + Duration::hours(3);
    let db = env.db().await;
    for m in [missing, partial, closed] {
        for (day, checks, failures, histogram) in
            [(oct30, 10, 1, vec![pack(5, 10)]), (oct31, 20, 0, vec![pack(5, 5), pack(7, 15)])]
        {
            let figures = (checks, failures, i64::from(checks) * 6);
            rollup_row(&db, "check_rollups_day", (m, "eu", day), figures, &histogram).await;
        }
        db.execute(
            "INSERT INTO check_rollup_marks (monitor_id, region, closed_until) VALUES ($1, 'eu', $2)",
            &[&m, &floor_minute(now)],
        )
        .await
        .unwrap();
    }
    for (m, figures, histogram) in
        [(partial, (1, 0, 7), vec![pack(7, 1)]), (closed, (30, 1, 180), vec![pack(5, 15), pack(7, 15)])]
    {
        rollup_row(&db, "check_rollups_month", (m, "eu", october), figures, &histogram).await;
    }
    let month_of = async |m: Uuid| {
        db.query(
            "SELECT checks, failures, latency_sum, histogram FROM check_rollups_month WHERE monitor_id = $1",
            &[&m],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i32>(0), r.get::<_, i32>(1), r.get::<_, i64>(2), r.get::<_, Vec<i64>>(3)))
        .collect::<Vec<_>>()
    };
    let whole = vec![(30, 1, 180, vec![pack(5, 15), pack(7, 15)])];
    // October read through an API's rollup cache, before and after the mend: the mend moves
    // the marks' revisions, so the cache does not keep the month rows it replaced.
    let cache = RollupCache::new(1 << 20);
    let november = october + Duration::days(31);
    let october_checks = async |m: Uuid| {
        let read = upcheck_store::rollups::window_stats(
            &env.pool,
            m,
            (october, november),
            november,
            &[],
            at(0),
            cache.as_ref(),
        );
        read.await.unwrap().counts.counted.checks
    };
    assert_eq!(october_checks(partial).await, 1, "before the mend: the late check's row");

    assert_eq!(mend_months(&env.pool, now).await.unwrap(), 2);
    for m in [missing, partial, closed] {
        assert_eq!(month_of(m).await, whole, "October of {m} as its days sum");
        assert_eq!(october_checks(m).await, 30, "October of {m} through the cache");
    }
    // Once mended, nothing is rebuilt again and nothing counted twice.
    assert_eq!(mend_months(&env.pool, now).await.unwrap(), 0);
    assert_eq!(month_of(missing).await, whole);
    // Pairs whose mark is still in the month are not closed: nothing to mend.
    db.execute("DELETE FROM check_rollups_month WHERE monitor_id = $1", &[&missing]).await.unwrap();
    db.execute(
        "UPDATE check_rollup_marks SET closed_until = $2 WHERE monitor_id = $1",
        &[&missing, &(oct31 + Duration::hours(5))],
    )
    .await
    .unwrap();
    assert_eq!(mend_months(&env.pool, now).await.unwrap(), 0);
    assert!(month_of(missing).await.is_empty());
}
