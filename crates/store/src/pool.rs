//! The deadpool-postgres pool and the embedded migrations.

use crate::StoreError;
use std::time::Duration;
use upcheck_config::DatabaseSettings;

/// The shared connection pool.
pub type Pool = deadpool_postgres::Pool;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Lock key serialising concurrent `migrate` runs (`pg_advisory_lock`).
const MIGRATION_LOCK: i64 = 0x7570_6368_6563_6b01;

/// Session settings of every pooled connection beside the timeouts: no parallel query and no
/// JIT compilation. Every statement Upcheck runs on a pooled connection is short (point and
/// index-range reads, batched writes), and Postgres sizes plans on estimates: a `/stats` read of
/// about 140 rows, estimated at 15,000, was given a parallel plan that started two worker
/// processes per request (6.3 ms instead of 0.3), and past `jit_above_cost` a generic plan of it
/// spent 23 ms compiling. Index builds (partition compaction) keep their own
/// `max_parallel_maintenance_workers`; migrations run on a connection of their own.
pub const SESSION_SETTINGS: &str = "SET max_parallel_workers_per_gather = 0; SET jit = off";

/// Builds a pool of at most `settings.pool_size` connections. No connection is opened yet;
/// each one opened gets the session's `statement_timeout` and
/// `idle_in_transaction_session_timeout` from the settings, [`SESSION_SETTINGS`], TCP
/// keepalives, `TCP_USER_TIMEOUT` and the response watchdog ([`crate::connect`]): a connection
/// whose peer vanished, or that hears nothing for `DATABASE_RESPONSE_TIMEOUT_MS` after a
/// request, is closed (failing its statement, transient) and replaced at the next checkout,
/// within 25 s with the defaults.
///
/// # Errors
/// [`StoreError::Corrupt`] when the TLS set-up is impossible (e.g. an unreadable CA file).
pub fn connect_pool(settings: &DatabaseSettings) -> Result<Pool, StoreError> {
    let tls = crate::tls::tls_connector(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let manager = deadpool_postgres::Manager::from_connect(
        settings.config.clone(),
        crate::connect::WatchedConnect { tls, net: settings.net },
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    let timeouts = format!(
        "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {}; {SESSION_SETTINGS}",
        settings.statement_timeout_ms, settings.idle_in_transaction_timeout_ms
    );
    let hosts = u32::try_from(settings.config.get_hosts().len().max(1)).unwrap_or(1);
    let connect = Duration::from_millis(settings.net.connect_timeout_ms);
    deadpool_postgres::Pool::builder(manager)
        .max_size(settings.pool_size)
        .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
            let timeouts = timeouts.clone();
            Box::pin(async move {
                client.batch_execute(&timeouts).await.map_err(deadpool_postgres::HookError::Backend)
            })
        }))
        .wait_timeout(Some(Duration::from_secs(5)))
        // Each host gets the connect timeout (`open` tries them in turn).
        .create_timeout(Some(connect * hosts + Duration::from_millis(500)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Corrupt(format!("pool set-up: {e}")))
}

/// Runs every pending migration. Idempotent, and safe from several processes at once: runs are
/// serialised by a Postgres advisory lock held on the migrating connection.
///
/// # Errors
/// [`StoreError::Db`] when Postgres is unreachable, [`StoreError::Migration`] when a migration fails.
pub async fn migrate(settings: &DatabaseSettings) -> Result<(), StoreError> {
    migrate_to(settings, None).await
}

/// Runs the pending migrations up to and including version `last` only: for tests of a
/// migration, which set up the schema as it stood before it.
///
/// # Errors
/// As [`migrate`].
#[doc(hidden)]
pub async fn migrate_until(settings: &DatabaseSettings, last: u32) -> Result<(), StoreError> {
    migrate_to(settings, Some(last)).await
}

async fn migrate_to(settings: &DatabaseSettings, last: Option<u32>) -> Result<(), StoreError> {
    let tls = crate::tls::tls_connector(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // Keepalives, but no response watchdog: a migration's statement (an index build) may
    // rightly run for minutes without a byte, and this session has no statement timeout.
    let net = upcheck_config::DatabaseNet { response_timeout_ms: 0, ..settings.net };
    let (mut client, driver) = crate::connect::open(&settings.config, &tls, &net).await?;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let mut runner = embedded::migrations::runner();
    if let Some(v) = last {
        runner = runner.set_target(refinery::Target::Version(v));
    }
    let report = runner.run_async(&mut client).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    drop(client);
    let _ = driver.await;
    let report = report?;
    for m in report.applied_migrations() {
        tracing::info!(migration = %m, "applied");
    }
    Ok(())
}

/// One round trip to Postgres, for readiness checks.
///
/// # Errors
/// [`StoreError`] when no connection can be had or the query fails.
pub async fn ping(pool: &Pool) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client.query_one("SELECT 1", &[]).await?;
    Ok(())
}
