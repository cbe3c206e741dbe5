//! Retention: old rows go, rows still needed and recent rows stay, and every `DELETE` is
//! bounded by the batch size.

use crate::helpers::{monitor, user};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use upcheck_store::retention::{self, Pace, Pruned};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

fn pace(batch: i64) -> Pace {
    Pace { batch, pause: StdDuration::from_millis(1) }
}

fn days_ago(n: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::days(n)
}

/// A status event of `monitor` that occurred `age` days ago, published and applied unless
/// `settled` is false; `notice` makes it a certificate notice. Events are numbered (`seq`) in
/// the order they are inserted.
async fn event(
    env: &TestEnv,
    monitor: Uuid,
    from: &str,
    to: &str,
    age: i64,
    settled: bool,
    notice: bool,
) -> Uuid {
    let id = Uuid::now_v7();
    let at = days_ago(age);
    let done = settled.then_some(at);
    let certificate = notice.then(|| serde_json::json!({"fingerprint": "ab"}));
    env.db()
        .await
        .execute(
            "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, occurred_at, created_at, \
               published_at, applied_at, certificate) VALUES ($1, $2, $3, $4, true, $5, $5, $6, $6, $7)",
            &[&id, &monitor, &from, &to, &at, &done, &certificate],
        )
        .await
        .unwrap();
    id
}

async fn exists(env: &TestEnv, table: &str, id: Uuid) -> bool {
    let sql = format!("SELECT count(*) FROM {table} WHERE id = $1");
    env.db().await.query_one(&sql, &[&id]).await.unwrap().get::<_, i64>(0) == 1
}

async fn open_incident(env: &TestEnv, monitor: Uuid, opened_event: Uuid, age: i64) -> Uuid {
    let id = Uuid::now_v7();
    env.db()
        .await
        .execute(
            "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_at) VALUES ($1, $2, 'open', $3, $4)",
            &[&id, &monitor, &opened_event, &days_ago(age)],
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn old_status_events_go_but_those_still_needed_stay() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (a, b, c) = (monitor(&env, owner).await, monitor(&env, owner).await, monitor(&env, owner).await);
    // Inserted in the order they happened, as the outbox numbers them.
    // Monitor c: an old change held by a maintenance window, then a newer old change.
    let c_held = event(&env, c, "up", "down", 700, true, false).await;
    env.db()
        .await
        .execute(
            "INSERT INTO maintenance_held (monitor_id, event_id, held_at) VALUES ($1, $2, now())",
            &[&c, &c_held],
        )
        .await
        .unwrap();
    let c_latest_old = event(&env, c, "down", "up", 690, true, false).await;
    // Monitor b: an old change, an old event not yet published, and an open incident's events.
    let b_first = event(&env, b, "pending", "up", 600, true, false).await;
    let b_unpublished = event(&env, b, "up", "down", 590, false, false).await;
    let b_opened = event(&env, b, "up", "down", 580, true, false).await;
    let incident = open_incident(&env, b, b_opened, 580).await;
    let b_joined = event(&env, b, "down", "down", 570, true, false).await;
    env.db()
        .await
        .execute("UPDATE status_events SET incident_id = $1 WHERE id = $2", &[&incident, &b_joined])
        .await
        .unwrap();
    let b_latest_old = event(&env, b, "down", "up", 560, true, false).await;
    // Monitor a: two old changes, an old certificate notice, a recent change.
    let a_first = event(&env, a, "pending", "down", 500, true, false).await;
    let a_latest_old = event(&env, a, "down", "up", 450, true, false).await;
    let a_notice = event(&env, a, "up", "up", 420, true, true).await;
    let a_recent = event(&env, a, "up", "down", 10, true, false).await;

    let pruned = retention::status_events(&env.db().await, days_ago(400), pace(3)).await.unwrap();

    for gone in [a_first, a_notice, b_first] {
        assert!(!exists(&env, "status_events", gone).await, "{gone} should be pruned");
    }
    for kept in
        [a_latest_old, a_recent, b_unpublished, b_opened, b_joined, b_latest_old, c_held, c_latest_old]
    {
        assert!(exists(&env, "status_events", kept).await, "{kept} is still needed");
    }
    assert_eq!(pruned.deleted, 3);
    // 11 events, 3 per statement: the fourth window reaches the recent event and ends the walk.
    assert_eq!(pruned.batches, 4, "{pruned:?}");
    // A second run finds nothing more.
    let again = retention::status_events(&env.db().await, days_ago(400), pace(3)).await.unwrap();
    assert_eq!(again.deleted, 0);
}

async fn notification(env: &TestEnv, monitor: Uuid, state: &str, age: i64) -> Uuid {
    let id = Uuid::now_v7();
    let db = env.db().await;
    db.execute(
        "INSERT INTO notifications (id, event_id, monitor_id, channel_kind, event_type, payload, state, created_at) \
         VALUES ($1, $2, $3, 'webhook', 'monitor.down', '{}', $4, $5)",
        &[&id, &Uuid::now_v7(), &monitor, &state, &days_ago(age)],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO notification_attempts (notification_id, attempt, attempted_at) VALUES ($1, 1, $2)",
        &[&id, &days_ago(age)],
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn settled_old_notifications_go_with_their_attempts_and_the_rest_stay() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (m, open) = (monitor(&env, owner).await, monitor(&env, owner).await);
    let delivered = notification(&env, m, "delivered", 100).await;
    let failed = notification(&env, m, "failed", 100).await;
    let pending = notification(&env, m, "pending", 100).await;
    let dead = notification(&env, m, "dead", 100).await;
    let recent = notification(&env, m, "delivered", 10).await;
    // An incident open for 200 days: its notifications stay, older ones go.
    let opened = event(&env, open, "up", "down", 200, true, false).await;
    open_incident(&env, open, opened, 200).await;
    let before_incident = notification(&env, open, "delivered", 300).await;
    let during_incident = notification(&env, open, "delivered", 150).await;

    let pruned = retention::notifications(&env.db().await, days_ago(90), pace(100)).await.unwrap();

    for gone in [delivered, failed, before_incident] {
        assert!(!exists(&env, "notifications", gone).await, "{gone} should be pruned");
    }
    for kept in [pending, dead, recent, during_incident] {
        assert!(exists(&env, "notifications", kept).await, "{kept} must stay");
    }
    assert_eq!(pruned, Pruned { deleted: 3, batches: 1 });
    let attempts: i64 = env
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM notification_attempts WHERE notification_id = ANY($1)",
            &[&vec![delivered, failed, before_incident]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 0, "attempts go with their notification");
}

#[tokio::test]
async fn a_backlog_is_deleted_in_bounded_batches() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    for _ in 0..25 {
        notification(&env, m, "delivered", 200).await;
    }
    let kept = notification(&env, m, "delivered", 1).await;
    let pruned = retention::notifications(&env.db().await, days_ago(90), pace(10)).await.unwrap();
    // 10 + 10 + 5: no statement deletes more than the batch.
    assert_eq!(pruned, Pruned { deleted: 25, batches: 3 });
    assert!(exists(&env, "notifications", kept).await);
}

async fn family(
    env: &TestEnv,
    owner: Uuid,
    expires_in: i64,
    revoked_ago: Option<i64>,
    tokens: usize,
) -> Uuid {
    let id = Uuid::now_v7();
    let db = env.db().await;
    let expires = OffsetDateTime::now_utc() + Duration::days(expires_in);
    let revoked = revoked_ago.map(days_ago);
    db.execute(
        "INSERT INTO refresh_families (id, user_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)",
        &[&id, &owner, &expires, &revoked],
    )
    .await
    .unwrap();
    for n in 0..tokens {
        let hash = Uuid::now_v7().as_bytes().to_vec();
        let spent = (n + 1 < tokens).then(OffsetDateTime::now_utc);
        db.execute(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, spent_at) VALUES ($1, $2, $3, $4, $5)",
            &[&hash, &owner, &id, &expires, &spent],
        )
        .await
        .unwrap();
    }
    id
}

