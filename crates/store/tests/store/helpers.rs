//! Check records and small fixtures for the store tests.

use time::OffsetDateTime;
use upcheck_domain::{CheckOutcome, Thresholds};
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
    }
}
