//! Webhook delivery in-process against real Postgres, Redis and a local receiver.

use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_domain::{NotificationJob, StatusEvent};
use upcheck_testkit::fixtures::{
    apply_down, count, enqueue_notifications, monitor, spec, user, webhook_channel,
};
use upcheck_testkit::{TestEnv, WebhookReceiver, wait_for};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);

struct Setup {
    env: TestEnv,
    receiver: WebhookReceiver,
    secret: String,
    notification: Uuid,
    event: StatusEvent,
}

/// A monitor with one webhook channel to a local receiver, a `down` event applied, and its
/// notification job enqueued.
async fn setup(overrides: &[(&str, &str)]) -> Setup {
    setup_with(overrides, true).await
}

/// Like [`setup`]; without `enqueue_job` the job is left out, as if Redis had lost it.
async fn setup_with(overrides: &[(&str, &str)], enqueue_job: bool) -> Setup {
    upcheck_config::install_crypto_provider();
    let env = TestEnv::with_env(overrides).await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let s = spec("http://127.0.0.1:1/");
    monitor(&env, owner, &s).await;
    let (_, secret) = webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
    let applied = apply_down(&env, s.monitor_id).await;
    let (event, notification) = (applied[0].event.clone(), applied[0].pending_notifications[0]);
    if enqueue_job {
        enqueue(&env, notification).await;
    }
    Setup { env, receiver, secret, notification, event }
}

async fn enqueue(env: &TestEnv, notification_id: Uuid) {
    enqueue_notifications(env, &[notification_id]).await;
}

async fn start(env: &TestEnv) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let worker = upcheck_worker_notification::start(env.settings.clone(), cancel.clone()).await.unwrap();
    (cancel, tokio::spawn(worker.wait()))
}

