//! One isolated environment per test: a fresh database (migrated) and a unique Redis prefix.

use std::collections::HashMap;
use upcheck_config::Settings;
use upcheck_store::Pool;

/// A fresh, migrated database plus a unique Redis key and stream prefix. Dropping it drops the
/// database and deletes every Redis key under the prefix.
pub struct TestEnv {
    /// Settings pointing at this test's database, prefix and streams.
    pub settings: Settings,
    /// A pool on this test's database.
    pub pool: Pool,
    /// A Redis connection (multiplexed; to the cluster when the settings name one).
    pub redis: upcheck_streams::RedisConn,
    /// The Redis prefix every key and stream of this test starts with.
    pub prefix: String,
    /// The environment variables `settings` was built from, with `DATABASE_URL` naming this
    /// test's database: hand them to a child process to run a component against this environment.
    pub vars: HashMap<String, String>,
    db_name: String,
    admin: Settings,
}

impl TestEnv {
    /// A new environment with default test settings.
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// A new environment whose settings are overridden by `overrides` (variable, value).
    /// Overriding `DATABASE_URL`, `REDIS_URL` or their CA settings points it at other servers;
    /// the test database is then created on that server.
    pub async fn with_env(overrides: &[(&str, &str)]) -> Self {
        crate::init_test_log();
        upcheck_config::install_crypto_provider();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("upcheck_test_{}", &id[..20]);
        let prefix = format!("test:{}:", &id[..20]);
        let mut base_env = base_env();
        // The servers (and how to reach them) apply to creating the test database too; a test's
        // timeouts do not: a `CREATE DATABASE` on a busy machine may take longer than a short
        // statement timeout under test.
        for (k, v) in overrides {
            if (k.starts_with("DATABASE_") || k.starts_with("REDIS_")) && !k.ends_with("_TIMEOUT_MS") {
                base_env.insert((*k).to_string(), (*v).to_string());
            }
        }
        let admin = Settings::from_env_map(base_env.clone()).expect("test settings");
        let admin_pool = upcheck_store::connect_pool(&admin.database).expect("admin pool");
        let client = admin_pool.get().await.unwrap_or_else(|e| {
            panic!("Postgres does not answer at DATABASE_URL ({e}); run the tests through scripts/test.sh")
        });
        client.batch_execute(&format!("CREATE DATABASE {db_name}")).await.expect("create test database");
        drop(client);
        admin_pool.close();

        let mut env = base_env;
        env.insert("REDIS_KEY_PREFIX".into(), prefix.clone());
        env.insert("MONITORING_STREAM".into(), format!("{prefix}monitoring"));
        env.insert("STATUS_CHANGE_STREAM".into(), format!("{prefix}status-change"));
        env.insert("NOTIFICATION_STREAM".into(), format!("{prefix}notification"));
        env.insert("JWT_SECRET".into(), "test-secret-that-is-at-least-32-characters-long".into());
        // A key of its own per test: nothing sealed in one test opens in another.
        env.insert("SECRETS_KEY".into(), upcheck_secrets::generate_key());
        env.insert("RECLAIM_IDLE_MS".into(), "3000".into());
        env.insert("WEBHOOK_TIMEOUT_MS".into(), "2000".into());
        env.insert("SMTP_TIMEOUT_MS".into(), "2000".into());
        env.insert("NOTIFICATION_RETRY_BASE_MS".into(), "50".into());
        env.insert("NOTIFICATION_RETRY_MAX_MS".into(), "500".into());
        env.insert("SCHEDULER_TICK_MS".into(), "20".into());
        env.insert("CHECK_BATCH_MS".into(), "5".into());
        env.insert("PORT".into(), "0".into());
        env.insert("HEALTH_PORT".into(), "0".into());
        env.insert("METRICS_PORT".into(), "0".into());
        env.insert("BIND_ADDRESS".into(), "127.0.0.1".into());
        env.insert("DATABASE_POOL_SIZE".into(), "8".into());
        // Names resolve through a loopback port nothing answers on unless a test starts its
        // own DNS server: no test ever sends a query to the machine's configured resolver.
        env.insert("PROBE_DNS_SERVERS".into(), "127.0.0.1:9".into());
        env.insert("PROBE_DNS_TIMEOUT_MS".into(), "300".into());
        for (k, v) in overrides {
            env.insert((*k).to_string(), (*v).to_string());
        }
        let mut settings = Settings::from_env_map(env.clone()).expect("test settings");
        settings.database = settings.database.with_dbname(&db_name);
        let mut vars = env;
        if let Some(raw) = vars.get_mut("DATABASE_URL")
            && let Ok(mut url) = url::Url::parse(raw)
        {
            url.set_path(&db_name);
            *raw = url.to_string();
        }
        upcheck_store::migrate(&settings.database).await.expect("migrate test database");
        let pool = upcheck_store::connect_pool(&settings.database).expect("pool");
        let redis = upcheck_streams::connect(&settings.redis).await.map(|c| c.commands).unwrap_or_else(|e| {
            panic!("Redis does not answer at REDIS_URL ({e}); run the tests through scripts/test.sh")
        });
        Self { settings, pool, redis, prefix, vars, db_name, admin }
    }

    /// The keyring of this test's `SECRETS_KEY` (a random key per environment).
    pub fn keys(&self) -> &upcheck_secrets::Keyring {
        self.settings.secrets.as_ref().expect("TestEnv sets SECRETS_KEY")
    }

    /// A pooled Postgres connection on this test's database, for assertions.
    pub async fn db(&self) -> deadpool_postgres::Object {
        self.pool.get().await.expect("test database connection")
    }
}

fn base_env() -> HashMap<String, String> {
    let mut env = HashMap::new();
    env.insert(
        "DATABASE_URL".to_string(),
        std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    );
    env.insert(
        "REDIS_URL".to_string(),
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    );
    env
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let db_name = self.db_name.clone();
        let prefix = self.prefix.clone();
        let admin = self.admin.clone();
        let redis = self.settings.redis.clone();
        self.pool.close();
        // Drop runs inside the test's runtime: do the async clean-up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Ok(pool) = upcheck_store::connect_pool(&admin.database)
                    && let Ok(client) = pool.get().await
                {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
                        .await;
                }
                // On a cluster, KEYS asks every master and DEL is split by slot (redis-rs).
                // Keys that share a stream's slot are named `{<stream>}:…` (see `Keys`).
                if let Ok(conns) = upcheck_streams::connect(&redis).await {
                    let mut conn = conns.commands;
                    for pattern in [format!("{prefix}*"), format!("{{{prefix}*")] {
                        let keys: Vec<String> =
                            redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await.unwrap_or_default();
                        if !keys.is_empty() {
                            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                        }
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}
