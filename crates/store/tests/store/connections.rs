//! Dead connections fail fast: a pooled connection behind a proxy that stops forwarding
//! (a blackhole: TCP stays up, nothing gets through) fails its statement within the response
//! timeout instead of hanging, and the pool recovers once the path forwards again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use upcheck_store::{Pool, StoreError};
use upcheck_testkit::TestEnv;

/// A loopback TCP proxy to `upstream` that forwards while `forwarding` is set and otherwise
/// holds every byte, keeping both connections open.
struct Proxy {
    port: u16,
    forwarding: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let forwarding = Arc::new(AtomicBool::new(true));
        let gate = forwarding.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, gate.clone()));
                tokio::spawn(pump(sr, cw, gate.clone()));
            }
        });
        Self { port, forwarding }
    }

    fn blackhole(&self, on: bool) {
        self.forwarding.store(!on, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    forwarding: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while !forwarding.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while !forwarding.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A pool on `env`'s database through `proxy`, with the given extra settings.
fn pool_through(env: &TestEnv, proxy: &Proxy, extra: &[(&str, &str)]) -> Pool {
    let db = env.settings.database.config.get_dbname().unwrap().to_string();
    let mut vars = std::collections::HashMap::from([(
        "DATABASE_URL".to_string(),
        format!("postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable", proxy.port),
    )]);
    for (k, v) in extra {
        vars.insert((*k).to_string(), (*v).to_string());
    }
    let settings = upcheck_config::Settings::from_env_map(vars).expect("settings");
    upcheck_store::connect_pool(&settings.database).expect("pool")
}

fn upstream(env: &TestEnv) -> String {
    let config = &env.settings.database.config;
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("the tests' Postgres is reached over TCP, not {other:?}"),
    };
    format!("{host}:{}", config.get_ports().first().copied().unwrap_or(5432))
}

async fn select_one(pool: &Pool) -> Result<i32, StoreError> {
    let client = pool.get().await?;
    Ok(client.query_one("SELECT 1", &[]).await?.get(0))
}

#[tokio::test]
async fn a_blackholed_connection_fails_within_the_response_timeout_and_the_pool_recovers() {
    let env = TestEnv::new().await;
    let proxy = Proxy::start(upstream(&env)).await;
    let pool = pool_through(
        &env,
        &proxy,
        &[
            ("DATABASE_STATEMENT_TIMEOUT_MS", "500"),
            ("DATABASE_RESPONSE_TIMEOUT_MS", "1500"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "1000"),
            ("DATABASE_KEEPALIVES_IDLE_SECONDS", "1"),
            ("DATABASE_KEEPALIVES_INTERVAL_SECONDS", "1"),
            ("DATABASE_KEEPALIVES_RETRIES", "2"),
            ("DATABASE_TCP_USER_TIMEOUT_MS", "2000"),
        ],
    );
    assert_eq!(select_one(&pool).await.expect("through the proxy"), 1);

    // The path goes silent: the pooled connection's statement fails, it does not hang.
    proxy.blackhole(true);
    let started = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(30), select_one(&pool))
        .await
        .expect("a statement on a dead connection must fail, not hang")
        .expect_err("nothing answers");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_400), "failed after {took:?}, before the response timeout");
    assert!(took < Duration::from_secs(5), "failed only after {took:?}");
    assert!(e.is_unavailable() && !e.is_permanent(), "{e}");
    // A new connection cannot get through either, and says so within the connect timeout.
    let started = Instant::now();
    let e = select_one(&pool).await.expect_err("still blackholed");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(e.is_unavailable(), "{e}");

    // The path heals: the pool replaces the dead connection.
    proxy.blackhole(false);
    let healed = async {
        loop {
            if let Ok(1) = select_one(&pool).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), healed).await.expect("the pool recovers");
    assert_eq!(pool.status().size, 1, "the dead connection was dropped, not kept beside the new one");
}

