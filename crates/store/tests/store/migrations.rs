//! Migrations are idempotent and safe to run from two processes at once.

use upcheck_testkit::TestEnv;

#[tokio::test]
async fn migrating_twice_at_once_and_again_later_succeeds() {
    let env = TestEnv::new().await;
    let db = env.settings.database.clone();

    let (a, b) = tokio::join!(upcheck_store::migrate(&db), upcheck_store::migrate(&db));
    a.unwrap();
    b.unwrap();
    upcheck_store::migrate(&db).await.unwrap();

    let applied: i64 =
        env.db().await.query_one("SELECT count(*) FROM refinery_schema_history", &[]).await.unwrap().get(0);
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(applied as usize, files);
}