async fn state(env: &TestEnv, id: Uuid) -> (String, i32, Option<String>) {
    let r = env
        .db()
        .await
        .query_one("SELECT state, attempts, last_error FROM notifications WHERE id = $1", &[&id])
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

async fn pending_jobs(env: &TestEnv) -> i64 {
    let v: redis::Value = redis::cmd("XPENDING")
        .arg(&env.settings.streams.notification)
        .arg(&env.settings.streams.notification_group)
        .query_async(&mut env.redis.clone())
        .await
        .unwrap();
    match v {
        redis::Value::Array(a) => match a.first() {
            Some(redis::Value::Int(n)) => *n,
            _ => 0,
        },
        _ => 0,
    }
}

#[tokio::test]
async fn a_webhook_is_delivered_once_signed_per_standard_webhooks() {
    let t = setup(&[]).await;
    let (cancel, task) = start(&t.env).await;

    wait_for("delivered", WAIT, || async {
        (state(&t.env, t.notification).await.0 == "delivered").then_some(())
    })
    .await;

    let got = t.receiver.received();
    assert_eq!(got.len(), 1);
    let hook = &got[0];
    let id = hook.header("webhook-id").unwrap();
    let ts: i64 = hook.header("webhook-timestamp").unwrap().parse().unwrap();
    assert_eq!(id, t.notification.to_string());
    assert!((OffsetDateTime::now_utc().unix_timestamp() - ts).abs() < 30);
    assert!(upcheck_domain::webhook::verify(
        &t.secret,
        id,
        ts,
        &hook.body,
        hook.header("webhook-signature").unwrap()
    ));
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let body = hook.json();
    assert_eq!(body["type"], "monitor.down");
    assert_eq!(body["event_id"], t.event.event_id.to_string());
    assert_eq!(body["previous_status"], "up");
    assert_eq!(body["status"], "down");
    assert_eq!(body["cause"], "connection refused");
    assert!(body["incident"]["id"].is_string());
    assert_eq!(state(&t.env, t.notification).await, ("delivered".into(), 1, None));
    assert_eq!(
        count(
            &t.env,
            "SELECT count(*) FROM notification_attempts WHERE notification_id = $1",
            t.notification
        )
        .await,
        1
    );
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_redelivered_job_for_a_delivered_notification_sends_nothing_more() {
    let t = setup(&[]).await;
    let (cancel, task) = start(&t.env).await;
    wait_for("delivered", WAIT, || async {
        (state(&t.env, t.notification).await.0 == "delivered").then_some(())
    })
    .await;

    enqueue(&t.env, t.notification).await;
    wait_for("the duplicate consumed", WAIT, || async {
        let len: u64 = redis::cmd("XLEN")
            .arg(&t.env.settings.streams.notification)
            .query_async(&mut t.env.redis.clone())
            .await
            .unwrap();
        (len == 2 && pending_jobs(&t.env).await == 0).then_some(())
    })
    .await;

    // The duplicate was acknowledged, so its handler finished: any second send has happened.
    assert_eq!(t.receiver.received().len(), 1);
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_receiver_that_recovers_gets_the_notification_on_a_retry() {
    let t = setup(&[]).await;
    t.receiver.set_status(503);
    let (cancel, task) = start(&t.env).await;
    // The state as the first failed attempt left it: retries come 0–50 ms apart here
    // (NOTIFICATION_RETRY_BASE_MS), so a second read could already see a later attempt.
    let (state_after, _, error) = wait_for("a failed attempt", WAIT, || async {
        let s = state(&t.env, t.notification).await;
        (s.1 >= 1).then_some(s)
    })
    .await;
    assert_eq!((state_after.as_str(), error.as_deref()), ("pending", Some("receiver answered 503")));

    t.receiver.set_status(200);

    wait_for("delivered", WAIT, || async {
        (state(&t.env, t.notification).await.0 == "delivered").then_some(())
    })
    .await;
    let got = t.receiver.received();
    assert!(got.len() >= 2);
    assert!(
        got.iter().all(|h| h.header("webhook-id") == Some(&t.notification.to_string()[..])),
        "one webhook-id across retries"
    );
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn retries_back_off_and_the_last_failure_goes_to_the_dead_letter_stream() {
    let t = setup(&[
        ("NOTIFICATION_MAX_ATTEMPTS", "3"),
        ("NOTIFICATION_RETRY_BASE_MS", "200"),
        ("NOTIFICATION_RETRY_MAX_MS", "1000"),
    ])
    .await;
    t.receiver.set_status(500);
    let (cancel, task) = start(&t.env).await;

    wait_for("dead", WAIT, || async { (state(&t.env, t.notification).await.0 == "dead").then_some(()) })
        .await;

    assert_eq!(t.receiver.received().len(), 3);
    let times: Vec<OffsetDateTime> = t
        .env
        .db()
        .await
        .query(
            "SELECT attempted_at FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt",
            &[&t.notification],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(times.len(), 3, "every attempt logged");
    // Full jitter: retry n waits a random time in [0, base × 2^(n-1)] (200 ms, then 400 ms),
    // plus the retry pump's tick and the store.
    assert!(times[1] - times[0] <= time::Duration::milliseconds(200 + 400), "first retry within base");
    assert!(times[2] - times[1] <= time::Duration::milliseconds(400 + 400), "second retry within 2 × base");
    let dlq = upcheck_streams::Keys::dead_letter(&t.env.settings.streams.notification);
    let dead: Vec<(String, std::collections::HashMap<String, String>)> =
        redis::cmd("XRANGE").arg(&dlq).arg("-").arg("+").query_async(&mut t.env.redis.clone()).await.unwrap();
    assert_eq!(dead.len(), 1);
    let job: NotificationJob = serde_json::from_str(&dead[0].1["m"]).unwrap();
    assert_eq!(job.notification_id, t.notification);
    assert!(dead[0].1["reason"].contains("3 attempts failed"), "{}", dead[0].1["reason"]);
    wait_for("all jobs acknowledged", WAIT, || async { (pending_jobs(&t.env).await == 0).then_some(()) })
        .await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_notification_whose_channel_was_deleted_is_marked_failed_without_sending() {
    let t = setup(&[]).await;
    t.env.db().await.execute("DELETE FROM channels", &[]).await.unwrap();
    let (cancel, task) = start(&t.env).await;

    wait_for("failed", WAIT, || async { (state(&t.env, t.notification).await.0 == "failed").then_some(()) })
        .await;

    assert!(t.receiver.received().is_empty());
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_notification_whose_job_redis_lost_is_swept_up_and_delivered() {
    let t = setup_with(&[("OUTBOX_RELAY_MS", "100")], false).await;
    // Pending for an hour with no job anywhere: longer than any retry could explain.
    t.env
        .db()
        .await
        .execute("UPDATE notifications SET created_at = now() - interval '1 hour'", &[])
        .await
        .unwrap();

    let (cancel, task) = start(&t.env).await;

    wait_for("delivered", WAIT, || async {
        (state(&t.env, t.notification).await.0 == "delivered").then_some(())
    })
    .await;
    assert_eq!(t.receiver.received().len(), 1);
    cancel.cancel();
    task.await.unwrap();
}

/// Points the setup's channel at `url` instead of its receiver (through the store: its
/// config is sealed).
async fn point_channel_at(env: &TestEnv, url: &str) {
    let rows = env.db().await.query("SELECT id, owner_id FROM channels", &[]).await.unwrap();
    for r in rows {
        let (id, owner) = (r.get(0), r.get(1));
        let c = upcheck_store::channels::get(&env.pool, env.keys(), owner, id).await.unwrap().unwrap();
        let mut config = c.config;
        config["url"] = serde_json::Value::String(url.to_string());
        upcheck_store::channels::update(&env.pool, env.keys(), owner, id, &c.name, &config).await.unwrap();
    }
}

#[tokio::test]
async fn a_429_retry_after_is_honoured_and_a_400_is_final_at_once() {
    use upcheck_testkit::http_target::{HttpTarget, Reply};
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let n = answered.clone();
    let slow_down = HttpTarget::start(move |_| {
        if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply { status: 429, ..Reply::default() }.header("retry-after", "1")
        } else {
            Reply::ok("")
        }
    })
    .await;
    let s = setup(&[]).await;
    point_channel_at(&s.env, &format!("{}/hook", slow_down.base)).await;
    let started = std::time::Instant::now();
    let (cancel, task) = start(&s.env).await;

    wait_for("delivered after the Retry-After", WAIT, || async {
        (state(&s.env, s.notification).await.0 == "delivered").then_some(())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}, not the 1 s asked",
        started.elapsed()
    );
    assert_eq!(state(&s.env, s.notification).await.1, 2);
    cancel.cancel();
    task.await.unwrap();

    let refused = HttpTarget::start(|_| Reply { status: 400, ..Reply::default() }).await;
    let s = setup(&[]).await;
    point_channel_at(&s.env, &format!("{}/hook", refused.base)).await;
    let (cancel, task) = start(&s.env).await;
    let (st, attempts, error) = wait_for("failed at once", WAIT, || async {
        let now = state(&s.env, s.notification).await;
        (now.0 == "failed").then_some(now)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // no retry follows
    assert_eq!((st.as_str(), attempts, error.as_deref()), ("failed", 1, Some("receiver answered 400")));
    assert_eq!(refused.hits(), 1);
    cancel.cancel();
    task.await.unwrap();
}
