//! `check_results` partitioned by due day: partitions made ahead (once, whoever asks), expired
//! ones dropped whole, a check of a day without a partition still stored, redelivery still
//! idempotent, and the migration from the V21 schema keeping every old check readable.

use crate::helpers::*;
use time::{Duration, OffsetDateTime};
use upcheck_domain::CheckOutcome::{Down, Up};
use upcheck_store::checks::record_checks;
use upcheck_store::partitions::{self, Bound, CHECK_RESULTS, day_of};
use upcheck_testkit::TestEnv;

const CHECKS: &str = "SELECT count(*) FROM check_results WHERE monitor_id = $1";

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

async fn names(env: &TestEnv) -> Vec<String> {
    partitions::list(&env.pool, &CHECK_RESULTS).await.unwrap().into_iter().map(|p| p.name).collect()
}

fn daily(day: time::Date) -> String {
    format!("check_results_p{:04}{:02}{:02}", day.year(), u8::from(day.month()), day.day())
}

#[tokio::test]
async fn partitions_are_made_ahead_once_however_many_replicas_ask_at_once() {
    let env = TestEnv::new().await;
    // Past the legacy partition (every day before the day after tomorrow at migration time).
    let now = OffsetDateTime::now_utc() + Duration::days(10);
    let calls = (0..6).map(|_| partitions::maintain(&env.pool, &CHECK_RESULTS, now, 3, 30));
    let results = futures::future::join_all(calls).await;

    let mut created: Vec<String> = results.into_iter().flat_map(|r| r.unwrap().created).collect();
    created.sort();
    let expected: Vec<String> = (0..=3).map(|n| daily(day_of(now) + Duration::days(n))).collect();
    assert_eq!(created, expected, "each day made exactly once among the callers");
    let listed = partitions::list(&env.pool, &CHECK_RESULTS).await.unwrap();
    assert_eq!(listed.len(), 5, "the legacy partition and four days: {listed:?}");
    assert_eq!(listed[0].name, "check_results_legacy");
    assert_eq!(listed[0].from, Bound::Min);
    for p in &listed[1..] {
        let (Bound::At(from), Bound::At(to)) = (p.from, p.to) else { panic!("bounded: {p:?}") };
        assert_eq!(to - from, Duration::days(1));
        // Each day carries its idempotency key and the parent's time index.
        let indexes: i64 = env
            .db()
            .await
            .query_one(
                "SELECT count(*) FROM pg_indexes WHERE tablename = $1 \
                   AND (indexdef LIKE 'CREATE UNIQUE INDEX % (due_at, monitor_id, job_id, region)' \
                        OR indexdef LIKE '%(monitor_id, checked_at DESC) INCLUDE (status, latency_ms)')",
                &[&p.name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(indexes, 2, "{}", p.name);
    }

    let again = partitions::maintain(&env.pool, &CHECK_RESULTS, now, 3, 30).await.unwrap();
    assert!(again.created.is_empty() && again.dropped.is_empty());
}

#[tokio::test]
async fn expired_partitions_are_dropped_whole_and_the_rest_kept() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    let today = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT);
    let days: Vec<_> = (10..15).map(|n| day_of(today + Duration::days(n))).collect();
    partitions::ensure_days(&env.pool, &CHECK_RESULTS, &days).await.unwrap();
    // One check in the legacy partition and one per day, each at noon.
    let mut batch = vec![check(m, 1_000, Up)];
    batch.extend((10..15).map(|n| check(m, ms(today + Duration::days(n) + Duration::hours(12)), Up)));
    record_checks(&env.pool, &batch).await.unwrap();
    assert_eq!(count(&env, CHECKS, m).await, 6);

    // At noon on day 13 with 2 days kept, days 11 and later still hold rows within them.
    let now = today + Duration::days(13) + Duration::hours(12);
    let dropped = partitions::drop_older_than(&env.pool, &CHECK_RESULTS, now, 2).await.unwrap();

    assert_eq!(dropped, vec!["check_results_legacy".to_string(), daily(days[0])]);
    assert_eq!(names(&env).await, days[1..].iter().map(|d| daily(*d)).collect::<Vec<_>>());
    assert_eq!(count(&env, CHECKS, m).await, 4, "the checks of days 11 to 14 are kept");
    let oldest: OffsetDateTime = env
        .db()
        .await
        .query_one("SELECT min(due_at) FROM check_results WHERE monitor_id = $1", &[&m])
        .await
        .unwrap()
        .get(0);
    assert_eq!(oldest, today + Duration::days(11) + Duration::hours(12));
    assert!(partitions::drop_older_than(&env.pool, &CHECK_RESULTS, now, 2).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_check_due_on_a_day_without_a_partition_is_stored_and_applied() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    let due = OffsetDateTime::now_utc() + Duration::days(20);
    let day = daily(day_of(due));
    assert!(!names(&env).await.contains(&day));

    let events = record_checks(&env.pool, &[check(m, ms(due), Up)]).await.unwrap();

    assert_eq!(events.len(), 1, "pending → up, applied as any other check");
    assert_eq!(count(&env, CHECKS, m).await, 1);
    assert!(names(&env).await.contains(&day), "its day was made on demand");
    let stored_in: String = env
        .db()
        .await
        .query_one("SELECT tableoid::regclass::text FROM check_results WHERE monitor_id = $1", &[&m])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored_in, day);
}

