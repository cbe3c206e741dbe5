//! Keys whose names gained a Redis Cluster hash tag keep their contents on a single Redis.

use crate::helpers::xlen;
use upcheck_streams::{Keys, adopt_legacy_key};
use upcheck_testkit::TestEnv;

#[tokio::test]
async fn an_untagged_dead_letter_stream_is_renamed_once_and_never_over_a_newer_one() {
    let env = TestEnv::new().await;
    let stream = env.settings.streams.notification.clone();
    let old = Keys::legacy_dead_letter(&stream).expect("an untagged stream had <stream>:dlq");
    let new = Keys::dead_letter(&stream);
    let add = |key: String| {
        let mut conn = env.redis.clone();
        async move {
            let _: String =
                redis::cmd("XADD").arg(key).arg("*").arg("m").arg("{}").query_async(&mut conn).await.unwrap();
        }
    };
    add(old.clone()).await;
    add(old.clone()).await;

    assert!(adopt_legacy_key(&env.redis, &old, &new).await.unwrap(), "renamed");
    assert_eq!((xlen(&env, &new).await, xlen(&env, &old).await), (2, 0));
    assert!(!adopt_legacy_key(&env.redis, &old, &new).await.unwrap(), "nothing left to adopt");

    add(old.clone()).await;
    assert!(!adopt_legacy_key(&env.redis, &old, &new).await.unwrap(), "the tagged stream is kept");
    assert_eq!(xlen(&env, &new).await, 2);
}
