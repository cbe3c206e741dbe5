//! Rows inserted with plain SQL, so worker and store tests need not go through the API.

use crate::TestEnv;
use std::collections::BTreeMap;
use upcheck_domain::{ExpectedStatus, HttpMethod, MonitorKind, ProbeSpec};
use uuid::Uuid;

/// Inserts a member user; returns its id.
pub async fn user(env: &TestEnv) -> Uuid {
    let id = Uuid::now_v7();
    env.db()
        .await
        .execute(
            "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, 'x', 'member')",
            &[&id, &format!("{id}@example.com")],
        )
        .await
        .expect("insert user");
    id
}

/// A spec for `url` with a 1 s interval, 500 ms timeout and thresholds 2 / 1.
pub fn spec(url: &str) -> ProbeSpec {
    ProbeSpec {
        monitor_id: Uuid::now_v7(),
        kind: MonitorKind::Http,
        url: url.to_string(),
        method: HttpMethod::Get,
        headers: BTreeMap::new(),
        sealed_headers: None,
        body: None,
        interval_seconds: 1,
        timeout_ms: 500,
        expected_status: ExpectedStatus::default_rules(),
        failure_threshold: 2,
        recovery_threshold: 1,
        config: Default::default(),
        owner_id: None,
        regions: Vec::new(),
        min_failed_regions: None,
    }
}

/// Inserts a monitor (and its `pending` state row) owned by `owner` from `spec`.
pub async fn monitor(env: &TestEnv, owner: Uuid, spec: &ProbeSpec) {
    let db = env.db().await;
    db.execute(
        "INSERT INTO monitors (id, owner_id, name, kind, url, method, headers, body, interval_seconds, timeout_ms, \
           expected_status, failure_threshold, recovery_threshold, config, headers_sealed) \
         VALUES ($1, $2, 'test monitor', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &spec.monitor_id,
            &owner,
            &spec.kind.as_str(),
            &spec.url,
            &spec.method.as_str(),
            &serde_json::to_value(&spec.headers).expect("headers"),
            &spec.body,
            &(spec.interval_seconds as i32),
            &(spec.timeout_ms as i32),
            &serde_json::to_value(&spec.expected_status).expect("rules"),
            &(spec.failure_threshold as i16),
            &(spec.recovery_threshold as i16),
            &spec.config.to_json(),
            &spec.sealed_headers.as_ref().map(upcheck_secrets::Sealed::to_json),
        ],
    )
    .await
    .expect("insert monitor");
    db.execute("INSERT INTO monitor_state (monitor_id, status) VALUES ($1, 'pending')", &[&spec.monitor_id])
        .await
        .expect("insert monitor state");
}

/// Inserts a webhook channel to `url` with a fresh secret (its config sealed under the test's
/// `SECRETS_KEY`, as the API stores it), linked to `monitor`; returns `(channel id, secret)`.
pub async fn webhook_channel(env: &TestEnv, owner: Uuid, monitor: Uuid, url: &str) -> (Uuid, String) {
    let id = Uuid::now_v7();
    let secret = upcheck_domain::webhook::generate_secret();
    let config = serde_json::json!({"url": url, "secret": secret});
    let sealed = env.keys().seal_json(&config, &upcheck_secrets::Aad::channel_config(id)).to_json();
    let db = env.db().await;
    db.execute(
        "INSERT INTO channels (id, owner_id, kind, name, config, config_sealed) \
         VALUES ($1, $2, 'webhook', 'hook', '{}', $3)",
        &[&id, &owner, &sealed],
    )
    .await
    .expect("insert channel");
    db.execute("INSERT INTO monitor_channels (monitor_id, channel_id) VALUES ($1, $2)", &[&monitor, &id])
        .await
        .expect("link channel");
    (id, secret)
}

/// Inserts a channel of `kind` (any text, as stored) with `config`, linked to `monitor`;
/// returns its id.
pub async fn channel(
    env: &TestEnv,
    owner: Uuid,
    monitor: Uuid,
    kind: &str,
    config: &serde_json::Value,
) -> Uuid {
    let id = Uuid::now_v7();
    let db = env.db().await;
    db.execute(
        "INSERT INTO channels (id, owner_id, kind, name, config) VALUES ($1, $2, $3, 'alerts', $4)",
        &[&id, &owner, &kind, config],
    )
    .await
    .expect("insert channel");
    db.execute("INSERT INTO monitor_channels (monitor_id, channel_id) VALUES ($1, $2)", &[&monitor, &id])
        .await
        .expect("link channel");
    id
}

/// The first column of the first row of `sql` with one parameter, as i64 (counts).
pub async fn count(env: &TestEnv, sql: &str, id: Uuid) -> i64 {
    env.db().await.query_one(sql, &[&id]).await.expect("count query").get(0)
}

/// A monitor's status in `monitor_state`.
pub async fn status(env: &TestEnv, monitor: Uuid) -> String {
    env.db()
        .await
        .query_one("SELECT status FROM monitor_state WHERE monitor_id = $1", &[&monitor])
        .await
        .expect("monitor state")
        .get(0)
}

/// Links an existing `channel` to `monitor` as well (default alert rules).
pub async fn link(env: &TestEnv, monitor: Uuid, channel: Uuid) {
    env.db()
        .await
        .execute(
            "INSERT INTO monitor_channels (monitor_id, channel_id) VALUES ($1, $2)",
            &[&monitor, &channel],
        )
        .await
        .expect("link channel");
}

/// A `down` event of `monitor` (up → down now, cause "connection refused") written to the
/// outbox and applied, as the status-change worker would; returns what was applied (its
/// incident and notifications).
pub async fn apply_down(env: &TestEnv, monitor: Uuid) -> Vec<upcheck_store::incidents::AppliedEvent> {
    let mut events = [upcheck_domain::StatusEvent {
        event_id: Uuid::now_v7(),
        monitor_id: monitor,
        from: upcheck_domain::MonitorStatus::Up,
        to: upcheck_domain::MonitorStatus::Down,
        notify: true,
        occurred_at: time::OffsetDateTime::now_utc(),
        cause: Some("connection refused".into()),
        seq: None,
        trace_parent: None,
        certificate: None,
        degraded: None,
    }];
    upcheck_store::events::append(&env.pool, &mut events).await.expect("append the event");
    upcheck_store::incidents::apply_status_event(&env.pool, &events[0]).await.expect("apply the event")
}

/// Enqueues one notification job per id on the test's notification stream.
pub async fn enqueue_notifications(env: &TestEnv, ids: &[Uuid]) {
    let jobs: Vec<upcheck_domain::NotificationJob> =
        ids.iter().map(|&notification_id| upcheck_domain::NotificationJob { notification_id }).collect();
    upcheck_streams::Producer::new(env.redis.clone(), 10_000)
        .add_many(&env.settings.streams.notification, &jobs)
        .await
        .expect("enqueue notification jobs");
}
