//! `GET /api/v1/events`: the live feed as Server-Sent Events, fed here by publishing on the
//! live channel and writing status events straight to Postgres (no workers).

use crate::helpers::*;
use reqwest::Method;
use std::time::Duration;
use upcheck_domain::MonitorStatus;
use upcheck_domain::live::{LiveMessage, LiveStatus};
use upcheck_testkit::sse::SseReader;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(5);

/// One user's monitor, as the feed sees it.
struct Watched {
    token: String,
    owner: Uuid,
    monitor: Uuid,
}

async fn watched(app: &TestApp, email: &str) -> Watched {
    let token = app.user(email).await;
    let monitor: Uuid = app.monitor(&token).await["id"].as_str().unwrap().parse().unwrap();
    let owner = app
        .env
        .db()
        .await
        .query_one("SELECT owner_id FROM monitors WHERE id = $1", &[&monitor])
        .await
        .unwrap()
        .get(0);
    Watched { token, owner, monitor }
}

/// Stores an applied status event of `monitor` (`to` from its opposite); returns its `seq`.
async fn stored_event(app: &TestApp, monitor: Uuid, to: MonitorStatus) -> (i64, LiveStatus) {
    let from = if to == MonitorStatus::Down { MonitorStatus::Up } else { MonitorStatus::Down };
    let (id, at) = (Uuid::now_v7(), time::OffsetDateTime::now_utc());
    let row = app
        .env
        .db()
        .await
        .query_one(
            "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, occurred_at, applied_at) \
             VALUES ($1, $2, $3, $4, true, $5, now()) RETURNING seq, (SELECT owner_id FROM monitors WHERE id = $2)",
            &[&id, &monitor, &from.as_str(), &to.as_str(), &at],
        )
        .await
        .unwrap();
    let seq: i64 = row.get(0);
    let live = LiveStatus {
        seq,
        event_id: id,
        owner_id: row.get(1),
        monitor_id: monitor,
        event: upcheck_domain::webhook_type(to).to_string(),
        status: to,
        previous_status: from,
        occurred_at: at,
        incident_id: None,
        incident: None,
    };
    (seq, live)
}

/// Publishes `message` on the live channel, as the status-change worker does.
async fn publish(app: &TestApp, message: &LiveMessage) {
    let channel = upcheck_streams::Keys::new(&app.env.settings).live_channel();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(serde_json::to_string(message).unwrap())
        .query_async(&mut app.env.redis.clone())
        .await
        .unwrap();
}

async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}/api/v1/events", app.address)).bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id.to_string());
    }
    req.send().await.unwrap()
}

async fn stream(app: &TestApp, token: &str, last_event_id: Option<i64>) -> SseReader {
    let r = open(app, token, last_event_id).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    SseReader::new(r)
}

