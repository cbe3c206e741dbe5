//! Deliveries in flight are bounded per channel and per owner, so one user's slow receivers
//! cannot hold every delivery slot.

use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use upcheck_streams::Keys;
use upcheck_testkit::fixtures::{
    apply_down, enqueue_notifications, link, monitor, spec, user, webhook_channel,
};
use upcheck_testkit::{SilentTarget, TestEnv, WebhookReceiver, wait_for};
use uuid::Uuid;

/// A short attempt timeout keeps shutdown quick; still longer than the 2 s the other user's
/// alert may take, so the test fails if hung deliveries fill the runner.
const OVERRIDES: &[(&str, &str)] = &[("WEBHOOK_TIMEOUT_MS", "2500"), ("RECLAIM_IDLE_MS", "5000")];

/// A `down` event of `monitor_id` applied; returns its notifications.
async fn down(env: &TestEnv, monitor_id: Uuid) -> Vec<Uuid> {
    apply_down(env, monitor_id).await.into_iter().flat_map(|a| a.pending_notifications).collect()
}

async fn holders(env: &TestEnv, key: &str) -> u64 {
    redis::cmd("ZCARD").arg(key).query_async(&mut env.redis.clone()).await.unwrap()
}

async fn start(env: &TestEnv) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let worker = upcheck_worker_notification::start(env.settings.clone(), cancel.clone()).await.unwrap();
    (cancel, tokio::spawn(worker.wait()))
}

#[tokio::test]
async fn another_users_alert_arrives_within_2_s_while_one_user_has_200_hung_receivers() {
    upcheck_config::install_crypto_provider();
    let env = TestEnv::with_env(OVERRIDES).await;
    let hung = SilentTarget::start().await;
    let noisy = user(&env).await;
    let noisy_monitor = spec("http://127.0.0.1:1/");
    monitor(&env, noisy, &noisy_monitor).await;
    for _ in 0..200 {
        webhook_channel(&env, noisy, noisy_monitor.monitor_id, &hung.url).await;
    }
    let receiver = WebhookReceiver::start().await;
    let quiet = user(&env).await;
    let quiet_monitor = spec("http://127.0.0.1:1/");
    monitor(&env, quiet, &quiet_monitor).await;
    webhook_channel(&env, quiet, quiet_monitor.monitor_id, &receiver.url).await;
    let noisy_jobs = down(&env, noisy_monitor.monitor_id).await;
    assert_eq!(noisy_jobs.len(), 200);
    let quiet_jobs = down(&env, quiet_monitor.monitor_id).await;
    // The 200 hung deliveries are ahead of the other user's in the stream.
    enqueue_notifications(&env, &noisy_jobs).await;
    enqueue_notifications(&env, &quiet_jobs).await;

    let started = Instant::now();
    let (cancel, task) = start(&env).await;
    wait_for("the other user's webhook", Duration::from_secs(2), || async {
        (!receiver.received().is_empty()).then_some(())
    })
    .await;
    let took = started.elapsed();

    wait_for("the noisy user's requests hanging", Duration::from_secs(2), || async {
        (hung.accepted() >= 16).then_some(())
    })
    .await;
    assert_eq!(
        hung.accepted(),
        16,
        "the noisy user's requests in flight: NOTIFICATION_MAX_IN_FLIGHT_PER_OWNER"
    );
    let running = holders(&env, &Keys::new(&env.settings).in_flight_owner(noisy)).await;
    assert_eq!(running, 16);
    assert_eq!(receiver.received()[0].json()["monitor"]["id"], quiet_monitor.monitor_id.to_string());
    println!("other user's webhook after {took:?} with 200 hung receivers ahead of it");
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn one_channel_runs_at_most_channel_max_in_flight_deliveries_and_spends_no_attempt_waiting() {
    upcheck_config::install_crypto_provider();
    let env = TestEnv::with_env(OVERRIDES).await;
    let hung = SilentTarget::start().await;
    let owner = user(&env).await;
    // Ten monitors going down at once, all alerting one channel.
    let first = spec("http://127.0.0.1:1/");
    monitor(&env, owner, &first).await;
    let (channel, _) = webhook_channel(&env, owner, first.monitor_id, &hung.url).await;
    let mut jobs = down(&env, first.monitor_id).await;
    for _ in 1..10 {
        let s = spec("http://127.0.0.1:1/");
        monitor(&env, owner, &s).await;
        link(&env, s.monitor_id, channel).await;
        jobs.extend(down(&env, s.monitor_id).await);
    }
    assert_eq!(jobs.len(), 10);
    enqueue_notifications(&env, &jobs).await;

    let (cancel, task) = start(&env).await;
    wait_for("four deliveries hanging", Duration::from_secs(5), || async {
        (hung.accepted() >= 4).then_some(())
    })
    .await;
    // For a second (the waiting ones come back every 0.5-1 s; the four hang for 2.5 s), no
    // fifth request reaches the receiver.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hung.accepted(), 4, "requests started on one channel while four hang");
    let key = Keys::new(&env.settings).in_flight_channel(owner, channel);
    assert_eq!(holders(&env, &key).await, 4);
    // The six waiting ones have not spent an attempt (the four running have not finished one).
    let attempts: i64 = env
        .db()
        .await
        .query_one(
            "SELECT coalesce(sum(attempts), 0)::bigint FROM notifications WHERE channel_id = $1",
            &[&channel],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 0);
    cancel.cancel();
    task.await.unwrap();
}
