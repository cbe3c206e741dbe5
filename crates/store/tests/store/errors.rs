//! Store errors classed by SQLSTATE: what a handler retries and what it dead-letters.

use upcheck_store::StoreError;
use upcheck_testkit::TestEnv;

/// The error Postgres gives for a statement raising `sqlstate`.
async fn raised(env: &TestEnv, sqlstate: &str) -> StoreError {
    let db = env.db().await;
    let sql =
        format!("DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '{sqlstate}'; END $$");
    StoreError::from(db.batch_execute(&sql).await.expect_err("raised"))
}

#[tokio::test]
async fn data_constraint_and_statement_errors_are_permanent_and_outages_transient() {
    let env = TestEnv::new().await;
    // Data exceptions, integrity violations, bad statements: retrying never helps.
    for code in ["22012", "22021", "22P02", "23505", "23503", "42703", "42P01"] {
        let e = raised(&env, code).await;
        assert_eq!(e.sqlstate(), Some(code));
        assert!(e.is_permanent(), "{code} is permanent");
    }
    // Serialization failure, deadlock, lock not available, too many connections, statement
    // time-out, admin shutdown, connection failure, I/O error: a retry may succeed.
    for code in ["40001", "40P01", "55P03", "53300", "57014", "57P01", "08006", "58030"] {
        let e = raised(&env, code).await;
        assert!(!e.is_permanent(), "{code} is transient");
    }
    assert!(StoreError::Corrupt("status \"sideways\"".into()).is_permanent());
}

#[tokio::test]
async fn a_real_nul_byte_in_text_is_a_permanent_data_error() {
    let env = TestEnv::new().await;
    let db = env.db().await;
    let e = db.execute("SELECT $1::text", &[&"bad\u{0}byte"]).await.expect_err("rejected");
    let e = StoreError::from(e);
    assert_eq!(e.sqlstate(), Some("22021"));
    assert!(e.is_permanent());
}

#[tokio::test]
async fn an_unreachable_database_is_transient() {
    // Port 1 on loopback: nothing listens there.
    let env = std::collections::HashMap::from([(
        "DATABASE_URL".to_string(),
        "postgres://postgres@127.0.0.1:1/postgres".to_string(),
    )]);
    let settings = upcheck_config::Settings::from_env_map(env).unwrap();
    let pool = upcheck_store::connect_pool(&settings.database).unwrap();
    let e = StoreError::from(pool.get().await.expect_err("nothing listens"));
    assert!(!e.is_permanent(), "{e}");
    assert!(e.is_unavailable());
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_and_transient() {
    let env = TestEnv::with_env(&[("DATABASE_STATEMENT_TIMEOUT_MS", "300")]).await;
    let db = env.db().await;
    let started = std::time::Instant::now();
    let e = StoreError::from(db.execute("SELECT pg_sleep(5)", &[]).await.expect_err("cancelled"));
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "cancelled after {:?}", started.elapsed());
    assert_eq!(e.sqlstate(), Some("57014"), "{e}");
    assert!(!e.is_permanent());
}

#[tokio::test]
async fn a_transaction_left_idle_is_ended_by_postgres() {
    let env = TestEnv::with_env(&[("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", "300")]).await;
    let mut db = env.db().await;
    let tx = db.transaction().await.unwrap();
    tx.execute("SELECT 1", &[]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    let e = StoreError::from(tx.execute("SELECT 1", &[]).await.expect_err("the session was ended"));
    assert!(!e.is_permanent(), "{e}");
}
