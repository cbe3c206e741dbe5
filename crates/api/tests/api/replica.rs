//! `DATABASE_READ_URL`: history and lists are read from the replica, writes, authentication,
//! ownership checks and single-object reads from the primary. The "replica" here is a second
//! database seeded differently, so each answer shows which one served it.

use crate::helpers::spawn_app_with;
use reqwest::Method;
use serde_json::{Value, json};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// Copies the user and monitor rows the primary holds for `monitor` into `replica`, as
/// replication would, so the replica knows the caller and the monitor.
async fn replicate(primary: &TestEnv, replica: &TestEnv, monitor: Uuid) {
    let p = primary.db().await;
    let r = replica.db().await;
    let u = p
        .query_one(
            "SELECT u.id, u.email, u.password_hash, u.role FROM users u JOIN monitors m ON m.owner_id = u.id \
             WHERE m.id = $1",
            &[&monitor],
        )
        .await
        .unwrap();
    let owner: Uuid = u.get(0);
    r.execute(
        "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)",
        &[&owner, &u.get::<_, String>(1), &u.get::<_, String>(2), &u.get::<_, String>(3)],
    )
    .await
    .unwrap();
    for (id, name) in [(monitor, "replicated"), (Uuid::now_v7(), "only on the replica")] {
        r.execute(
            "INSERT INTO monitors (id, owner_id, name, url, interval_seconds, timeout_ms) \
             VALUES ($1, $2, $3, 'http://127.0.0.1:1/', 60, 1000)",
            &[&id, &owner, &name],
        )
        .await
        .unwrap();
        r.execute("INSERT INTO monitor_state (monitor_id, status) VALUES ($1, 'pending')", &[&id])
            .await
            .unwrap();
    }
}

async fn monitors_with(env: &TestEnv, id: Uuid) -> i64 {
    env.db().await.query_one("SELECT count(*) FROM monitors WHERE id = $1", &[&id]).await.unwrap().get(0)
}

#[tokio::test]
async fn reads_that_tolerate_lag_go_to_the_replica_and_writes_to_the_primary() {
    let replica = TestEnv::new().await;
    let replica_settings = replica.settings.database.clone();
    let app = spawn_app_with(|s| s.database_read = Some(replica_settings)).await;
    let token = app.user("reader@example.com").await;

    // A write goes to the primary only.
    let monitor = app.monitor(&token).await;
    let id: Uuid = monitor["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(monitors_with(&app.env, id).await, 1, "the monitor is written to the primary");
    assert_eq!(monitors_with(&replica, id).await, 0, "nothing is written to the replica");

    // The ownership check right after creation reads the primary: the replica does not know the
    // monitor yet, and the history read is still 200 (empty), not 404.
    let r = app.get(&format!("/api/v1/monitors/{id}/incidents"), &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["items"], json!([]));

    // Replication catches up, and the replica holds an incident the primary does not.
    replicate(&app.env, &replica, id).await;
    let incident = Uuid::now_v7();
    replica
        .db()
        .await
        .execute(
            "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_at, cause) \
             VALUES ($1, $2, 'open', $3, now(), 'seen on the replica')",
            &[&incident, &id, &Uuid::now_v7()],
        )
        .await
        .unwrap();

    // History and lists come from the replica.
    for path in [format!("/api/v1/monitors/{id}/incidents"), "/api/v1/incidents".to_string()] {
        let page: Value = app.get(&path, &token).await.json().await.unwrap();
        assert_eq!(page["items"][0]["cause"], "seen on the replica", "{path}: {page}");
    }
    let list: Value = app.get("/api/v1/monitors", &token).await.json().await.unwrap();
    let names: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"only on the replica"), "the list is the replica's: {names:?}");

    // A single object is read from the primary: its name there, and the replica-only monitor
    // does not exist.
    let one: Value = app.get(&format!("/api/v1/monitors/{id}"), &token).await.json().await.unwrap();
    assert_eq!(one["name"], "api");
    let other =
        list["items"].as_array().unwrap().iter().find(|m| m["name"] == "only on the replica").unwrap();
    let r = app.get(&format!("/api/v1/monitors/{}", other["id"].as_str().unwrap()), &token).await;
    assert_eq!(r.status(), 404);
    // So is an incident (its read settles alert timers, a write).
    let r = app.get(&format!("/api/v1/incidents/{incident}"), &token).await;
    assert_eq!(r.status(), 404);

    // Readiness checks both databases.
    let ready: Value =
        app.client.get(format!("{}/readyz", app.address)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["postgres"], "ok");
    assert_eq!(ready["postgres_replica"], "ok");
    drop(replica);
}

#[tokio::test]
async fn readiness_fails_when_the_replica_is_down() {
    let app = spawn_app_with(|s| {
        let mut vars = std::collections::HashMap::from([(
            "DATABASE_URL".to_string(),
            "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
        )]);
        vars.insert("DATABASE_READ_URL".into(), "postgres://postgres@127.0.0.1:1/nothing".into());
        s.database_read = upcheck_config::Settings::from_env_map(vars).unwrap().database_read;
    })
    .await;
    let r = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["postgres"], "ok");
    assert_eq!(body["postgres_replica"], "unavailable");
    // Without a replica there is no replica to report.
    let plain = crate::helpers::spawn_app().await;
    let body: Value = plain.call(Method::GET, "/readyz", None, None).await.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert!(body.get("postgres_replica").is_none(), "{body}");
}
