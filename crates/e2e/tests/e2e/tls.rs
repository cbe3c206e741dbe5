//! The managed-services path without the cloud: the whole stack against a Postgres that takes
//! only TLS connections and a Redis with only a TLS port, as Neon and Upstash serve them, using
//! the URL forms they hand out (`?sslmode=require`, `rediss://`).

use crate::helpers::{Stack, WAIT};
use serde_json::json;
use upcheck_config::Settings;
use upcheck_testkit::tls::TlsServers;
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_only_servers_a_check_is_stored_and_a_transition_delivered() {
    let servers = TlsServers::start();
    let ca = servers.ca_cert.to_str().unwrap().to_string();
    // `sslmode=require` encrypts without verifying (libpq's meaning), as Neon's URLs say;
    // `rediss://` verifies, here against the test CA.
    let env = TestEnv::with_env(&[
        ("DATABASE_URL", &servers.database_url("postgres", "require", "127.0.0.1")),
        ("REDIS_URL", &servers.redis_url("localhost")),
        ("REDIS_CA_CERT", &ca),
    ])
    .await;
    let stack = Stack::start_in(env).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let channel = stack
        .post(
            "/channels",
            json!({"kind": "webhook", "name": "ops", "config": {"url": receiver.url,
                   "secret": upcheck_domain::webhook::generate_secret()}}),
        )
        .await;
    let monitor = stack
        .post(
            "/monitors",
            json!({"name": "target", "url": target.url, "interval_seconds": 1, "timeout_ms": 500,
                   "failure_threshold": 1, "recovery_threshold": 1, "channel_ids": [channel["id"]]}),
        )
        .await;
    let id = monitor["id"].as_str().unwrap().to_string();
    let checks = wait_for("a stored check", WAIT, || async {
        let c = stack.get(&format!("/monitors/{id}/checks")).await;
        (!c["items"].as_array().unwrap().is_empty()).then_some(c)
    })
    .await;
    assert_eq!(checks["items"][0]["status"], "up");
    target.set_status(503);
    let hook = wait_for("the down webhook", WAIT, || async { receiver.received().into_iter().next() }).await;
    assert_eq!(hook.json()["type"], "monitor.down");
    assert_eq!(hook.json()["monitor"]["id"], id.as_str());

    // Every connection the stack made was TLS: the server has no other way in.
    let ssl: (i64, i64) = {
        let row = stack
            .env
            .db()
            .await
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
                 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.backend_type = 'client backend'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(ssl.0 >= 1 && ssl.1 == 0, "client connections (tls, plain) = {ssl:?}");
    stack.stop().await;
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    Settings::from_env_map(vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect())
        .expect("settings")
}

async fn postgres_answers(database_url: &str, ca: Option<&str>) -> Result<(), String> {
    let mut vars = vec![("DATABASE_URL", database_url), ("REDIS_URL", "redis://127.0.0.1:1")];
    if let Some(ca) = ca {
        vars.push(("DATABASE_CA_CERT", ca));
    }
    let pool = upcheck_store::connect_pool(&settings(&vars).database).map_err(|e| e.to_string())?;
    let result = upcheck_store::ping(&pool).await.map_err(|e| format!("{e:?}"));
    pool.close();
    result
}

async fn redis_answers(redis_url: &str, ca: Option<&str>) -> Result<(), String> {
    let mut vars = vec![("DATABASE_URL", "postgres://127.0.0.1:1/x"), ("REDIS_URL", redis_url)];
    if let Some(ca) = ca {
        vars.push(("REDIS_CA_CERT", ca));
    }
    let conns = upcheck_streams::connect(&settings(&vars).redis).await.map_err(|e| format!("{e:?}"))?;
    let pong: String =
        redis::cmd("PING").query_async(&mut conns.commands.clone()).await.map_err(|e| e.to_string())?;
    (pong == "PONG").then_some(()).ok_or(pong)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_accepts_the_servers_ca_and_rejects_an_unknown_issuer() {
    upcheck_config::install_crypto_provider();
    let servers = TlsServers::start();
    let ca = servers.ca_cert.to_str().unwrap();

    // verify-full with the CA: the chain and the host name (DNS or IP SAN) are checked.
    for host in ["localhost", "127.0.0.1"] {
        let url = servers.database_url("postgres", "verify-full", host);
        assert_eq!(postgres_answers(&url, Some(ca)).await, Ok(()), "{url}");
    }
    // libpq's sslrootcert= in the URL works as DATABASE_CA_CERT does.
    let url = format!("{}&sslrootcert={ca}", servers.database_url("postgres", "verify-ca", "localhost"));
    assert_eq!(postgres_answers(&url, None).await, Ok(()), "{url}");
    // Without the CA, only the platform's roots: the test CA is unknown, so no connection.
    let url = servers.database_url("postgres", "verify-full", "localhost");
    let err = postgres_answers(&url, None).await.expect_err("an unknown issuer is refused");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // A plain-text connection is refused by the server (hostssl only), so TLS really is in use.
    let url = servers.database_url("postgres", "disable", "127.0.0.1");
    assert!(postgres_answers(&url, None).await.is_err(), "plain text refused");

    // Redis: rediss:// with REDIS_CA_CERT verifies; without it the platform roots reject.
    assert_eq!(redis_answers(&servers.redis_url("localhost"), Some(ca)).await, Ok(()));
    let err = redis_answers(&servers.redis_url("localhost"), None).await.expect_err("unknown issuer");
    assert!(err.contains("UnknownIssuer"), "{err}");
}
