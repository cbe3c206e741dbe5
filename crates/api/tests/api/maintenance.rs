//! Maintenance windows through the REST API: validation by field, ownership, `active` and the
//! next occurrence, PATCH and DELETE, the monitor's `flapping` flag.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

const PATH: &str = "/api/v1/maintenance-windows";

async fn post(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(Method::POST, PATH, Some(token), Some(body)).await
}

#[tokio::test]
async fn each_bad_field_is_a_422_naming_it() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    let recurring = json!({"name": "nightly", "monitor_ids": [m], "rrule": "FREQ=DAILY",
        "dtstart": "2026-03-01T02:00:00", "duration_minutes": 60, "timezone": "Europe/Berlin"});
    let with = |field: &str, value: Value| {
        let mut b = recurring.clone();
        b[field] = value;
        b
    };
    let cases = [
        ("rrule", with("rrule", json!("FREQ=FORTNIGHTLY"))),
        ("rrule", with("rrule", json!("FREQ=DAILY;BYHOUR=25"))),
        ("rrule", with("rrule", json!("FREQ=MINUTELY;BYSECOND=0"))),
        ("timezone", with("timezone", json!("Europe/Atlantis"))),
        ("duration_minutes", with("duration_minutes", json!(0))),
        ("dtstart", with("dtstart", json!("2026-03-01T02:00:00Z"))),
        ("dtstart", with("dtstart", json!("2026-03-29T02:30:00"))), // skipped by Berlin's clocks
        ("name", with("name", json!(" "))),
        ("monitor_ids", with("monitor_ids", json!([]))),
        (
            "ends_at",
            json!({"name": "once", "monitor_ids": [m], "starts_at": "2026-05-01T10:00:00Z", "ends_at": "2026-05-01T09:00:00Z"}),
        ),
        (
            "starts_at",
            json!({"name": "once", "monitor_ids": [m], "starts_at": "yesterday", "ends_at": "2026-05-01T09:00:00Z"}),
        ),
        ("ends_at", json!({"name": "once", "monitor_ids": [m], "starts_at": "2026-05-01T10:00:00Z"})),
        ("starts_at", json!({"name": "none", "monitor_ids": [m]})),
        (
            "rrule",
            json!({"name": "both", "monitor_ids": [m], "starts_at": "2026-05-01T10:00:00Z",
            "ends_at": "2026-05-01T11:00:00Z", "rrule": "FREQ=DAILY"}),
        ),
        (
            "timezone",
            with("timezone", Value::Null)
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.remove("timezone");
                    Value::Object(o)
                })
                .unwrap(),
        ),
        ("colour", with("colour", json!("red"))),
    ];
    for (field, body) in cases {
        let problem = assert_problem(post(&app, &token, body.clone()).await, 422, Some(field)).await;
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{body}");
    }
}

#[tokio::test]
async fn another_users_monitor_is_a_422_naming_its_index() {
    let app = spawn_app().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let own = app.monitor(&alice).await["id"].clone();
    let theirs = app.monitor(&bob).await["id"].clone();

    let r = post(
        &app,
        &alice,
        json!({"name": "w", "monitor_ids": [own, theirs],
        "starts_at": "2026-05-01T10:00:00Z", "ends_at": "2026-05-01T11:00:00Z"}),
    )
    .await;

    assert_problem(r, 422, Some("monitor_ids[1]")).await;
}

#[tokio::test]
async fn windows_are_listed_with_active_and_next_occurrence_and_can_be_changed_and_deleted() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let on = post(
        &app,
        &token,
        json!({"name": "now", "monitor_ids": [m, m],
        "starts_at": fmt(now - time::Duration::minutes(5)), "ends_at": fmt(now + time::Duration::hours(1))}),
    )
    .await;
    assert_eq!(on.status(), 201);
    let on: Value = on.json().await.unwrap();
    let weekly = post(
        &app,
        &token,
        json!({"name": "sundays", "monitor_ids": [m], "rrule": "RRULE:FREQ=WEEKLY;BYDAY=SU",
        "dtstart": "2026-03-01T22:00", "duration_minutes": 120, "timezone": "America/New_York"}),
    )
    .await;
    assert_eq!(weekly.status(), 201);
    let weekly: Value = weekly.json().await.unwrap();

    let list: Value = app.get(PATH, &token).await.json().await.unwrap();
    let other = app.user("eve@example.com").await;
    let theirs: Value = app.get(PATH, &other).await.json().await.unwrap();

    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let first = &list["items"][0];
    assert_eq!((first["active"].clone(), first["kind"].clone()), (json!(true), json!("one_off")));
    assert_eq!(first["monitor_ids"], json!([m]), "listed once");
    assert!(first["next_occurrence"].is_null(), "a one-off window on now has no next one");
    let second = &list["items"][1];
    assert_eq!(
        (second["rrule"].clone(), second["dtstart"].clone()),
        (json!("FREQ=WEEKLY;BYDAY=SU"), json!("2026-03-01T22:00:00"))
    );
    let next = second["next_occurrence"]["starts_at"].as_str().unwrap();
    let next = time::OffsetDateTime::parse(next, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(next.weekday(), time::Weekday::Monday, "Sunday 22:00 in New York is Monday in UTC");
    assert!(next > now);
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(app.get(&format!("{PATH}/{}", on["id"].as_str().unwrap()), &other).await.status(), 404);

    let path = format!("{PATH}/{}", weekly["id"].as_str().unwrap());
    let changed: Value = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"duration_minutes": 30, "timezone": "Asia/Tokyo"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (changed["duration_minutes"].clone(), changed["timezone"].clone()),
        (json!(30), json!("Asia/Tokyo"))
    );
    assert_eq!(changed["rrule"], "FREQ=WEEKLY;BYDAY=SU", "fields not given are kept");
    let bad = app.call(Method::PATCH, &path, Some(&token), Some(json!({"starts_at": fmt(now)}))).await;
    assert_problem(bad, 422, Some("ends_at")).await;
    assert_eq!(app.call(Method::DELETE, &path, Some(&token), None).await.status(), 204);
    assert_eq!(app.call(Method::DELETE, &path, Some(&token), None).await.status(), 404);
}

#[tokio::test]
async fn monitors_show_whether_they_are_flapping() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await;
    let id: uuid::Uuid = m["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(m["flapping"], false);
    app.env
        .db()
        .await
        .execute(
            "INSERT INTO monitor_flapping (monitor_id, episode_id, since, last_change_at, changes, window_seconds, threshold) \
             VALUES ($1, $1, now(), now(), 6, 600, 5)",
            &[&id],
        )
        .await
        .unwrap();

    let one: Value = app.get(&format!("/api/v1/monitors/{id}"), &token).await.json().await.unwrap();
    let list: Value = app.get("/api/v1/monitors", &token).await.json().await.unwrap();

    assert_eq!(one["flapping"], true);
    assert_eq!(list["items"][0]["flapping"], true);
}
