//! Leased slots against real Redis: the limit across holders, renewal, release and expiry.

use std::time::Duration;
use upcheck_streams::{Keys, Leases};
use upcheck_testkit::TestEnv;

async fn leases(env: &TestEnv) -> Leases {
    let conns = upcheck_streams::connect(&env.settings.redis).await.unwrap();
    Leases::new(conns.commands, Keys::new(&env.settings))
}

#[tokio::test]
async fn a_subject_holds_at_most_its_limit_and_a_release_frees_a_slot() {
    let env = TestEnv::new().await;
    let leases = leases(&env).await;
    // Two replicas' handles on the same Redis share the count.
    let other = leases.clone();
    assert!(leases.try_acquire("feed-user", "u1", "a", 2, 60_000).await.unwrap());
    assert!(other.try_acquire("feed-user", "u1", "b", 2, 60_000).await.unwrap());
    assert!(!leases.try_acquire("feed-user", "u1", "c", 2, 60_000).await.unwrap());
    // Taking a held lease again renews it instead of being refused.
    assert!(other.try_acquire("feed-user", "u1", "b", 2, 60_000).await.unwrap());
    // Another subject, and the same subject under another scope, are not held up.
    assert!(leases.try_acquire("feed-user", "u2", "c", 2, 60_000).await.unwrap());
    assert!(leases.try_acquire("feed-address", "u1", "c", 2, 60_000).await.unwrap());
    assert_eq!(leases.held("feed-user", "u1").await.unwrap(), 2);

    leases.release("feed-user", "u1", "a").await.unwrap();
    assert_eq!(leases.held("feed-user", "u1").await.unwrap(), 1);
    assert!(leases.try_acquire("feed-user", "u1", "c", 2, 60_000).await.unwrap());
}

#[tokio::test]
async fn an_unrenewed_lease_expires_and_a_renewed_one_lives_on() {
    let env = TestEnv::new().await;
    let leases = leases(&env).await;
    assert!(leases.try_acquire("feed-user", "u", "dies", 2, 300).await.unwrap());
    assert!(leases.try_acquire("feed-user", "u", "lives", 2, 300).await.unwrap());
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        leases.renew("feed-user", "u", "lives", 300).await.unwrap();
    }
    // "dies" was not renewed for 600 ms: its slot is free again, "lives" still holds its own.
    assert_eq!(leases.held("feed-user", "u").await.unwrap(), 1);
    assert!(leases.try_acquire("feed-user", "u", "new", 2, 60_000).await.unwrap());
    assert!(!leases.try_acquire("feed-user", "u", "one-too-many", 2, 60_000).await.unwrap());
}

#[tokio::test]
async fn a_renewal_takes_back_a_lease_redis_lost() {
    let env = TestEnv::new().await;
    let leases = leases(&env).await;
    assert!(leases.try_acquire("feed-user", "u", "a", 1, 60_000).await.unwrap());
    // Redis restarted empty: the key is gone.
    let mut conn = upcheck_streams::connect(&env.settings.redis).await.unwrap().commands;
    let _: i64 = redis::cmd("DEL")
        .arg(Keys::new(&env.settings).lease("feed-user", "u"))
        .query_async(&mut conn)
        .await
        .unwrap();
    leases.renew("feed-user", "u", "a", 60_000).await.unwrap();
    assert!(!leases.try_acquire("feed-user", "u", "b", 1, 60_000).await.unwrap());
}
