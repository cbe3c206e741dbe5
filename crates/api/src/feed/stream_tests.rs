//! [`public_status_events`] against real Postgres and Redis: only the given monitors' status
//! events, replayed after `Last-Event-ID` and then live.

use super::*;
use actix_web::body::MessageBody;
use upcheck_domain::MonitorStatus;
use upcheck_testkit::TestEnv;

/// Stores an applied `down` event of `monitor`; returns it as published.
async fn stored_down(env: &TestEnv, monitor: Uuid, owner: Uuid) -> LiveStatus {
    let (id, at) = (Uuid::now_v7(), time::OffsetDateTime::now_utc());
    let seq: i64 = env
        .db()
        .await
        .query_one(
            "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, occurred_at, applied_at) \
             VALUES ($1, $2, 'up', 'down', true, $3, now()) RETURNING seq",
            &[&id, &monitor, &at],
        )
        .await
        .unwrap()
        .get(0);
    LiveStatus {
        seq,
        event_id: id,
        owner_id: owner,
        monitor_id: monitor,
        event: "monitor.down".into(),
        status: MonitorStatus::Down,
        previous_status: MonitorStatus::Up,
        occurred_at: at,
        incident_id: None,
        incident: None,
    }
}

/// The next status frame's `(id, monitor_id)` within 300 ms.
async fn next_status(body: &mut actix_web::body::BoxBody) -> Option<(i64, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    loop {
        let chunk = tokio::time::timeout_at(
            deadline,
            futures::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_next(cx)),
        )
        .await
        .ok()??
        .ok()?;
        let text = String::from_utf8_lossy(&chunk).to_string();
        if let Some(rest) = text.strip_prefix("id: ")
            && text.contains("event: status")
        {
            let id = rest.lines().next()?.parse().ok()?;
            let data: serde_json::Value = serde_json::from_str(text.split("data: ").nth(1)?.trim()).ok()?;
            return Some((id, data["monitor_id"].as_str()?.to_string()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_page_stream_carries_only_its_monitors_replayed_then_live() {
    upcheck_config::install_crypto_provider();
    let env = TestEnv::new().await;
    let owner = upcheck_testkit::fixtures::user(&env).await;
    let (shown, hidden) = (Uuid::now_v7(), Uuid::now_v7());
    for id in [shown, hidden] {
        let mut spec = upcheck_testkit::fixtures::spec("http://127.0.0.1:1/");
        spec.monitor_id = id;
        upcheck_testkit::fixtures::monitor(&env, owner, &spec).await;
    }
    let replayed = stored_down(&env, shown, owner).await;
    stored_down(&env, hidden, owner).await;
    let state = AppState::new(env.settings.clone()).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn(crate::feed::hub::run(state.clone(), cancel.clone()));
    let req = actix_web::test::TestRequest::default().insert_header(("Last-Event-ID", "0")).to_http_request();

    let response = public_status_events(&state, &req, vec![shown]).await.unwrap();
    assert_eq!(response.headers().get("content-type").unwrap(), "text/event-stream");
    let mut body = response.into_body();
    assert_eq!(next_status(&mut body).await, Some((replayed.seq, shown.to_string())));

    let mut conn = env.redis.clone();
    let channel = upcheck_streams::Keys::new(&env.settings).live_channel();
    let mut got = None;
    for _ in 0..30 {
        for live in [stored_down(&env, hidden, owner).await, stored_down(&env, shown, owner).await] {
            let text = serde_json::to_string(&LiveMessage::Status(live)).unwrap();
            let _: i64 = redis::cmd("PUBLISH").arg(&channel).arg(text).query_async(&mut conn).await.unwrap();
        }
        if let Some(frame) = next_status(&mut body).await {
            got = Some(frame);
            break;
        }
    }
    let (seq, monitor) = got.expect("a live event");
    assert!(seq > replayed.seq);
    assert_eq!(monitor, shown.to_string(), "never the hidden monitor's");
    cancel.cancel();
}
