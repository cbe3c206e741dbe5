//! Secrets at rest: channel configs and monitor headers are sealed in Postgres, bound to
//! their row, readable under old keys while listed, and re-sealed by the rotation.

use crate::helpers::*;
use serde_json::json;
use upcheck_domain::ChannelKind;
use upcheck_secrets::Keyring;
use upcheck_store::{StoreError, channels, reseal};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

const SECRET: &str = "whsec_c3VwZXItc2VjcmV0LXNpZ25pbmcta2V5";

/// A keyring with a fresh key under `id` and `old` (id, base64 key) pairs; with its key.
fn ring(id: &str, old: &[(&str, &str)]) -> (Keyring, String) {
    let key = upcheck_secrets::generate_key();
    let old: Vec<String> = old.iter().map(|(id, key)| format!("{id}:{key}")).collect();
    (Keyring::from_parts(&key, id, &old.join(",")).unwrap(), key)
}

async fn raw_channel(env: &TestEnv, id: Uuid) -> String {
    let row = env
        .db()
        .await
        .query_one(
            "SELECT config::text || coalesce(config_sealed::text, '') FROM channels WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    row.get(0)
}

async fn stored_kid(env: &TestEnv, table: &str, column: &str, id: Uuid) -> Option<String> {
    let sql = format!("SELECT {column}->>'kid' FROM {table} WHERE id = $1");
    env.db().await.query_one(&sql, &[&id]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_channel_config_is_sealed_in_postgres_and_reads_back_in_clear() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let config = json!({"url": "http://127.0.0.1:1/hook", "secret": SECRET});

    let created =
        channels::create(&env.pool, env.keys(), owner, ChannelKind::Webhook, "hook", &config).await.unwrap();

    let raw = raw_channel(&env, created.id).await;
    assert!(!raw.contains(SECRET) && !raw.contains("127.0.0.1"), "clear text in Postgres: {raw}");
    assert_eq!(stored_kid(&env, "channels", "config_sealed", created.id).await.as_deref(), Some("k1"));
    assert_eq!(created.config, config);
    let read = channels::get(&env.pool, env.keys(), owner, created.id).await.unwrap().unwrap();
    assert_eq!(read.config, config);
    let listed = channels::list(&env.pool, env.keys(), owner, None, 10).await.unwrap();
    assert_eq!(listed[0].config, config);
    let new = json!({"url": "http://127.0.0.1:2/hook", "secret": SECRET});
    let updated =
        channels::update(&env.pool, env.keys(), owner, created.id, "hook", &new).await.unwrap().unwrap();
    assert_eq!(updated.config, new);
    assert!(!raw_channel(&env, created.id).await.contains(SECRET));
}

#[tokio::test]
async fn a_sealed_config_copied_to_another_row_does_not_open() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let config = json!({"url": "http://127.0.0.1:1/hook", "secret": SECRET});
    let a = channels::create(&env.pool, env.keys(), owner, ChannelKind::Webhook, "a", &config).await.unwrap();
    let b =
        channels::create(&env.pool, env.keys(), owner, ChannelKind::Webhook, "b", &json!({})).await.unwrap();

    env.db()
        .await
        .execute(
            "UPDATE channels SET config_sealed = (SELECT config_sealed FROM channels WHERE id = $1) WHERE id = $2",
            &[&a.id, &b.id],
        )
        .await
        .unwrap();

    let err = channels::get(&env.pool, env.keys(), owner, b.id).await.unwrap_err();
    assert!(matches!(err, StoreError::Secret { .. }), "{err}");
    assert!(err.to_string().contains(&b.id.to_string()), "{err}");
    assert!(channels::get(&env.pool, env.keys(), owner, a.id).await.is_ok());
}

#[tokio::test]
async fn an_old_key_still_listed_opens_and_a_forgotten_one_is_a_clear_error() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (old, old_key) = ring("k1", &[]);
    let config = json!({"url": "http://127.0.0.1:1/hook", "secret": SECRET});
    let c = channels::create(&env.pool, &old, owner, ChannelKind::Webhook, "hook", &config).await.unwrap();

    let (rotated, _) = ring("k2", &[("k1", &old_key)]);
    let (forgot, _) = ring("k2", &[]);

    assert_eq!(channels::get(&env.pool, &rotated, owner, c.id).await.unwrap().unwrap().config, config);
    let err = channels::get(&env.pool, &forgot, owner, c.id).await.unwrap_err();
    assert!(matches!(&err, StoreError::Secret { .. }), "{err}");
    assert!(err.to_string().contains("\"k1\"") && err.to_string().contains("SECRETS_OLD_KEYS"), "{err}");
    assert!(err.is_permanent() && !err.is_unavailable());
}