#[tokio::test]
async fn redelivered_checks_change_nothing_in_the_daily_partitions() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    let start = OffsetDateTime::now_utc() + Duration::days(5);
    let batch: Vec<_> = (0..4).map(|n| check(m, ms(start + Duration::seconds(n)), Down)).collect();
    let first = record_checks(&env.pool, &batch).await.unwrap();
    assert_eq!(first.len(), 1, "pending → down");

    // The whole batch again, and again concurrently with itself: a redelivery after a crash.
    let again = record_checks(&env.pool, &batch).await.unwrap();
    let (a, b) = tokio::join!(record_checks(&env.pool, &batch), record_checks(&env.pool, &batch));

    assert!(again.is_empty() && a.unwrap().is_empty() && b.unwrap().is_empty());
    assert_eq!(count(&env, CHECKS, m).await, 4);
    assert_eq!(count(&env, "SELECT count(*) FROM status_events WHERE monitor_id = $1", m).await, 1);
    let failures: i32 = env
        .db()
        .await
        .query_one("SELECT consecutive_failures FROM monitor_region_state WHERE monitor_id = $1", &[&m])
        .await
        .unwrap()
        .get(0);
    assert_eq!(failures, 4, "each check counted once");
}

#[tokio::test]
async fn the_migration_from_v21_keeps_every_old_check_readable_and_idempotent() {
    let env = TestEnv::new().await;
    let (name, database, pool) = database_at(&env, 21).await;
    let db = pool.get().await.unwrap();
    let m = owner_and_monitor(&db, "old").await;
    // A day of minutely checks, the last just now, as the V21 schema stored them.
    db.execute(
        "INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms) \
         SELECT $1, g || '-0', 'local', now() - g * interval '1 minute', now() - g * interval '1 minute', \
                CASE WHEN g % 10 = 0 THEN 'down' ELSE 'up' END, 20 \
         FROM generate_series(0, 1439) g",
        &[&m],
    )
    .await
    .unwrap();
    drop(db);

    upcheck_store::migrate(&database).await.unwrap();

    let db = pool.get().await.unwrap();
    let kind: String = db
        .query_one("SELECT relkind::text FROM pg_class WHERE relname = 'check_results'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kind, "p", "check_results is partitioned");
    let parts = partitions::list(&pool, &CHECK_RESULTS).await.unwrap();
    assert_eq!(parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["check_results_legacy"]);
    let Bound::At(cut) = parts[0].to else { panic!("bounded") };
    assert_eq!(cut, OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(2));
    let all: i64 = db.query_one(CHECKS, &[&m]).await.unwrap().get(0);
    assert_eq!(all, 1440);
    let newest = upcheck_store::reads::checks(&pool, m, None, None, None, 5).await.unwrap();
    assert_eq!(newest.len(), 5);
    assert_eq!(newest[0].job_id, "0-0", "the newest old check first");
    let down: i64 = db
        .query_one("SELECT count(*) FROM check_results WHERE monitor_id = $1 AND status = 'down'", &[&m])
        .await
        .unwrap()
        .get(0);
    assert_eq!(down, 144);
    // An old job redelivered after the migration meets its stored copy in the legacy partition.
    let due: OffsetDateTime =
        db.query_one("SELECT due_at FROM check_results WHERE job_id = '7-0'", &[]).await.unwrap().get(0);
    let mut old = check(m, ms(due), Up);
    old.job_id = "7-0".into();
    old.due_at_ms = ms(due);
    let redelivered = record_checks(&pool, &[old]).await.unwrap();
    assert!(redelivered.is_empty());
    let all: i64 = db.query_one(CHECKS, &[&m]).await.unwrap().get(0);
    assert_eq!(all, 1440);
    // And the worker's maintenance adds the days after the legacy partition.
    let made = partitions::maintain(&pool, &CHECK_RESULTS, OffsetDateTime::now_utc(), 3, 30).await.unwrap();
    assert_eq!(made.created.len(), 2, "the day after tomorrow and the next: {made:?}");
    assert!(made.dropped.is_empty());
    drop(db);
    pool.close();
    env.db().await.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
}

#[tokio::test]
async fn a_settled_day_gets_its_indexes_rebuilt_once_and_keeps_its_checks() {
    let env = TestEnv::new().await;
    let m = monitor(&env, user(&env).await).await;
    let today = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT);
    let days: Vec<_> = (10..13).map(|n| day_of(today + Duration::days(n))).collect();
    partitions::ensure_days(&env.pool, &CHECK_RESULTS, &days).await.unwrap();
    let batch: Vec<_> =
        (0..300).map(|s| check(m, ms(today + Duration::days(10) + Duration::seconds(s)), Up)).collect();
    record_checks(&env.pool, &batch).await.unwrap();
    let oids = || async {
        env.db()
            .await
            .query(
                "SELECT indexrelid::int8 FROM pg_index WHERE indrelid = $1::text::regclass ORDER BY 1",
                &[&daily(days[0])],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, i64>(0))
            .collect::<Vec<_>>()
    };
    let before = oids().await;

    // Day 10's partition ends when day 11 begins: settled two hours later.
    let at = today + Duration::days(11) + Duration::hours(1);
    assert_eq!(partitions::compact_settled(&env.pool, &CHECK_RESULTS, at).await.unwrap(), None);
    let at = today + Duration::days(12);
    let first = partitions::compact_settled(&env.pool, &CHECK_RESULTS, at).await.unwrap();
    let second = partitions::compact_settled(&env.pool, &CHECK_RESULTS, at).await.unwrap();

    assert_eq!(first, Some(daily(days[0])), "the legacy partition is left alone");
    assert_eq!(second, None, "a compacted day is not rebuilt again");
    let after = oids().await;
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|o| !before.contains(o)), "both indexes rebuilt: {before:?} → {after:?}");
    assert_eq!(count(&env, CHECKS, m).await, 300);
    // The rebuilt key still makes redelivery idempotent, and the time index still serves reads.
    assert!(record_checks(&env.pool, &batch[..10]).await.unwrap().is_empty());
    assert_eq!(count(&env, CHECKS, m).await, 300);
    let newest = upcheck_store::reads::checks(&env.pool, m, None, None, None, 1).await.unwrap();
    assert_eq!(newest[0].job_id, batch[299].job_id);
}

