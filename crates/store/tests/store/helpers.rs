//! Check records and small fixtures for the store tests.

use time::OffsetDateTime;
use upcheck_domain::{CheckOutcome, MonitorStatus, StatusEvent, Thresholds};
use upcheck_store::checks::CheckRecord;
use upcheck_testkit::TestEnv;
use uuid::Uuid;

pub(crate) use upcheck_testkit::fixtures::{count, status, user};

/// Inserts a monitor with a 1 s interval; returns its id.
pub(crate) async fn monitor(env: &TestEnv, owner: Uuid) -> Uuid {
    let spec = upcheck_testkit::fixtures::spec("http://127.0.0.1:1/");
    upcheck_testkit::fixtures::monitor(env, owner, &spec).await;
    spec.monitor_id
}

/// Inserts a webhook channel linked to `monitor`; returns its id.
pub(crate) async fn webhook_channel(env: &TestEnv, owner: Uuid, monitor: Uuid) -> Uuid {
    upcheck_testkit::fixtures::webhook_channel(env, owner, monitor, "http://127.0.0.1:1/hook").await.0
}

pub(crate) fn check(monitor_id: Uuid, due_at_ms: i64, outcome: CheckOutcome) -> CheckRecord {
    CheckRecord {
        monitor_id,
        job_id: format!("{due_at_ms}-0"),
        region: "local".into(),
        due_at_ms,
        checked_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(due_at_ms) * 1_000_000 + 5_000_000)
            .unwrap(),
        outcome,
        latency_ms: Some(3),
        http_status: Some(if outcome == CheckOutcome::Up { 200 } else { 503 }),
        error: (outcome == CheckOutcome::Down).then(|| "expected 2xx, got 503".to_string()),
        thresholds: Thresholds { failure: 2, recovery: 1 },
        trace_parent: None,
        quorum: Default::default(),
        expiring_certificate: None,
        degraded_latency_ms: None,
    }
}

/// A status event of `monitor_id`, not yet in the outbox (no `seq`).
pub(crate) fn event(monitor_id: Uuid, from: MonitorStatus, to: MonitorStatus) -> StatusEvent {
    StatusEvent {
        event_id: Uuid::now_v7(),
        monitor_id,
        from,
        to,
        notify: true,
        occurred_at: OffsetDateTime::now_utc(),
        cause: (to == MonitorStatus::Down).then(|| "connection refused".to_string()),
        seq: None,
        trace_parent: None,
        certificate: None,
        degraded: None,
    }
}

/// Writes `event` to the outbox, as a check batch would; returns it with its `seq`.
pub(crate) async fn outboxed(env: &TestEnv, event: StatusEvent) -> StatusEvent {
    let mut events = [event];
    upcheck_store::events::append(&env.pool, &mut events).await.expect("outbox");
    let [event] = events;
    assert!(event.seq.is_some(), "the outbox numbers every event");
    event
}

/// A database of its own (`upcheck_v<version>_…`) migrated up to `version`: its name, its
/// settings (to migrate the rest) and a pool on it, for the migrations' tests. The caller drops
/// it by name.
pub(crate) async fn database_at(
    env: &TestEnv,
    version: u32,
) -> (String, upcheck_config::DatabaseSettings, upcheck_store::Pool) {
    let name = format!("upcheck_v{version}_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    env.db().await.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let mut settings = env.settings.clone();
    settings.database = settings.database.with_dbname(&name);
    upcheck_store::migrate_until(&settings.database, version).await.unwrap();
    let pool = upcheck_store::connect_pool(&settings.database).unwrap();
    (name, settings.database, pool)
}

/// Inserts monitors `ids` of `owner` at `interval_seconds` with plain SQL, in one statement
/// (named `m`, probing a closed loopback port, no state rows).
pub(crate) async fn insert_monitors(
    db: &tokio_postgres::Client,
    owner: Uuid,
    ids: &[Uuid],
    interval_seconds: i32,
) {
    db.execute(
        "INSERT INTO monitors (id, owner_id, name, url, interval_seconds, timeout_ms) \
         SELECT id, $2, 'm', 'http://127.0.0.1:1/', $3, 1000 FROM unnest($1::uuid[]) id",
        &[&ids, &owner, &interval_seconds],
    )
    .await
    .unwrap();
}

/// Inserts a member and a 60 s monitor named `name` of theirs with plain SQL (the schema of any
/// migration since monitors existed); returns the monitor's id.
pub(crate) async fn owner_and_monitor(db: &tokio_postgres::Client, name: &str) -> uuid::Uuid {
    let (owner, m) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    db.execute(
        "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, 'x', 'member')",
        &[&owner, &format!("{owner}@example.com")],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO monitors (id, owner_id, name, url, interval_seconds, timeout_ms) \
         VALUES ($1, $2, $3, 'http://127.0.0.1:1/', 60, 1000)",
        &[&m, &owner, &name],
    )
    .await
    .unwrap();
    m
}