#[tokio::test]
async fn a_slow_statement_within_the_statement_timeout_is_not_taken_for_a_dead_connection() {
    let env = TestEnv::new().await;
    let proxy = Proxy::start(upstream(&env)).await;
    let pool = pool_through(
        &env,
        &proxy,
        &[("DATABASE_STATEMENT_TIMEOUT_MS", "3000"), ("DATABASE_RESPONSE_TIMEOUT_MS", "4000")],
    );
    let client = pool.get().await.unwrap();
    // Silent for 1.5 s: longer than nothing, shorter than both timeouts.
    client.execute("SELECT pg_sleep(1.5)", &[]).await.expect("a slow statement completes");
    // Past the statement timeout, Postgres cancels it and answers before the watchdog fires.
    let e = StoreError::from(client.execute("SELECT pg_sleep(10)", &[]).await.expect_err("cancelled"));
    assert_eq!(e.sqlstate(), Some("57014"), "{e}");
    assert_eq!(client.query_one("SELECT 2", &[]).await.unwrap().get::<_, i32>(0), 2, "still usable");
}

#[tokio::test]
async fn a_long_copy_that_keeps_sending_is_not_taken_for_a_dead_connection() {
    use futures::SinkExt;
    let env = TestEnv::new().await;
    let proxy = Proxy::start(upstream(&env)).await;
    let pool = pool_through(
        &env,
        &proxy,
        &[("DATABASE_STATEMENT_TIMEOUT_MS", "0"), ("DATABASE_RESPONSE_TIMEOUT_MS", "1000")],
    );
    let client = pool.get().await.unwrap();
    client.batch_execute("CREATE TEMP TABLE copied (n int)").await.unwrap();
    let sink = client.copy_in("COPY copied (n) FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    // 2.5 s of COPY with no answer from Postgres, but a write every 250 ms.
    for n in 0..10 {
        sink.send(bytes::Bytes::from(format!("{n}\n"))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(sink.as_mut().finish().await.expect("the COPY completes"), 10);
}

/// The plan of `sql` on `client`, one line per node.
async fn plan(client: &tokio_postgres::Client, sql: &str) -> String {
    let rows = client.query(&format!("EXPLAIN {sql}"), &[]).await.unwrap();
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn pooled_connections_plan_no_parallel_workers_and_compile_nothing() {
    let env = TestEnv::with_env(&[("DATABASE_STATEMENT_TIMEOUT_MS", "7000")]).await;
    let pooled = env.pool.get().await.unwrap();
    // Parallel plans and JIT made as cheap as they can be, on a table big enough for both (a
    // plain table: a temporary one is never read in parallel; the test's database is its own).
    let cheap = "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; \
                 SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0";
    pooled
        .batch_execute(&format!(
            "CREATE TABLE wide AS SELECT g AS n FROM generate_series(1, 100000) AS g; ANALYZE wide; {cheap}"
        ))
        .await
        .unwrap();
    let query = "SELECT sum(n) FROM wide";
    let on_pool = plan(&pooled, query).await;
    assert!(!on_pool.contains("Gather") && !on_pool.contains("Parallel"), "{on_pool}");
    let explained = pooled.query_one(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {query}"), &[]).await.unwrap();
    let json: serde_json::Value = explained.get(0);
    assert!(json[0].get("JIT").is_none(), "compiled on a pooled connection: {json}");
    let timeout: String = pooled.query_one("SHOW statement_timeout", &[]).await.unwrap().get(0);
    assert_eq!(timeout, "7s", "the settings' own timeout is kept beside them");

    // The same server and costs on a connection of its own: both happen, so the pool's
    // settings are what keeps them out.
    let (own, driver) =
        env.settings.database.config.connect(tokio_postgres::NoTls).await.expect("a connection of its own");
    tokio::spawn(driver);
    own.batch_execute(cheap).await.unwrap();
    let jit_available: bool = own.query_one("SELECT pg_jit_available()", &[]).await.unwrap().get(0);
    assert!(plan(&own, query).await.contains("Gather"), "the server plans in parallel when let");
    if jit_available {
        let explained = own.query_one(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {query}"), &[]).await.unwrap();
        let json: serde_json::Value = explained.get(0);
        assert!(json[0].get("JIT").is_some(), "the server compiles when let: {json}");
    }
}