/// Publishes a status event of `w`'s monitor until one reaches `reader` (the hub subscribes
/// once the first stream opens); returns the frame.
async fn live_event_reaches(
    app: &TestApp,
    w: &Watched,
    reader: &mut SseReader,
) -> upcheck_testkit::sse::SseFrame {
    for _ in 0..50 {
        let (_, live) = stored_event(app, w.monitor, MonitorStatus::Down).await;
        publish(app, &LiveMessage::Status(live)).await;
        if let Some(f) =
            reader.next(Duration::from_millis(200)).await.filter(|f| f.event.as_deref() == Some("status"))
        {
            return f;
        }
    }
    panic!("no live event arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_replays_exactly_the_missed_events_then_goes_live_without_duplicates() {
    let app = spawn_app().await;
    let w = watched(&app, "feed@example.com").await;
    let (seen, _) = stored_event(&app, w.monitor, MonitorStatus::Down).await;
    let (missed_1, _) = stored_event(&app, w.monitor, MonitorStatus::Up).await;
    let (missed_2, live_2) = stored_event(&app, w.monitor, MonitorStatus::Down).await;

    let mut reader = stream(&app, &w.token, Some(seen)).await;
    let first = reader.next_event("status", WAIT).await;
    assert_eq!(first.seq(), missed_1);
    let body = first.json();
    assert_eq!(body["monitor_id"], w.monitor.to_string());
    assert_eq!(body["type"], "monitor.up");
    assert_eq!((body["status"].as_str(), body["previous_status"].as_str()), (Some("up"), Some("down")));
    assert_eq!(reader.next_event("status", WAIT).await.seq(), missed_2);

    // The replayed event published live again is not sent twice; the next one is.
    publish(&app, &LiveMessage::Status(live_2)).await;
    let next = live_event_reaches(&app, &w, &mut reader).await;
    assert!(next.seq() > missed_2, "{next:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_events_never_reach_a_stream() {
    let app = spawn_app().await;
    let mine = watched(&app, "mine@example.com").await;
    let theirs = watched(&app, "theirs@example.com").await;
    let (before, _) = stored_event(&app, mine.monitor, MonitorStatus::Down).await;
    stored_event(&app, theirs.monitor, MonitorStatus::Down).await;
    let (my_replayed, _) = stored_event(&app, mine.monitor, MonitorStatus::Up).await;

    // Replayed: mine only.
    let mut reader = stream(&app, &mine.token, Some(before)).await;
    let replayed = reader.next_event("status", WAIT).await;
    assert_eq!(replayed.seq(), my_replayed);

    // Live: once the hub listens, theirs is published, then mine; only mine arrives.
    live_event_reaches(&app, &mine, &mut reader).await;
    let (_, their_live) = stored_event(&app, theirs.monitor, MonitorStatus::Up).await;
    publish(&app, &LiveMessage::Status(their_live)).await;
    let (my_seq, my_live) = stored_event(&app, mine.monitor, MonitorStatus::Up).await;
    publish(&app, &LiveMessage::Status(my_live)).await;
    // Events `live_event_reaches` published before the one that arrived may still come first.
    let got = loop {
        let f = reader.next_event("status", WAIT).await;
        assert_eq!(f.json_monitor(), Some(mine.monitor.to_string()), "{f:?}");
        if f.seq() >= my_seq {
            break f;
        }
    };
    assert_eq!(got.seq(), my_seq);
    while let Some(f) = reader.next(Duration::from_millis(300)).await {
        assert_ne!(f.json_monitor(), Some(theirs.monitor.to_string()), "{f:?}");
    }
    assert_ne!(mine.owner, theirs.owner);
}

trait MonitorOf {
    fn json_monitor(&self) -> Option<String>;
}

impl MonitorOf for upcheck_testkit::sse::SseFrame {
    fn json_monitor(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.data).ok()?["monitor_id"].as_str().map(str::to_string)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_is_sent_live_and_replayed_with_its_own_id() {
    let app = spawn_app().await;
    let w = watched(&app, "ack@example.com").await;
    let (opened_seq, _) = stored_event(&app, w.monitor, MonitorStatus::Down).await;
    let incident = Uuid::now_v7();
    app.env
        .db()
        .await
        .execute(
            "INSERT INTO incidents (id, monitor_id, state, opened_event_id, opened_seq, opened_at) \
             SELECT $1, monitor_id, 'open', id, seq, occurred_at FROM status_events WHERE seq = $2",
            &[&incident, &opened_seq],
        )
        .await
        .unwrap();
    let mut reader = stream(&app, &w.token, None).await;
    live_event_reaches(&app, &w, &mut reader).await; // the hub listens

    let path = format!("/api/v1/incidents/{incident}/acknowledge");
    assert_eq!(app.call(Method::POST, &path, Some(&w.token), None).await.status(), 200);
    let ack = reader.next_event("incident", WAIT).await;
    let body = ack.json();
    assert_eq!(body["action"], "acknowledged");
    assert_eq!(body["incident_id"], incident.to_string());
    assert!(ack.seq() > opened_seq);
    // A second acknowledgement changes nothing and sends nothing.
    assert_eq!(app.call(Method::POST, &path, Some(&w.token), None).await.status(), 200);

    let mut again = stream(&app, &w.token, Some(opened_seq)).await;
    let replayed = again.next_event("incident", WAIT).await;
    assert_eq!((replayed.seq(), replayed.json()["action"].as_str()), (ack.seq(), Some("acknowledged")));
    assert!(
        again.next(Duration::from_millis(300)).await.is_none_or(|f| f.event.as_deref() != Some("incident"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_the_per_user_cap_are_refused_with_a_429_problem() {
    let app = spawn_app_with(|s| {
        s.events.max_streams_per_user = 2;
        s.events.keep_alive_seconds = 1;
    })
    .await;
    let w = watched(&app, "cap@example.com").await;
    let other = app.user("other@example.com").await;
    let first = stream(&app, &w.token, None).await;
    let _second = stream(&app, &w.token, None).await;

    let body = assert_problem(open(&app, &w.token, None).await, 429, None).await;
    assert_eq!(body["limit"], "EVENTS_MAX_STREAMS_PER_USER");
    let _theirs = stream(&app, &other, None).await; // the cap is per user

    // A closed stream frees its slot once the API notices (at the next keep-alive at most).
    drop(first);
    upcheck_testkit::wait_for("a freed stream slot", WAIT, || async {
        let r = open(&app, &w.token, None).await;
        (r.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_gets_keep_alive_comments_and_ends_when_the_api_stops() {
    let app = spawn_app_with(|s| s.events.keep_alive_seconds = 1).await;
    let w = watched(&app, "idle@example.com").await;
    // Before the stream opens: the interval starts there, on the API's side.
    let started = std::time::Instant::now();
    let mut reader = stream(&app, &w.token, None).await;
    let retry = reader.next(WAIT).await.expect("the retry field first");
    assert!(retry.data.is_empty() && retry.event.is_none());
    let frame = reader.next(Duration::from_secs(3)).await.expect("a keep-alive within 3 s");
    assert_eq!(frame.comment.as_deref(), Some("keep-alive"));
    assert!(started.elapsed() >= Duration::from_millis(800), "not before the interval");

    drop(app); // cancels the API
    while reader.next(WAIT).await.is_some() {}
    assert!(reader.ended(), "the stream ends on shutdown");
}

#[tokio::test]
async fn malformed_last_event_id_or_checks_and_missing_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.user("bad@example.com").await;
    let r = app
        .client
        .get(format!("{}/api/v1/events", app.address))
        .bearer_auth(&token)
        .header("Last-Event-ID", "x")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, Some("Last-Event-ID")).await;
    let r = app
        .client
        .get(format!("{}/api/v1/events", app.address))
        .bearer_auth(&token)
        .header("Last-Event-ID", "-3")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, Some("Last-Event-ID")).await;
    let r = app
        .client
        .get(format!("{}/api/v1/events?checks=maybe", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, Some("checks")).await;
    let r = app.client.get(format!("{}/api/v1/events", app.address)).send().await.unwrap();
    assert_problem(r, 401, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_page_streams_its_monitors_events_to_anyone_and_an_unknown_or_unpublished_slug_is_404() {
    let app = spawn_app().await;
    let on_page = watched(&app, "page@example.com").await;
    let off_page = watched(&app, "other@example.com").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/status-pages",
            Some(&on_page.token),
            Some(serde_json::json!({"slug": "acme", "title": "Acme", "published": true,
                "sections": [{"name": "Core", "monitors": [{"monitor_id": on_page.monitor, "display_name": "API"}]}]})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let unknown = app.client.get(format!("{}/status/nope/events", app.address)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let r = app
        .call(
            Method::POST,
            "/api/v1/status-pages",
            Some(&on_page.token),
            Some(serde_json::json!({"slug": "draft", "title": "Draft", "published": false,
                "sections": [{"name": "Core", "monitors": [{"monitor_id": on_page.monitor, "display_name": "API"}]}]})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let draft = app.client.get(format!("{}/status/draft/events", app.address)).send().await.unwrap();
    assert_eq!(draft.status(), 404, "an unpublished page has no public feed");
    // Before the page's data is cached, an event of the other monitor is stored: the stream
    // starting after it must never send it.
    let (before, _) = stored_event(&app, on_page.monitor, MonitorStatus::Down).await;
    let (_, other) = stored_event(&app, off_page.monitor, MonitorStatus::Down).await;

    let r = app
        .client
        .get(format!("{}/status/acme/events", app.address))
        .header("Last-Event-ID", (before - 1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "no authentication needed");
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut reader = SseReader::new(r);
    assert_eq!(reader.next_event("status", WAIT).await.seq(), before, "replayed after Last-Event-ID");
    publish(&app, &LiveMessage::Status(other)).await;
    let live = live_event_reaches(&app, &on_page, &mut reader).await;
    assert_eq!(live.json()["monitor_id"], on_page.monitor.to_string(), "only the page's monitors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_user_cap_holds_across_api_replicas_and_a_closed_stream_frees_its_lease() {
    let app = spawn_app_with(|s| {
        s.events.max_streams_per_user = 2;
        s.events.keep_alive_seconds = 1;
    })
    .await;
    let (replica, _stop) = spawn_replica(&app).await;
    let w = watched(&app, "replicas@example.com").await;
    let first = stream(&app, &w.token, None).await;
    // The second stream is on the other replica: each process holds one, two in all.
    let on_replica =
        |token: &str| app.client.get(format!("{replica}/api/v1/events")).bearer_auth(token).send();
    let second = on_replica(&w.token).await.unwrap();
    assert_eq!(second.status(), 200);

    let body = assert_problem(open(&app, &w.token, None).await, 429, None).await;
    assert_eq!(body["limit"], "EVENTS_MAX_STREAMS_PER_USER");
    assert_problem(on_replica(&w.token).await.unwrap(), 429, None).await;
    let leases =
        upcheck_streams::Leases::new(app.env.redis.clone(), upcheck_streams::Keys::new(&app.env.settings));
    assert_eq!(leases.held("feed-user", &w.owner.to_string()).await.unwrap(), 2);

    // The first replica's stream closes: its lease is given back (noticed at the next
    // keep-alive at most) and the first replica takes a new stream again.
    drop(first);
    upcheck_testkit::wait_for("a freed stream lease", WAIT, || async {
        let r = open(&app, &w.token, None).await;
        (r.status() == 200).then_some(())
    })
    .await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_page_stream_cap_per_address_holds_across_replicas_with_a_429_problem() {
    let app = spawn_app_with(|s| s.events.max_public_streams_per_address = 2).await;
    let (replica, _stop) = spawn_replica(&app).await;
    let owner = watched(&app, "public-cap@example.com").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/status-pages",
            Some(&owner.token),
            Some(serde_json::json!({"slug": "capped", "title": "Capped", "published": true,
                "sections": [{"name": "Core", "monitors": [{"monitor_id": owner.monitor, "display_name": "API"}]}]})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let events = |base: &str| app.client.get(format!("{base}/status/capped/events")).send();
    let first = events(&app.address).await.unwrap();
    let second = events(&replica).await.unwrap();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    for base in [&app.address, &replica] {
        let body = assert_problem(events(base).await.unwrap(), 429, None).await;
        assert_eq!(body["limit"], "EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS");
    }
    // The page itself is still served to the same address.
    let page = app.client.get(format!("{}/status/capped", app.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_streams_past_the_per_process_total_are_refused() {
    let app = spawn_app_with(|s| s.events.max_public_streams = 1).await;
    let owner = watched(&app, "public-total@example.com").await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/status-pages",
            Some(&owner.token),
            Some(serde_json::json!({"slug": "total", "title": "Total", "published": true,
                "sections": [{"name": "Core", "monitors": [{"monitor_id": owner.monitor, "display_name": "API"}]}]})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let url = format!("{}/status/total/events", app.address);
    let first = app.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let body = assert_problem(app.client.get(&url).send().await.unwrap(), 429, None).await;
    assert_eq!(body["limit"], "EVENTS_MAX_PUBLIC_STREAMS");
}
