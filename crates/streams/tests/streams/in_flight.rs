//! The in-flight limits against real Redis: per channel, per owner, release and expiry.

use std::time::Duration;
use upcheck_streams::{Admission, InFlight, Keys};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

async fn limits(env: &TestEnv, per_channel: u32, per_owner: u32, hold_ms: u64) -> InFlight {
    let conns = upcheck_streams::connect(&env.settings.redis).await.unwrap();
    InFlight::new(conns.commands, Keys::new(&env.settings), per_channel, per_owner, hold_ms)
}

#[tokio::test]
async fn a_channel_admits_at_most_its_limit_and_a_release_frees_a_slot() {
    let env = TestEnv::new().await;
    let limits = limits(&env, 2, 10, 60_000).await;
    let (owner, channel) = (Uuid::now_v7(), Uuid::now_v7());
    let holders: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();

    assert_eq!(limits.try_acquire(owner, channel, holders[0]).await.unwrap(), Admission::Admitted);
    assert_eq!(limits.try_acquire(owner, channel, holders[1]).await.unwrap(), Admission::Admitted);
    assert_eq!(limits.try_acquire(owner, channel, holders[2]).await.unwrap(), Admission::ChannelFull);
    // A holder taking its slot again renews it rather than being refused.
    assert_eq!(limits.try_acquire(owner, channel, holders[1]).await.unwrap(), Admission::Admitted);
    // Another channel of the same owner is not held up by the full one.
    assert_eq!(limits.try_acquire(owner, Uuid::now_v7(), holders[2]).await.unwrap(), Admission::Admitted);

    limits.release(owner, channel, holders[0]).await.unwrap();
    assert_eq!(limits.try_acquire(owner, channel, Uuid::now_v7()).await.unwrap(), Admission::Admitted);
}

#[tokio::test]
async fn an_owner_admits_at_most_its_limit_over_all_its_channels_and_others_go_on() {
    let env = TestEnv::new().await;
    let limits = limits(&env, 4, 3, 60_000).await;
    let owner = Uuid::now_v7();
    for _ in 0..3 {
        assert_eq!(
            limits.try_acquire(owner, Uuid::now_v7(), Uuid::now_v7()).await.unwrap(),
            Admission::Admitted
        );
    }
    assert_eq!(
        limits.try_acquire(owner, Uuid::now_v7(), Uuid::now_v7()).await.unwrap(),
        Admission::OwnerFull
    );
    let other = Uuid::now_v7();
    assert_eq!(limits.try_acquire(other, Uuid::now_v7(), Uuid::now_v7()).await.unwrap(), Admission::Admitted);
}

#[tokio::test]
async fn a_hold_nobody_releases_frees_itself_when_it_expires() {
    let env = TestEnv::new().await;
    let limits = limits(&env, 1, 1, 300).await;
    let (owner, channel) = (Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(limits.try_acquire(owner, channel, Uuid::now_v7()).await.unwrap(), Admission::Admitted);
    assert_eq!(limits.try_acquire(owner, channel, Uuid::now_v7()).await.unwrap(), Admission::ChannelFull);

    tokio::time::sleep(Duration::from_millis(400)).await;

    assert_eq!(limits.try_acquire(owner, channel, Uuid::now_v7()).await.unwrap(), Admission::Admitted);
}