/// The definition of partition `name`'s idempotency key.
async fn key_of(db: &tokio_postgres::Client, name: &str) -> String {
    db.query_one("SELECT pg_get_indexdef(($1 || '_key')::regclass)", &[&name]).await.unwrap().get(0)
}

#[tokio::test]
async fn the_migration_to_due_time_keys_changes_only_empty_partitions_and_both_keys_stay_idempotent() {
    let env = TestEnv::new().await;
    let (name, database, pool) = database_at(&env, 27).await;
    let db = pool.get().await.unwrap();
    // Two days as the worker made them before: keyed (monitor_id, job_id, region); one has a check.
    let day = day_of(OffsetDateTime::now_utc() + Duration::days(5));
    for d in [day, day + Duration::days(1)] {
        let p = daily(d);
        let from = d.with_time(time::Time::MIDNIGHT).assume_utc();
        db.batch_execute(&format!(
            "CREATE TABLE {p} (LIKE check_results INCLUDING DEFAULTS INCLUDING CONSTRAINTS); \
             CREATE UNIQUE INDEX {p}_key ON {p} (monitor_id, job_id, region); \
             ALTER TABLE check_results ATTACH PARTITION {p} FOR VALUES FROM ('{}') TO ('{}')",
            from,
            from + Duration::days(1)
        ))
        .await
        .unwrap();
    }
    let m = owner_and_monitor(&db, "m").await;
    let first = day.with_time(time::Time::from_hms(12, 0, 0).unwrap()).assume_utc();
    // Stored as the worker of that schema stored it (today's `record_checks` also writes tables
    // of later migrations).
    let stored = check(m, ms(first), Down);
    db.execute(
        "INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms) \
         VALUES ($1, $2, $3, $4, $5, 'down', $6)",
        &[&m, &stored.job_id, &stored.region, &first, &stored.checked_at, &stored.latency_ms],
    )
    .await
    .unwrap();

    upcheck_store::migrate(&database).await.unwrap();

    assert!(key_of(&db, &daily(day)).await.ends_with("(monitor_id, job_id, region)"), "rows: kept");
    assert!(
        key_of(&db, &daily(day + Duration::days(1))).await.ends_with("(due_at, monitor_id, job_id, region)"),
        "empty: rekeyed"
    );
    // Redelivery stays idempotent under either key.
    let second = first + Duration::days(1);
    let batch = [check(m, ms(first), Down), check(m, ms(second), Down)];
    // A failure threshold of 2: counting the stored check again would make this pending → down.
    assert!(record_checks(&pool, &batch).await.unwrap().is_empty(), "only the new check counted");
    assert!(record_checks(&pool, &batch).await.unwrap().is_empty());
    assert_eq!(db.query_one(CHECKS, &[&m]).await.unwrap().get::<_, i64>(0), 2);
    drop(db);
    pool.close();
    env.db().await.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
}
