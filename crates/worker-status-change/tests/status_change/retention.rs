//! The running worker prunes: an old delivered notification, an ended session and an expired
//! minute rollup go within one retention interval, what is recent stays.

use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::{count, user};
use uuid::Uuid;

#[tokio::test]
async fn the_worker_prunes_old_rows_every_interval_and_keeps_recent_ones() {
    let env =
        TestEnv::with_env(&[("RETENTION_INTERVAL_SECONDS", "10"), ("RETENTION_NOTIFICATIONS_DAYS", "30")])
            .await;
    let owner = user(&env).await;
    let spec = upcheck_testkit::fixtures::spec("http://127.0.0.1:1/");
    upcheck_testkit::fixtures::monitor(&env, owner, &spec).await;
    let db = env.db().await;
    let insert = "INSERT INTO notifications (id, event_id, monitor_id, channel_kind, event_type, payload, state, created_at) \
                  VALUES ($1, $2, $3, 'webhook', 'monitor.down', '{}', 'delivered', now() - make_interval(days => $4))";
    let (old, recent) = (Uuid::now_v7(), Uuid::now_v7());
    db.execute(insert, &[&old, &Uuid::now_v7(), &spec.monitor_id, &60_i32]).await.unwrap();
    db.execute(insert, &[&recent, &Uuid::now_v7(), &spec.monitor_id, &5_i32]).await.unwrap();
    let ended = Uuid::now_v7();
    db.execute(
        "INSERT INTO refresh_families (id, user_id, expires_at) VALUES ($1, $2, now() - interval '30 days')",
        &[&ended, &owner],
    )
    .await
    .unwrap();

    // Minute rollups of a closed past (the monitor's mark is a day back): 100 days old goes
    // (RETENTION_ROLLUP_MINUTE_DAYS 90), two days old stays.
    let minute = "INSERT INTO check_rollups_minute (monitor_id, region, bucket, checks, failures, degraded, \
                    latency_count, latency_sum, histogram) \
                  VALUES ($1, 'local', date_trunc('minute', now() - make_interval(days => $2)), 1, 0, 0, 0, 0, '{}')";
    db.execute(minute, &[&spec.monitor_id, &100_i32]).await.unwrap();
    db.execute(minute, &[&spec.monitor_id, &2_i32]).await.unwrap();
    db.execute(
        "INSERT INTO check_rollup_marks (monitor_id, region, closed_until) VALUES ($1, 'local', now() - interval '1 day')",
        &[&spec.monitor_id],
    )
    .await
    .unwrap();
    let minutes = "SELECT count(*) FROM check_rollups_minute WHERE monitor_id = $1";

    let cancel = CancellationToken::new();
    let worker = upcheck_worker_status_change::start(env.settings.clone(), cancel.clone()).await.unwrap();
    let started = Instant::now();
    while count(&env, "SELECT count(*) FROM notifications WHERE id = $1", old).await == 1
        || count(&env, "SELECT count(*) FROM refresh_families WHERE id = $1", ended).await == 1
        || count(&env, minutes, spec.monitor_id).await == 2
    {
        assert!(started.elapsed() < Duration::from_secs(25), "old rows are pruned within an interval");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count(&env, "SELECT count(*) FROM notifications WHERE id = $1", recent).await, 1);
    assert_eq!(count(&env, minutes, spec.monitor_id).await, 1, "the recent minute rollup stays");
    cancel.cancel();
    worker.wait().await;
}