async fn tokens_of(env: &TestEnv, family: Uuid) -> i64 {
    env.db()
        .await
        .query_one("SELECT count(*) FROM refresh_tokens WHERE family_id = $1", &[&family])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn ended_sessions_go_with_their_tokens_and_live_ones_keep_their_spent_tokens() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let expired = family(&env, owner, -30, None, 25).await;
    let revoked_long_ago = family(&env, owner, 20, Some(10), 2).await;
    let revoked_lately = family(&env, owner, 20, Some(2), 2).await;
    let live = family(&env, owner, 20, None, 4).await;

    let (tokens, sessions) = retention::sessions(&env.db().await, days_ago(7), pace(10)).await.unwrap();

    assert_eq!(tokens.deleted, 27);
    assert_eq!(tokens.batches, 3, "27 tokens, 10 per statement");
    assert_eq!(sessions.deleted, 2);
    for gone in [expired, revoked_long_ago] {
        assert!(!exists(&env, "refresh_families", gone).await);
        assert_eq!(tokens_of(&env, gone).await, 0);
    }
    assert!(exists(&env, "refresh_families", revoked_lately).await);
    assert_eq!(tokens_of(&env, revoked_lately).await, 2);
    assert_eq!(tokens_of(&env, live).await, 4, "a live session's spent tokens catch a replay");
}

#[tokio::test]
async fn one_process_prunes_at_a_time_and_a_zero_retention_keeps_everything() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let old = notification(&env, m, "delivered", 200).await;
    let settings = upcheck_config::HousekeepingSettings { notifications_days: 90, ..Default::default() };

    let holder = env.db().await;
    holder.execute("SELECT pg_advisory_lock($1)", &[&0x7570_6368_6563_6b02_i64]).await.unwrap();
    let skipped = retention::prune_all(&env.pool, OffsetDateTime::now_utc(), &settings).await.unwrap();
    assert_eq!(skipped, None, "another process holds the lock");
    assert!(exists(&env, "notifications", old).await);

    holder.execute("SELECT pg_advisory_unlock($1)", &[&0x7570_6368_6563_6b02_i64]).await.unwrap();
    let keep = upcheck_config::HousekeepingSettings { notifications_days: 0, ..settings };
    let report = retention::prune_all(&env.pool, OffsetDateTime::now_utc(), &keep).await.unwrap().unwrap();
    assert_eq!(report.notifications, Pruned::default());
    assert!(exists(&env, "notifications", old).await, "0 days keeps them");

    let report =
        retention::prune_all(&env.pool, OffsetDateTime::now_utc(), &settings).await.unwrap().unwrap();
    assert_eq!(report.notifications.deleted, 1);
    assert!(!exists(&env, "notifications", old).await);
}
