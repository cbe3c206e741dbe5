//! Monitors as the API lists them: each with its regions' state and its channel links.

use crate::helpers::*;
use time::{Duration, OffsetDateTime};
use upcheck_domain::{CheckOutcome, MonitorStatus};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// Inserts `n` monitors of `owner` with their `monitor_state` rows, all up but the one at index
/// `down`; returns their ids in order.
async fn monitors(env: &TestEnv, owner: Uuid, n: usize, down: Option<usize>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    ids.sort();
    let db = env.db().await;
    insert_monitors(&db, owner, &ids, 60).await;
    let down = down.map(|i| ids[i]);
    db.execute(
        "INSERT INTO monitor_state (monitor_id, status) \
         SELECT id, CASE WHEN id = $2 THEN 'down' ELSE 'up' END FROM unnest($1::uuid[]) id",
        &[&ids, &down],
    )
    .await
    .unwrap();
    ids
}

/// Inserts one region row for each of `ids`: `region`, checked at `at` (never when `None`) with
/// `outcome`.
async fn region_rows(env: &TestEnv, ids: &[Uuid], region: &str, at: Option<OffsetDateTime>, outcome: &str) {
    env.db()
        .await
        .execute(
            "INSERT INTO monitor_region_state (monitor_id, region, status, last_checked_at, last_outcome, last_error) \
             SELECT id, $2, 'up', $3, $4, CASE WHEN $4 = 'down' THEN 'refused' END FROM unnest($1::uuid[]) id",
            &[&ids, &region, &at, &outcome],
        )
        .await
        .unwrap();
}

/// Inserts a webhook channel of `owner` linked to each of `ids` with the default rules and
/// a 5-minute reminder; returns its id.
async fn linked_channel(env: &TestEnv, owner: Uuid, ids: &[Uuid]) -> Uuid {
    let channel = Uuid::now_v7();
    let db = env.db().await;
    db.execute(
        "INSERT INTO channels (id, owner_id, kind, name, config) VALUES ($1, $2, 'webhook', 'c', '{}')",
        &[&channel, &owner],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO monitor_channels (monitor_id, channel_id, reminder_minutes) \
         SELECT id, $2, 5 FROM unnest($1::uuid[]) id",
        &[&ids, &channel],
    )
    .await
    .unwrap();
    channel
}

/// Rows read so far from the tables a page of monitors adds to the monitors' own rows, as the
/// database counts them, with the counts of the backend of `pool` (one connection) made
/// visible at once (`pg_stat_force_next_flush`) instead of within `PGSTAT_MIN_INTERVAL`. The
/// test's set-up only inserts into these tables (its constraint checks read `monitors` and
/// `channels`), so another backend flushing late adds nothing.
async fn rows_read(pool: &upcheck_store::Pool) -> i64 {
    let db = pool.get().await.unwrap();
    db.batch_execute("SET stats_fetch_consistency = none; SELECT pg_stat_force_next_flush()").await.unwrap();
    db.query_one(
        "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::int8 \
         FROM pg_stat_user_tables \
         WHERE relname IN ('monitor_state', 'monitor_flapping', 'monitor_region_state', 'monitor_channels')",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_page_of_monitors_shows_each_ones_regions_and_links_and_reads_no_table_once_per_monitor() {
    let env = TestEnv::new().await;
    let (owner, other) = (user(&env).await, user(&env).await);
    // 40 monitors, each in two regions (the later check is `us`'s, degraded) and linked to two
    // channels; the first also has a region that never checked. 10 of someone else's share the
    // tables: small tables, as most installations have, which Postgres scans whole rather than
    // through an index.
    let mine = monitors(&env, owner, 40, Some(5)).await;
    let theirs = monitors(&env, other, 10, None).await;
    let now = upcheck_store::rollups::floor_minute(OffsetDateTime::now_utc());
    region_rows(&env, &mine, "eu", Some(now - Duration::minutes(1)), "down").await;
    region_rows(&env, &mine, "us", Some(now), "degraded").await;
    region_rows(&env, &mine[..1], "ap", None, "up").await;
    region_rows(&env, &theirs, "eu", Some(now), "up").await;
    let mut channels =
        vec![linked_channel(&env, owner, &mine).await, linked_channel(&env, owner, &mine).await];
    channels.sort();
    linked_channel(&env, other, &theirs).await;
    env.db()
        .await
        .execute(
            "INSERT INTO monitor_flapping (monitor_id, episode_id, since, last_change_at, changes, window_seconds, threshold) \
             VALUES ($1, $1, now(), now(), 6, 600, 5)",
            &[&mine[3]],
        )
        .await
        .unwrap();
    // Statistics, as autovacuum keeps them.
    env.db()
        .await
        .batch_execute(
            "ANALYZE monitors, monitor_state, monitor_flapping, monitor_region_state, monitor_channels",
        )
        .await
        .unwrap();

    let mut settings = env.settings.database.clone();
    settings.pool_size = 1;
    let pool = upcheck_store::connect_pool(&settings).unwrap();
    let before = rows_read(&pool).await;
    let page = upcheck_store::monitors::list(&pool, owner, None, 50).await.unwrap();
    let read = rows_read(&pool).await - before;

    assert_eq!(page.iter().map(|m| m.spec.monitor_id).collect::<Vec<_>>(), mine, "the owner's, in id order");
    for (i, m) in page.iter().enumerate() {
        let names: Vec<&str> = m.regions.iter().map(|r| r.region.as_str()).collect();
        assert_eq!(names, if i == 0 { vec!["ap", "eu", "us"] } else { vec!["eu", "us"] }, "regions by name");
        assert_eq!(m.last_checked_at, Some(now), "the latest check of any region");
        assert_eq!(m.last_outcome, Some(CheckOutcome::Degraded), "the latest check's outcome");
        let eu = m.regions.iter().find(|r| r.region == "eu").unwrap();
        assert_eq!(
            (eu.last_checked_at, eu.error.as_deref()),
            (Some(now - Duration::minutes(1)), Some("refused"))
        );
        assert_eq!(m.channel_ids, channels, "its links, by channel id");
        assert_eq!(m.channels.iter().map(|c| c.channel_id).collect::<Vec<_>>(), channels);
        assert!(m.channels.iter().all(|c| c.reminder_minutes == Some(5) && c.delay_minutes == 0));
        assert_eq!(m.flapping, i == 3, "only the fourth flaps");
        let status = if i == 5 { MonitorStatus::Down } else { MonitorStatus::Up };
        assert_eq!(m.status, status, "each its own status");
    }
    // The four tables hold 50 + 1 + 91 + 90 rows; a page's are read in one pass at most, not
    // once per monitor (the subqueries per monitor and column read 18,173 here).
    let rows: i64 = 50 + 1 + 91 + 90;
    assert!(read <= rows, "listing 40 monitors read {read} rows of their tables, which hold {rows}");
    // At least the page's own rows of the three tables read from the heap (the flapping row
    // may come from its key alone).
    assert!(read >= 40 + 81 + 80, "the counts are seen: {read} rows read");
    // The same with the generic plans a connection settles on after five executions.
    pool.get().await.unwrap().batch_execute("SET plan_cache_mode = force_generic_plan").await.unwrap();
    let before = rows_read(&pool).await;
    let again = upcheck_store::monitors::list(&pool, owner, None, 50).await.unwrap();
    let read = rows_read(&pool).await - before;
    assert_eq!(again, page, "the same page");
    assert!(
        read <= rows,
        "with generic plans, listing 40 monitors read {read} rows of their tables ({rows})"
    );
    pool.close();
}
