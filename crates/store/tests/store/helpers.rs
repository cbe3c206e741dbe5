//! Rows inserted with plain SQL, so these tests do not depend on the API's store functions.

use time::OffsetDateTime;
use upcheck_domain::{CheckOutcome, Thresholds};
use upcheck_store::checks::CheckRecord;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

pub(crate) async fn user(env: &TestEnv) -> Uuid {
    let id = Uuid::now_v7();
    env.db()
        .await
        .execute(
            "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, 'x', 'member')",
            &[&id, &format!("{id}@example.com")],
        )
        .await
        .unwrap();
    id
}

pub(crate) async fn monitor(env: &TestEnv, owner: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    env.db()
        .await
        .execute(
            "INSERT INTO monitors (id, owner_id, name, url, interval_seconds, timeout_ms) \
             VALUES ($1, $2, 'api', 'http://127.0.0.1:1/', 1, 500)",
            &[&id, &owner],
        )
        .await
        .unwrap();
    id
}

pub(crate) async fn webhook_channel(env: &TestEnv, owner: Uuid, monitor: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    let db = env.db().await;
    let config = serde_json::json!({"url": "http://127.0.0.1:1/hook", "secret": upcheck_domain::webhook::generate_secret()});
    db.execute(
        "INSERT INTO channels (id, owner_id, kind, name, config) VALUES ($1, $2, 'webhook', 'hook', $3)",
        &[&id, &owner, &config],
    )
    .await
    .unwrap();
    db.execute("INSERT INTO monitor_channels (monitor_id, channel_id) VALUES ($1, $2)", &[&monitor, &id])
        .await
        .unwrap();
    id
}

pub(crate) fn check(monitor_id: Uuid, due_at_ms: i64, outcome: CheckOutcome) -> CheckRecord {
    CheckRecord {
        monitor_id,
        job_id: format!("{due_at_ms}-0"),
        region: "local".into(),
        due_at_ms,
        checked_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(due_at_ms) * 1_000_000 + 5_000_000).unwrap(),
        outcome,
        latency_ms: Some(3),
        http_status: Some(if outcome == CheckOutcome::Up { 200 } else { 503 }),
        error: (outcome == CheckOutcome::Down).then(|| "expected 2xx, got 503".to_string()),
        thresholds: Thresholds { failure: 2, recovery: 1 },
    }
}

pub(crate) async fn count(env: &TestEnv, sql: &str, id: Uuid) -> i64 {
    env.db().await.query_one(sql, &[&id]).await.unwrap().get(0)
}

pub(crate) async fn status(env: &TestEnv, monitor: Uuid) -> String {
    env.db()
        .await
        .query_one("SELECT status FROM monitor_state WHERE monitor_id = $1", &[&monitor])
        .await
        .unwrap()
        .get(0)
}
