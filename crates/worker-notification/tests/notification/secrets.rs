//! Sealed channel configs on the delivery path: signed with the right secret under an old key
//! still listed, after the rotation under the new key alone, and a clear failure when the key
//! is gone.

use serde_json::json;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_config::Settings;
use upcheck_domain::ChannelKind;
use upcheck_secrets::Keyring;
use upcheck_testkit::fixtures::{apply_down, enqueue_notifications, link, monitor, spec, user};
use upcheck_testkit::{TestEnv, WebhookReceiver, wait_for};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A `down` event for a new monitor linked to `channel`, applied, its notification enqueued.
async fn notify(env: &TestEnv, owner: Uuid, channel: Uuid) -> Uuid {
    let s = spec("http://127.0.0.1:1/");
    monitor(env, owner, &s).await;
    link(env, s.monitor_id, channel).await;
    let id = apply_down(env, s.monitor_id).await[0].pending_notifications[0];
    enqueue_notifications(env, &[id]).await;
    id
}

async fn delivered_or_failed(env: &TestEnv, id: Uuid) -> (String, Option<String>) {
    wait_for("a final state", WAIT, || async {
        let r = env
            .db()
            .await
            .query_one("SELECT state, last_error FROM notifications WHERE id = $1", &[&id])
            .await
            .unwrap();
        let state: String = r.get(0);
        (state != "pending").then(|| (state, r.get(1)))
    })
    .await
}

async fn run_worker(settings: Settings) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    upcheck_config::install_crypto_provider();
    let cancel = CancellationToken::new();
    let worker = upcheck_worker_notification::start(settings, cancel.clone()).await.unwrap();
    (cancel, tokio::spawn(worker.wait()))
}

fn verifies(receiver: &WebhookReceiver, n: usize) -> bool {
    let got = receiver.received();
    let h = &got[n];
    let ts: i64 = h.header("webhook-timestamp").unwrap().parse().unwrap();
    upcheck_domain::webhook::verify(
        SECRET,
        h.header("webhook-id").unwrap(),
        ts,
        &h.body,
        h.header("webhook-signature").unwrap(),
    )
}

#[tokio::test]
async fn deliveries_sign_with_the_sealed_secret_under_an_old_key_and_after_the_rotation() {
    let old_key = upcheck_secrets::generate_key();
    let new_key = upcheck_secrets::generate_key();
    let old_keys = format!("k1:{old_key}");
    let env = TestEnv::with_env(&[
        ("SECRETS_KEY", &new_key),
        ("SECRETS_KEY_ID", "k2"),
        ("SECRETS_OLD_KEYS", &old_keys),
    ])
    .await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let before_rotation = Keyring::from_parts(&old_key, "k1", "").unwrap();
    let config = json!({"url": receiver.url, "secret": SECRET});
    let channel = upcheck_store::channels::create(
        &env.pool,
        &before_rotation,
        owner,
        ChannelKind::Webhook,
        "hook",
        &config,
    )
    .await
    .unwrap()
    .id;

    let first = notify(&env, owner, channel).await;
    let (cancel, task) = run_worker(env.settings.clone()).await;
    assert_eq!(delivered_or_failed(&env, first).await, ("delivered".into(), None));
    cancel.cancel();
    task.await.unwrap();
    assert!(verifies(&receiver, 0), "signed with the secret sealed under k1");

    let done = upcheck_store::reseal::reseal_channels(&env.pool, env.keys(), 100).await.unwrap();
    assert_eq!(done.resealed, 1);
    let mut new_only = env.settings.clone();
    new_only.secrets = Some(Keyring::from_parts(&new_key, "k2", "").unwrap());
    let second = notify(&env, owner, channel).await;
    let (cancel, task) = run_worker(new_only).await;
    assert_eq!(delivered_or_failed(&env, second).await, ("delivered".into(), None));
    cancel.cancel();
    task.await.unwrap();
    assert!(verifies(&receiver, 1), "signed with the same secret, now under k2 alone");
}

#[tokio::test]
async fn a_channel_whose_key_is_gone_fails_its_notification_saying_so_and_sends_nothing() {
    let env = TestEnv::new().await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let lost = Keyring::from_parts(&upcheck_secrets::generate_key(), "k0", "").unwrap();
    let config = json!({"url": receiver.url, "secret": SECRET});
    let channel =
        upcheck_store::channels::create(&env.pool, &lost, owner, ChannelKind::Webhook, "hook", &config)
            .await
            .unwrap()
            .id;
    let id = notify(&env, owner, channel).await;

    let (cancel, task) = run_worker(env.settings.clone()).await;
    let (state, error) = delivered_or_failed(&env, id).await;
    cancel.cancel();
    task.await.unwrap();

    assert_eq!(state, "failed");
    let error = error.unwrap_or_default();
    assert!(error.contains("cannot be decrypted") && error.contains("k0"), "{error}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn the_worker_does_not_start_without_secrets_key_and_says_so() {
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    settings.secrets = None;

    let started = upcheck_worker_notification::start(settings, CancellationToken::new()).await;

    let err = started.err().expect("no worker without SECRETS_KEY");
    assert!(format!("{err:#}").contains("SECRETS_KEY"), "{err:#}");
}