#[tokio::test]
async fn rotation_seals_clear_rows_and_old_keys_under_the_current_key_once() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let m = monitor(&env, owner).await;
    let (old, old_key) = ring("k1", &[]);
    let sealed_old =
        channels::create(&env.pool, &old, owner, ChannelKind::Webhook, "old", &json!({"secret": SECRET}))
            .await
            .unwrap();
    // A channel and a monitor's headers written before secrets were sealed.
    let legacy = Uuid::now_v7();
    let db = env.db().await;
    db.execute(
        "INSERT INTO channels (id, owner_id, kind, name, config) VALUES ($1, $2, 'webhook', 'legacy', $3)",
        &[&legacy, &owner, &json!({"url": "http://127.0.0.1:1/", "secret": SECRET})],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE monitors SET headers = $2 WHERE id = $1",
        &[&m, &json!({"Authorization": "Bearer tok-123"})],
    )
    .await
    .unwrap();
    assert_eq!(
        channels::get(&env.pool, &old, owner, legacy).await.unwrap().unwrap().config["secret"],
        SECRET
    );
    let (new, _) = ring("k2", &[("k1", &old_key)]);

    let channels_done = reseal::reseal_channels(&env.pool, &new, 1).await.unwrap();
    let monitors_done = reseal::reseal_monitor_headers(&env.pool, &new, 1).await.unwrap();

    assert_eq!((channels_done.resealed, channels_done.failed.len()), (2, 0));
    assert_eq!((monitors_done.resealed, monitors_done.failed.len()), (1, 0));
    for id in [sealed_old.id, legacy] {
        assert_eq!(stored_kid(&env, "channels", "config_sealed", id).await.as_deref(), Some("k2"));
        assert!(!raw_channel(&env, id).await.contains(SECRET));
        assert_eq!(
            channels::get(&env.pool, &new, owner, id).await.unwrap().unwrap().config["secret"],
            SECRET
        );
    }
    assert_eq!(stored_kid(&env, "monitors", "headers_sealed", m).await.as_deref(), Some("k2"));
    let raw: String = db
        .query_one("SELECT headers::text || headers_sealed::text FROM monitors WHERE id = $1", &[&m])
        .await
        .unwrap()
        .get(0);
    assert!(!raw.contains("tok-123"), "{raw}");
    let spec = upcheck_store::reconcile::active_specs(&env.pool, None, 10).await.unwrap().remove(0);
    assert_eq!(spec.open_headers(&new).unwrap()["Authorization"], "Bearer tok-123");
    let again = reseal::reseal_channels(&env.pool, &new, 100).await.unwrap();
    assert_eq!(again, reseal::Resealed::default(), "idempotent: nothing left to do");
    assert_eq!(
        reseal::reseal_monitor_headers(&env.pool, &new, 100).await.unwrap(),
        reseal::Resealed::default()
    );
}

#[tokio::test]
async fn rotation_reports_a_row_it_cannot_open_and_goes_on() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let (lost, _) = ring("k0", &[]);
    let orphan =
        channels::create(&env.pool, &lost, owner, ChannelKind::Webhook, "lost", &json!({"secret": SECRET}))
            .await
            .unwrap();
    let fine = channels::create(
        &env.pool,
        env.keys(),
        owner,
        ChannelKind::Webhook,
        "ok",
        &json!({"secret": SECRET}),
    )
    .await
    .unwrap();

    let done = reseal::reseal_channels(&env.pool, env.keys(), 10).await.unwrap();

    assert_eq!(done.resealed, 0, "the current key's row needs nothing");
    assert_eq!(done.failed.len(), 1);
    assert!(
        done.failed[0].contains(&orphan.id.to_string()) && done.failed[0].contains("k0"),
        "{:?}",
        done.failed
    );
    assert_eq!(stored_kid(&env, "channels", "config_sealed", orphan.id).await.as_deref(), Some("k0"));
    assert_eq!(stored_kid(&env, "channels", "config_sealed", fine.id).await.as_deref(), Some("k1"));
}
