//! Sealed request headers: opened only inside the probe, never in clear in Redis.

use crate::worker::{now_ms, schedule, start};
use std::collections::HashMap;
use std::time::Duration;
use upcheck_domain::CheckOutcome;
use upcheck_testkit::fixtures::{monitor, spec, user};
use upcheck_testkit::{TestEnv, WebhookReceiver, wait_for};
use upcheck_worker_monitoring::probe::Probe;

const TOKEN: &str = "Bearer s3cr3t-probe-credential";

/// Every value of every entry of the stream `key`, and of the hash `hash`, as one text.
async fn redis_text(env: &TestEnv, stream: &str, hash: &str) -> String {
    let mut conn = env.redis.clone();
    let entries: Vec<(String, HashMap<String, String>)> =
        redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    let specs: HashMap<String, String> =
        redis::cmd("HGETALL").arg(hash).query_async(&mut conn).await.unwrap();
    format!("{entries:?}{specs:?}")
}

#[tokio::test]
async fn the_probe_sends_the_real_header_while_redis_holds_it_sealed() {
    let env = TestEnv::new().await;
    let target = WebhookReceiver::start().await;
    let mut s = spec(&target.url);
    s.headers.insert("Authorization".into(), TOKEN.into());
    s.seal_headers(env.keys());
    monitor(&env, user(&env).await, &s).await;
    schedule(&env).await.upsert(&s, now_ms()).await.unwrap();

    let worker = start(&env).await;
    wait_for("a check with the header", Duration::from_secs(15), || async {
        (!target.received().is_empty()).then_some(())
    })
    .await;

    assert_eq!(target.received()[0].header("authorization"), Some(TOKEN));
    let keys = upcheck_streams::Keys::new(&env.settings);
    let shard = keys.shard_of(s.monitor_id);
    let stream = keys.monitoring_stream(shard);
    let dump = redis_text(&env, &stream, &keys.specs(shard)).await;
    assert!(dump.contains(&s.monitor_id.to_string()), "the spec and job are there: {dump}");
    assert!(!dump.contains("s3cr3t") && !dump.contains("Authorization"), "clear header in Redis: {dump}");
    worker.stop().await;
}

#[tokio::test]
async fn sealed_headers_that_do_not_open_fail_the_check_saying_why() {
    let env = TestEnv::new().await;
    let target = WebhookReceiver::start().await;
    let mut s = spec(&target.url);
    s.headers.insert("Authorization".into(), TOKEN.into());
    s.seal_headers(env.keys());
    let other = upcheck_secrets::Keyring::from_parts(&upcheck_secrets::generate_key(), "k1", "").unwrap();
    let plain = crate::policy::probe_with(upcheck_domain::netpolicy::NetworkPolicy::default(), None);

    let without_key = plain.clone().probe(&s).await;
    let wrong_key = plain.clone().with_secrets(other).probe(&s).await;
    let right_key = plain.with_secrets(env.keys().clone()).probe(&s).await;

    assert_eq!(without_key.outcome, CheckOutcome::Down);
    assert!(without_key.error.as_deref().unwrap().contains("SECRETS_KEY"), "{:?}", without_key.error);
    assert_eq!(wrong_key.outcome, CheckOutcome::Down);
    assert!(wrong_key.error.as_deref().unwrap().contains("cannot be decrypted"), "{:?}", wrong_key.error);
    assert_eq!(right_key.outcome, CheckOutcome::Up);
    assert_eq!(target.received().len(), 1, "only the probe that could open the headers sent a request");
    assert_eq!(target.received()[0].header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn the_worker_does_not_start_without_secrets_key_and_says_so() {
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    settings.secrets = None;

    let started =
        upcheck_worker_monitoring::start(settings, tokio_util::sync::CancellationToken::new()).await;

    let err = started.err().expect("no worker without SECRETS_KEY");
    assert!(format!("{err:#}").contains("SECRETS_KEY"), "{err:#}");
}
