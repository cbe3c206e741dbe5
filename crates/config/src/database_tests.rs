//! Unit tests for the database connection knobs, the read replica and retention settings.

use crate::{ConfigError, DatabaseNet, HousekeepingSettings, Settings};
use std::collections::HashMap;

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut env = HashMap::from([("DATABASE_URL".to_string(), "postgres://u:p@db:5432/upcheck".to_string())]);
    for (k, v) in pairs {
        env.insert((*k).to_string(), (*v).to_string());
    }
    Settings::from_env_map(env)
}

#[test]
fn connection_knobs_default_to_noticing_a_dead_connection_within_25_seconds() {
    let s = load(&[]).unwrap();
    let net = s.database.net;
    assert_eq!(net, DatabaseNet::default());
    assert_eq!(s.database.statement_timeout_ms, 20_000);
    assert_eq!(s.database.idle_in_transaction_timeout_ms, 60_000);
    assert_eq!(net.connect_timeout_ms, 5_000);
    let idle_dead =
        net.keepalives_idle_seconds + net.keepalives_interval_seconds * u64::from(net.keepalives_retries);
    assert_eq!(idle_dead, 25, "an idle connection's vanished peer is noticed within 30 s");
    assert_eq!(net.tcp_user_timeout_ms, 25_000);
    assert_eq!(net.response_timeout_ms, 25_000);
    assert!(net.response_timeout_ms > s.database.statement_timeout_ms);
}

#[test]
fn connection_knobs_are_read_and_range_checked() {
    let s = load(&[
        ("DATABASE_KEEPALIVES_IDLE_SECONDS", "3"),
        ("DATABASE_KEEPALIVES_INTERVAL_SECONDS", "2"),
        ("DATABASE_KEEPALIVES_RETRIES", "4"),
        ("DATABASE_TCP_USER_TIMEOUT_MS", "0"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "1500"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "0"),
        ("DATABASE_RESPONSE_TIMEOUT_MS", "0"),
    ])
    .unwrap();
    let net = s.database.net;
    assert_eq!(
        (net.keepalives_idle_seconds, net.keepalives_interval_seconds, net.keepalives_retries),
        (3, 2, 4)
    );
    assert_eq!((net.tcp_user_timeout_ms, net.connect_timeout_ms, net.response_timeout_ms), (0, 1_500, 0));
    for (var, bad) in [
        ("DATABASE_KEEPALIVES_IDLE_SECONDS", "0"),
        ("DATABASE_KEEPALIVES_INTERVAL_SECONDS", "601"),
        ("DATABASE_KEEPALIVES_RETRIES", "0"),
        ("DATABASE_TCP_USER_TIMEOUT_MS", "soon"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "99"),
        ("DATABASE_RESPONSE_TIMEOUT_MS", "-1"),
    ] {
        assert_eq!(load(&[(var, bad)]).unwrap_err().variable, var, "{var}={bad}");
    }
}

#[test]
fn the_response_timeout_must_exceed_the_statement_timeout() {
    let e = load(&[("DATABASE_STATEMENT_TIMEOUT_MS", "30000")]).unwrap_err();
    assert_eq!(e.variable, "DATABASE_RESPONSE_TIMEOUT_MS");
    assert!(e.message.contains("DATABASE_STATEMENT_TIMEOUT_MS"), "{}", e.message);
    let s = load(&[("DATABASE_STATEMENT_TIMEOUT_MS", "30000"), ("DATABASE_RESPONSE_TIMEOUT_MS", "35000")])
        .unwrap();
    assert_eq!(s.database.net.response_timeout_ms, 35_000);
}

#[test]
fn the_read_url_is_optional_and_shares_the_primarys_knobs() {
    assert!(load(&[]).unwrap().database_read.is_none());
    let s = load(&[
        ("DATABASE_READ_URL", "postgres://r:p@replica:6432/upcheck?sslmode=require"),
        ("DATABASE_POOL_SIZE", "7"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "5000"),
        ("DATABASE_KEEPALIVES_RETRIES", "5"),
    ])
    .unwrap();
    let read = s.database_read.expect("a replica");
    assert_eq!(read.config.get_ports(), [6432]);
    assert_eq!(read.ssl_mode, crate::PgSslMode::Require);
    assert_eq!(read.pool_size, 7);
    assert_eq!(read.statement_timeout_ms, 5_000);
    assert_eq!(read.net, s.database.net);
    assert_eq!(s.database.config.get_ports(), [5432], "the primary is untouched");
    for bad in ["mysql://x/y", "not a url", "postgres://r@replica/db?sslmode=sometimes"] {
        assert_eq!(load(&[("DATABASE_READ_URL", bad)]).unwrap_err().variable, "DATABASE_READ_URL", "{bad}");
    }
}

#[test]
fn retention_settings_default_and_are_range_checked() {
    let h = load(&[]).unwrap().housekeeping;
    assert_eq!(h, HousekeepingSettings::default());
    assert_eq!((h.status_events_days, h.notifications_days, h.sessions_days), (400, 90, 7));
    assert_eq!((h.interval_seconds, h.batch_size, h.batch_pause_ms), (300, 500, 200));
    let h =
        load(&[("RETENTION_STATUS_EVENTS_DAYS", "0"), ("RETENTION_BATCH_SIZE", "50")]).unwrap().housekeeping;
    assert_eq!((h.status_events_days, h.batch_size), (0, 50));
    for (var, bad) in [
        ("RETENTION_STATUS_EVENTS_DAYS", "1"),
        ("RETENTION_STATUS_EVENTS_DAYS", "36501"),
        ("RETENTION_NOTIFICATIONS_DAYS", "-3"),
        ("RETENTION_SESSIONS_DAYS", "a week"),
        ("RETENTION_INTERVAL_SECONDS", "5"),
        ("RETENTION_BATCH_SIZE", "100000"),
        ("RETENTION_BATCH_PAUSE_MS", "60001"),
    ] {
        assert_eq!(load(&[(var, bad)]).unwrap_err().variable, var, "{var}={bad}");
    }
}
