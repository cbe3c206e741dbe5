//! Refresh-token families under concurrency: one token presented twice at once rotates once
//! and revokes the family on the other presentation.

use crate::helpers::user;
use time::{Duration, OffsetDateTime};
use upcheck_store::sessions::{self, Rotation};
use upcheck_testkit::TestEnv;

#[tokio::test]
async fn one_token_presented_twice_at_once_rotates_once_and_revokes_the_family() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let expires = OffsetDateTime::now_utc() + Duration::days(1);
    let family = sessions::start(&env.pool, owner, b"first", expires).await.unwrap();

    let (a, b) = tokio::join!(
        sessions::rotate(&env.pool, b"first", b"second-a"),
        sessions::rotate(&env.pool, b"first", b"second-b"),
    );

    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, Rotation::Replayed { .. }));
    assert!(
        matches!(outcomes[0], Rotation::Rotated { family_id, .. } if family_id == family),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Rotation::Replayed { user_id: owner, family_id: family });
    let Rotation::Rotated { expires_at, .. } = outcomes[0] else { unreachable!() };
    assert_eq!(expires_at.unix_timestamp(), expires.unix_timestamp(), "the family's expiry, fixed at start");
    for newest in [b"second-a".as_slice(), b"second-b"] {
        assert_eq!(sessions::rotate(&env.pool, newest, b"third").await.unwrap(), Rotation::Refused);
    }
}

#[tokio::test]
async fn revoke_all_ends_only_the_live_families_of_one_user() {
    let env = TestEnv::new().await;
    let (owner, other) = (user(&env).await, user(&env).await);
    let expires = OffsetDateTime::now_utc() + Duration::days(1);
    sessions::start(&env.pool, owner, b"a", expires).await.unwrap();
    sessions::start(&env.pool, owner, b"b", expires).await.unwrap();
    sessions::start(&env.pool, other, b"c", expires).await.unwrap();
    sessions::logout(&env.pool, b"b").await.unwrap().unwrap();

    let revoked = sessions::revoke_all(&env.pool, owner, sessions::Revoked::LogoutAll).await.unwrap();

    assert_eq!(revoked, 1, "the family logged out already is not counted again");
    assert_eq!(sessions::rotate(&env.pool, b"a", b"a2").await.unwrap(), Rotation::Refused);
    assert!(matches!(sessions::rotate(&env.pool, b"c", b"c2").await.unwrap(), Rotation::Rotated { .. }));
}
