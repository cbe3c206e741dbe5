//! Unit tests for every resolution rule of [`Settings`].

use super::*;
use crate::PgSslMode;
use secrecy::ExposeSecret;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = [("DATABASE_URL", "postgres://u:p@db:5432/upcheck")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in pairs {
        m.insert((*k).to_string(), (*v).to_string());
    }
    m
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_env_map(env(pairs))
}

fn err_var(pairs: &[(&str, &str)]) -> String {
    load(pairs).unwrap_err().variable
}

#[test]
fn defaults_apply_when_only_the_database_is_given() {
    let s = load(&[]).unwrap();
    assert_eq!(s.port, 8080);
    assert_eq!(s.region, "local");
    assert_eq!(s.redis.key_prefix, "upcheck:");
    assert_eq!(s.redis.url.expose_secret(), "redis://127.0.0.1:6379");
    assert_eq!(s.streams.monitoring, "upcheck:monitoring");
    assert_eq!(s.streams.status_change, "upcheck:status-change");
    assert_eq!(s.streams.notification, "upcheck:notification");
    assert_eq!(s.streams.monitoring_group, "monitoring:local");
    assert_eq!(s.tunables.reclaim_idle_ms, 30_000);
    assert_eq!(s.database.ssl_mode, PgSslMode::Prefer);
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert!(s.jwt_secret.is_none());
    assert!(s.streams.consumer.ends_with(&format!("-{}", std::process::id())));
}

#[test]
fn database_url_is_required_and_must_be_postgres() {
    let mut e = env(&[]);
    e.remove("DATABASE_URL");
    assert_eq!(Settings::from_env_map(e).unwrap_err().variable, "DATABASE_URL");
    assert_eq!(err_var(&[("DATABASE_URL", "mysql://x/y")]), "DATABASE_URL");
    assert_eq!(err_var(&[("DATABASE_URL", "not a url")]), "DATABASE_URL");
}

#[test]
fn sslmode_is_honoured_and_removed_from_the_connection_string() {
    for (mode, want) in [
        ("disable", PgSslMode::Disable),
        ("prefer", PgSslMode::Prefer),
        ("require", PgSslMode::Require),
        ("verify-ca", PgSslMode::VerifyCa),
        ("verify-full", PgSslMode::VerifyFull),
    ] {
        let url = format!("postgresql://u:p@ep-x.neon.tech/neondb?sslmode={mode}&connect_timeout=5");
        let s = load(&[("DATABASE_URL", &url)]).unwrap();
        assert_eq!(s.database.ssl_mode, want, "{mode}");
        assert_eq!(s.database.config.get_dbname(), Some("neondb"));
        assert_eq!(s.database.config.get_connect_timeout(), Some(&std::time::Duration::from_secs(5)));
    }
    assert_eq!(err_var(&[("DATABASE_URL", "postgres://h/db?sslmode=sometimes")]), "DATABASE_URL");
}

#[test]
fn a_missing_ca_file_is_named() {
    assert_eq!(err_var(&[("DATABASE_CA_CERT", "/nonexistent/ca.pem")]), "DATABASE_CA_CERT");
    assert_eq!(err_var(&[("REDIS_CA_CERT", "/nonexistent/ca.pem")]), "REDIS_CA_CERT");
}

#[test]
fn redis_url_wins_over_redis_addr() {
    let s = load(&[("REDIS_URL", "rediss://default:tok@eu1.upstash.io:6379"), ("REDIS_ADDR", "other:1")])
        .unwrap();
    assert_eq!(s.redis.url.expose_secret(), "rediss://default:tok@eu1.upstash.io:6379");
    assert!(s.redis.is_tls());
    assert_eq!(s.redis.redacted_endpoint(), "rediss://eu1.upstash.io:6379");
}

#[test]
fn redis_addr_builds_a_url_with_credentials_and_tls() {
    let s =
        load(&[("REDIS_ADDR", "cache:6380"), ("REDIS_PASSWORD", "s3cret"), ("REDIS_TLS", "true")]).unwrap();
    assert_eq!(s.redis.url.expose_secret(), "rediss://default:s3cret@cache:6380");
    let s =
        load(&[("REDIS_ADDR", "cache:6380"), ("REDIS_USERNAME", "app"), ("REDIS_PASSWORD", "pw")]).unwrap();
    assert_eq!(s.redis.url.expose_secret(), "redis://app:pw@cache:6380");
    let s = load(&[("REDIS_ADDR", "cache:6380")]).unwrap();
    assert_eq!(s.redis.url.expose_secret(), "redis://cache:6380");
}

#[test]
fn malformed_redis_settings_name_their_variable() {
    assert_eq!(err_var(&[("REDIS_URL", "http://x:6379")]), "REDIS_URL");
    assert_eq!(err_var(&[("REDIS_ADDR", "nohostport")]), "REDIS_ADDR");
    assert_eq!(err_var(&[("REDIS_ADDR", "h:notaport")]), "REDIS_ADDR");
    assert_eq!(err_var(&[("REDIS_ADDR", "h:1"), ("REDIS_TLS", "maybe")]), "REDIS_TLS");
}

#[test]
fn a_redis_cluster_is_named_by_its_seed_nodes_or_a_cluster_url() {
    let s = load(&[
        ("REDIS_CLUSTER_URLS", "redis://a:7000, redis://:pw@b:7001,"),
        ("REDIS_URL", "redis://single:6379"),
    ])
    .unwrap();
    assert!(s.redis.is_cluster());
    let seeds: Vec<&str> = s.redis.cluster_urls.iter().map(|u| u.expose_secret()).collect();
    assert_eq!(seeds, ["redis://a:7000", "redis://:pw@b:7001"]);
    assert_eq!(s.redis.redacted_endpoint(), "redis://a:7000");

    let s =
        load(&[("REDIS_URL", "rediss+cluster://default:tok@clustercfg.cache.amazonaws.com:6379")]).unwrap();
    assert!(s.redis.is_cluster() && s.redis.is_tls());
    assert_eq!(
        s.redis.cluster_urls[0].expose_secret(),
        "rediss://default:tok@clustercfg.cache.amazonaws.com:6379"
    );
    assert!(!load(&[("REDIS_URL", "redis://single:6379")]).unwrap().redis.is_cluster());
    assert!(!load(&[("REDIS_CLUSTER_URLS", " ")]).unwrap().redis.is_cluster());
}

#[test]
fn malformed_cluster_settings_name_their_variable() {
    assert_eq!(err_var(&[("REDIS_CLUSTER_URLS", "http://a:7000")]), "REDIS_CLUSTER_URLS");
    assert_eq!(err_var(&[("REDIS_CLUSTER_URLS", "redis://a:7000,a:7001")]), "REDIS_CLUSTER_URLS");
    assert_eq!(err_var(&[("REDIS_CLUSTER_URLS", "redis://a:1,rediss://b:2")]), "REDIS_CLUSTER_URLS");
    assert_eq!(err_var(&[("REDIS_URL", "redis+cluster://")]), "REDIS_URL");
    assert_eq!(
        err_var(&[("REDIS_CLUSTER_URLS", "redis://a:7000"), ("REDIS_KEY_PREFIX", "{up}:")]),
        "REDIS_KEY_PREFIX"
    );
}

#[test]
fn numbers_are_range_checked_and_named() {
    assert_eq!(err_var(&[("PORT", "eighty")]), "PORT");
    assert_eq!(err_var(&[("PORT", "70000")]), "PORT");
    assert_eq!(err_var(&[("SCHEDULE_SHARDS", "0")]), "SCHEDULE_SHARDS");
    assert_eq!(load(&[("STREAM_MAXLEN", "1_000_000")]).unwrap().tunables.stream_maxlen, 1_000_000);
    assert_eq!(load(&[]).unwrap().tunables.monitoring_stream_maxlen, 20_000);
    assert_eq!(err_var(&[("MONITORING_STREAM_MAXLEN", "10")]), "MONITORING_STREAM_MAXLEN");
}

#[test]
fn reclaim_idle_must_exceed_the_delivery_timeout() {
    assert_eq!(err_var(&[("RECLAIM_IDLE_MS", "5000"), ("WEBHOOK_TIMEOUT_MS", "5000")]), "RECLAIM_IDLE_MS");
}

#[test]
fn jwt_secret_is_required_by_the_api_and_never_printed() {
    let secret = "9f3c1e0b7a6d4c2e8f1a0b3c5d7e9f21a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4";
    let s = load(&[("JWT_SECRET", secret)]).unwrap();
    assert_eq!(s.require_jwt_secret().unwrap().expose_secret(), secret);
    let printed = format!("{s:?}");
    assert!(!printed.contains(secret));
    assert!(!printed.contains("u:p@"), "database password leaked: {printed}");
    let missing = load(&[]).unwrap().require_jwt_secret().unwrap_err();
    assert_eq!(missing.variable, "JWT_SECRET");
    assert!(missing.to_string().contains("JWT_SECRET_FILE"), "{missing}");
}

/// `require_jwt_secret`'s error for `JWT_SECRET=value`, as upcheck-api prints it.
fn refusal(value: &str) -> String {
    let s = load(&[("JWT_SECRET", value)]).expect("workers load settings whatever the secret");
    let e = s.require_jwt_secret().expect_err(value);
    assert_eq!(e.variable, "JWT_SECRET");
    assert!(!e.to_string().contains(value), "the error quotes the secret: {e}");
    e.to_string()
}

#[test]
fn a_short_jwt_secret_is_refused_naming_jwt_secret() {
    let e = refusal("0123456789abcdef0123456789abcde");
    assert!(e.starts_with("JWT_SECRET: must be at least 32 characters"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn placeholder_jwt_secrets_are_refused_naming_jwt_secret() {
    let env_local =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.local")).unwrap();
    assert!(!env_local.contains("change-me"), ".env.local carries a placeholder secret again");
    for placeholder in [
        // What .env.local carried until the API refused it.
        "change-me-to-at-least-32-random-characters-0123456789",
        "changeme-changeme-changeme-changeme",
        "secret-0123456789-0123456789-0123456789",
        "z".repeat(40).as_str(),
    ] {
        let e = refusal(placeholder);
        assert!(e.contains("placeholder") || e.contains("distinct"), "{e}");
        assert_eq!(e.lines().count(), 1);
    }
}

/// A fresh directory under the system's temporary one, removed by the caller.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("upcheck-cfg-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn jwt_secret_file_is_read_when_jwt_secret_is_empty() {
    let dir = scratch_dir("jwt");
    let file = dir.join("jwt_secret");
    let secret = "4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d49f3c1e0b7a6d4c2e8f1a0b3c5d7e9f21a";
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let path = file.to_str().unwrap();

    let s = load(&[("JWT_SECRET", ""), ("JWT_SECRET_FILE", path)]).unwrap();
    assert_eq!(s.require_jwt_secret().unwrap().expose_secret(), secret, "the newline is dropped");
    assert_eq!(s.jwt_secret_file.as_deref(), Some(file.as_path()));
    // A non-empty JWT_SECRET wins, so compose can always pass JWT_SECRET_FILE.
    let other = "9f3c1e0b7a6d4c2e8f1a0b3c5d7e9f21a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4";
    let s = load(&[("JWT_SECRET", other), ("JWT_SECRET_FILE", path)]).unwrap();
    assert_eq!(s.require_jwt_secret().unwrap().expose_secret(), other);
    assert_eq!(s.jwt_secret_file, None);

    std::fs::write(&file, "change-me-to-at-least-32-random-characters-0123456789\n").unwrap();
    let e = load(&[("JWT_SECRET_FILE", path)]).unwrap().require_jwt_secret().unwrap_err();
    assert_eq!(e.variable, "JWT_SECRET_FILE");
    assert!(e.message.contains(path) && e.message.contains("placeholder"), "{e}");

    std::fs::write(&file, "\n").unwrap();
    assert_eq!(err_var(&[("JWT_SECRET_FILE", path)]), "JWT_SECRET_FILE");
    let missing = dir.join("missing");
    assert_eq!(err_var(&[("JWT_SECRET_FILE", missing.to_str().unwrap())]), "JWT_SECRET_FILE");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_metrics_listener_defaults_to_loopback_9090_and_must_not_share_port() {
    let s = load(&[]).unwrap();
    assert_eq!((s.metrics.port, s.metrics.bind_address.as_str()), (9090, "127.0.0.1"));
    let s = load(&[("METRICS_PORT", "9100"), ("METRICS_BIND_ADDRESS", "0.0.0.0")]).unwrap();
    assert_eq!((s.metrics.port, s.metrics.bind_address.as_str()), (9100, "0.0.0.0"));
    assert_eq!(err_var(&[("METRICS_PORT", "ninety")]), "METRICS_PORT");
    assert_eq!(err_var(&[("METRICS_PORT", "65536")]), "METRICS_PORT");
    assert_eq!(err_var(&[("PORT", "9000"), ("METRICS_PORT", "9000")]), "METRICS_PORT");
    let s = load(&[("PORT", "0"), ("METRICS_PORT", "0")]).unwrap();
    assert_eq!((s.port, s.metrics.port), (0, 0), "port 0 (any free port) for both, in tests");
}

#[test]
fn region_names_group_and_are_validated() {
    let s = load(&[("REGION", "eu-west")]).unwrap();
    assert_eq!(s.streams.monitoring_group, "monitoring:eu-west");
    assert_eq!(err_var(&[("REGION", "eu west")]), "REGION");
}

#[test]
fn log_format_accepts_json_and_pretty_only() {
    assert_eq!(load(&[("LOG_FORMAT", "json")]).unwrap().log_format, LogFormat::Json);
    assert_eq!(err_var(&[("LOG_FORMAT", "xml")]), "LOG_FORMAT");
}

#[test]
fn the_config_file_sits_between_defaults_and_environment() {
    let dir = std::env::temp_dir().join(format!("upcheck-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("upcheck.toml");
    std::fs::write(&file, "port = \"9000\"\nregion = \"from-file\"\n").unwrap();
    let path = file.to_str().unwrap();
    let s = load(&[("UPCHECK_CONFIG", path)]).unwrap();
    assert_eq!((s.port, s.region.as_str()), (9000, "from-file"));
    let s = load(&[("UPCHECK_CONFIG", path), ("PORT", "9100")]).unwrap();
    assert_eq!(s.port, 9100);
    assert_eq!(err_var(&[("UPCHECK_CONFIG", "/nonexistent.toml")]), "UPCHECK_CONFIG");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_probe_network_policy_and_resolver_are_read_and_named_when_malformed() {
    let s = load(&[]).unwrap();
    assert!(s.probe.policy.allow_private);
    assert!(s.probe.dns_servers.is_empty());
    let s = load(&[
        ("PROBE_ALLOW_PRIVATE", "false"),
        ("PROBE_BLOCKED_NETWORKS", "127.0.0.3/32, 10.0.0.0/8"),
        ("PROBE_ALLOWED_NETWORKS", "10.1.0.0/16"),
        ("PROBE_DNS_SERVERS", "127.0.0.1:5353,::1"),
    ])
    .unwrap();
    assert!(!s.probe.policy.allow_private);
    assert_eq!(s.probe.policy.blocked.len(), 2);
    assert_eq!(s.probe.policy.allowed.len(), 1);
    assert_eq!(s.probe.dns_servers, vec!["127.0.0.1:5353".parse().unwrap(), "[::1]:53".parse().unwrap()]);
    assert_eq!(err_var(&[("PROBE_BLOCKED_NETWORKS", "10.0.0.0/40")]), "PROBE_BLOCKED_NETWORKS");
    assert_eq!(err_var(&[("PROBE_ALLOWED_NETWORKS", "lan")]), "PROBE_ALLOWED_NETWORKS");
    assert_eq!(err_var(&[("PROBE_ALLOW_PRIVATE", "maybe")]), "PROBE_ALLOW_PRIVATE");
    assert_eq!(err_var(&[("PROBE_DNS_SERVERS", "dns.google")]), "PROBE_DNS_SERVERS");
}

#[test]
fn fair_probing_and_quota_limits_are_read_with_their_defaults() {
    let s = load(&[]).unwrap();
    assert_eq!((s.probe.max_per_host, s.probe.max_per_user), (32, None));
    assert_eq!((s.quotas.max_monitors_per_user, s.quotas.min_interval_seconds), (10_000, 1));
    let s = load(&[
        ("PROBE_MAX_PER_HOST", "8"),
        ("PROBE_MAX_PER_USER", "100"),
        ("MAX_MONITORS_PER_USER", "50"),
        ("MIN_INTERVAL_SECONDS", "30"),
    ])
    .unwrap();
    assert_eq!((s.probe.max_per_host, s.probe.max_per_user), (8, Some(100)));
    assert_eq!((s.quotas.max_monitors_per_user, s.quotas.min_interval_seconds), (50, 30));
    assert_eq!(err_var(&[("PROBE_MAX_PER_HOST", "0")]), "PROBE_MAX_PER_HOST");
    assert_eq!(err_var(&[("PROBE_MAX_PER_USER", "many")]), "PROBE_MAX_PER_USER");
    assert_eq!(err_var(&[("MIN_INTERVAL_SECONDS", "0")]), "MIN_INTERVAL_SECONDS");
}

#[test]
fn channel_provider_urls_and_host_lists_are_read_and_named_when_malformed() {
    let s = load(&[]).unwrap();
    assert_eq!(s.channels, ChannelSettings::default());
    assert_eq!(s.channels.telegram_api_url, "https://api.telegram.org");
    let s = load(&[
        ("TELEGRAM_API_URL", "http://127.0.0.1:9000/"),
        ("NTFY_DEFAULT_SERVER", "https://ntfy.example.com"),
        ("SLACK_WEBHOOK_HOSTS", "hooks.slack.com, Hooks.Example.org"),
    ])
    .unwrap();
    assert_eq!(s.channels.telegram_api_url, "http://127.0.0.1:9000");
    assert_eq!(s.channels.ntfy_default_server, "https://ntfy.example.com");
    assert_eq!(s.channels.slack_webhook_hosts, ["hooks.slack.com", "hooks.example.org"]);
    assert_eq!(err_var(&[("PAGERDUTY_EVENTS_URL", "events.pagerduty.com")]), "PAGERDUTY_EVENTS_URL");
    assert_eq!(err_var(&[("TELEGRAM_API_URL", "ftp://x")]), "TELEGRAM_API_URL");
    assert_eq!(err_var(&[("DISCORD_WEBHOOK_HOSTS", "https://discord.com")]), "DISCORD_WEBHOOK_HOSTS");
}

#[test]
fn flapping_settings_are_read_with_their_defaults_and_named_when_malformed() {
    let t = load(&[]).unwrap().tunables;
    assert_eq!((t.flapping_threshold, t.flapping_window_seconds), (5, 600));
    let t = load(&[("FLAPPING_THRESHOLD", "3"), ("FLAPPING_WINDOW_SECONDS", "300")]).unwrap().tunables;
    assert_eq!((t.flapping_threshold, t.flapping_window_seconds), (3, 300));
    assert_eq!(err_var(&[("FLAPPING_THRESHOLD", "0")]), "FLAPPING_THRESHOLD");
    assert_eq!(err_var(&[("FLAPPING_WINDOW_SECONDS", "ten minutes")]), "FLAPPING_WINDOW_SECONDS");
}

#[test]
fn status_page_cache_seconds_defaults_to_a_minute_and_is_named_when_out_of_range() {
    assert_eq!(load(&[]).unwrap().tunables.status_page_cache_seconds, 60);
    let t = load(&[("STATUS_PAGE_CACHE_SECONDS", "0")]).unwrap().tunables;
    assert_eq!(t.status_page_cache_seconds, 0);
    assert_eq!(err_var(&[("STATUS_PAGE_CACHE_SECONDS", "3601")]), "STATUS_PAGE_CACHE_SECONDS");
    assert_eq!(err_var(&[("STATUS_PAGE_CACHE_SECONDS", "-1")]), "STATUS_PAGE_CACHE_SECONDS");
}

#[test]
fn secrets_key_is_parsed_at_start_up_and_required_on_demand() {
    let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let s = load(&[("SECRETS_KEY", key)]).unwrap();
    assert_eq!(s.require_keyring("upcheck-api").unwrap().current_id(), "k1");
    assert!(!format!("{s:?}").contains(key), "Debug shows no key");
    let s =
        load(&[("SECRETS_KEY", key), ("SECRETS_KEY_ID", "k2"), ("SECRETS_OLD_KEYS", &format!("k1:{key}"))])
            .unwrap();
    assert_eq!(s.require_keyring("x").unwrap().ids(), ["k1", "k2"]);
    let missing = load(&[]).unwrap().require_keyring("upcheck-api").unwrap_err();
    assert_eq!(missing.variable, "SECRETS_KEY");
    assert!(missing.message.contains("upcheck-api"));
    assert_eq!(err_var(&[("SECRETS_KEY", "too-short")]), "SECRETS_KEY");
    assert_eq!(err_var(&[("SECRETS_KEY", key), ("SECRETS_KEY_ID", "bad id")]), "SECRETS_KEY_ID");
    assert_eq!(err_var(&[("SECRETS_KEY", key), ("SECRETS_OLD_KEYS", "k0")]), "SECRETS_OLD_KEYS");
    assert_eq!(err_var(&[("SECRETS_OLD_KEYS", &format!("k0:{key}"))]), "SECRETS_KEY");
    let bad = load(&[("SECRETS_KEY", "AAAA")]).unwrap_err();
    assert!(!bad.message.contains("AAAA"), "the message quotes the key");
}

#[test]
fn secrets_key_file_is_read_when_secrets_key_is_empty() {
    let dir = scratch_dir("secrets-key");
    let file = dir.join("secrets_key");
    std::fs::write(&file, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n").unwrap();
    let s = load(&[("SECRETS_KEY_FILE", file.to_str().unwrap())]).unwrap();
    assert!(s.require_keyring("x").is_ok());
    assert_eq!(err_var(&[("SECRETS_KEY_FILE", dir.join("none").to_str().unwrap())]), "SECRETS_KEY_FILE");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn abuse_settings_are_read_with_their_defaults_and_named_when_malformed() {
    let s = load(&[]).unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(s.abuse.password_hash.concurrency, cores);
    assert_eq!(s.abuse.password_hash.wait_ms, 2_000);
    assert!(s.abuse.rate_limits.enabled);
    assert_eq!(s.abuse.rate_limits.login_per_minute, 10);
    assert_eq!(s.abuse.rate_limits.api_per_minute, 1_200);
    assert!(s.abuse.trusted_proxies.is_empty());

    let s = load(&[
        ("PASSWORD_HASH_CONCURRENCY", "3"),
        ("PASSWORD_HASH_WAIT_MS", "50"),
        ("RATE_LIMITS_ENABLED", "false"),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "4"),
        ("RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE", "5"),
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "6"),
        ("RATE_LIMIT_HEARTBEAT_PER_MINUTE", "7"),
        ("RATE_LIMIT_API_PER_MINUTE", "8"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10,::1"),
    ])
    .unwrap();
    let (h, r) = (&s.abuse.password_hash, &s.abuse.rate_limits);
    assert_eq!((h.concurrency, h.wait_ms), (3, 50));
    assert!(!r.enabled);
    assert_eq!(
        (
            r.login_per_minute,
            r.login_by_address_per_minute,
            r.signup_per_minute,
            r.heartbeat_per_minute,
            r.api_per_minute
        ),
        (4, 5, 6, 7, 8)
    );
    assert!(s.abuse.is_trusted_proxy("10.1.2.3".parse().unwrap()));
    assert!(s.abuse.is_trusted_proxy("::ffff:10.1.2.3".parse().unwrap()));
    assert!(s.abuse.is_trusted_proxy("192.168.1.10".parse().unwrap()));
    assert!(s.abuse.is_trusted_proxy("::1".parse().unwrap()));
    assert!(!s.abuse.is_trusted_proxy("192.168.1.11".parse().unwrap()));

    assert_eq!(err_var(&[("PASSWORD_HASH_CONCURRENCY", "0")]), "PASSWORD_HASH_CONCURRENCY");
    assert_eq!(err_var(&[("RATE_LIMIT_LOGIN_PER_MINUTE", "0")]), "RATE_LIMIT_LOGIN_PER_MINUTE");
    assert_eq!(err_var(&[("RATE_LIMITS_ENABLED", "maybe")]), "RATE_LIMITS_ENABLED");
    assert_eq!(err_var(&[("TRUSTED_PROXIES", "10.0.0.0/8,nginx")]), "TRUSTED_PROXIES");
}

#[test]
fn live_feed_settings_default_and_are_range_checked() {
    let s = load(&[]).unwrap();
    assert_eq!(
        s.events,
        crate::EventSettings {
            keep_alive_seconds: 15,
            max_streams_per_user: 5,
            max_public_streams_per_address: 20,
            max_public_streams: 10_000,
            replay_limit: 1_000
        }
    );
    let s = load(&[("EVENTS_KEEP_ALIVE_SECONDS", "1"), ("EVENTS_MAX_STREAMS_PER_USER", "2")]).unwrap();
    assert_eq!((s.events.keep_alive_seconds, s.events.max_streams_per_user), (1, 2));
    assert_eq!(err_var(&[("EVENTS_KEEP_ALIVE_SECONDS", "0")]), "EVENTS_KEEP_ALIVE_SECONDS");
    assert_eq!(err_var(&[("EVENTS_MAX_STREAMS_PER_USER", "0")]), "EVENTS_MAX_STREAMS_PER_USER");
    assert_eq!(err_var(&[("EVENTS_REPLAY_LIMIT", "many")]), "EVENTS_REPLAY_LIMIT");
    let s =
        load(&[("EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS", "3"), ("EVENTS_MAX_PUBLIC_STREAMS", "7")]).unwrap();
    assert_eq!((s.events.max_public_streams_per_address, s.events.max_public_streams), (3, 7));
    assert_eq!(
        err_var(&[("EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS", "0")]),
        "EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS"
    );
    assert_eq!(err_var(&[("EVENTS_MAX_PUBLIC_STREAMS", "1000001")]), "EVENTS_MAX_PUBLIC_STREAMS");
}

#[test]
fn minute_rollup_retention_defaults_to_90_days_and_is_range_checked() {
    assert_eq!(load(&[]).unwrap().rollups, crate::RollupSettings { minute_days: 90, cache_mb: 64 });
    assert_eq!(load(&[("RETENTION_ROLLUP_MINUTE_DAYS", "7")]).unwrap().rollups.minute_days, 7);
    assert_eq!(err_var(&[("RETENTION_ROLLUP_MINUTE_DAYS", "0")]), "RETENTION_ROLLUP_MINUTE_DAYS");
    assert_eq!(err_var(&[("RETENTION_ROLLUP_MINUTE_DAYS", "ninety")]), "RETENTION_ROLLUP_MINUTE_DAYS");
}

#[test]
fn the_rollup_cache_defaults_to_64_mb_can_be_turned_off_and_is_range_checked() {
    assert_eq!(load(&[("ROLLUP_CACHE_MB", "0")]).unwrap().rollups.cache_mb, 0);
    assert_eq!(load(&[("ROLLUP_CACHE_MB", "512")]).unwrap().rollups.cache_mb, 512);
    assert_eq!(err_var(&[("ROLLUP_CACHE_MB", "65537")]), "ROLLUP_CACHE_MB");
    assert_eq!(err_var(&[("ROLLUP_CACHE_MB", "-1")]), "ROLLUP_CACHE_MB");
}

#[test]
fn raw_retention_defaults_to_30_days_and_is_range_checked() {
    assert_eq!(load(&[]).unwrap().raw_retention.raw_days, 30);
    assert_eq!(load(&[("RETENTION_RAW_DAYS", "400")]).unwrap().raw_retention.raw_days, 400);
    assert_eq!(err_var(&[("RETENTION_RAW_DAYS", "0")]), "RETENTION_RAW_DAYS");
    assert_eq!(err_var(&[("RETENTION_RAW_DAYS", "3651")]), "RETENTION_RAW_DAYS");
    assert_eq!(err_var(&[("RETENTION_RAW_DAYS", "a month")]), "RETENTION_RAW_DAYS");
}

#[test]
fn partition_compaction_is_on_unless_turned_off() {
    assert!(load(&[]).unwrap().raw_retention.compaction);
    assert!(!load(&[("PARTITION_COMPACTION_ENABLED", "false")]).unwrap().raw_retention.compaction);
    assert!(load(&[("PARTITION_COMPACTION_ENABLED", "true")]).unwrap().raw_retention.compaction);
    assert_eq!(err_var(&[("PARTITION_COMPACTION_ENABLED", "sometimes")]), "PARTITION_COMPACTION_ENABLED");
}

#[test]
fn check_writers_default_to_one_and_stay_between_one_and_sixteen() {
    assert_eq!(load(&[]).unwrap().tunables.check_writers, 1);
    assert_eq!(load(&[("CHECK_WRITERS", "2")]).unwrap().tunables.check_writers, 2);
    assert_eq!(load(&[("CHECK_WRITERS", "16")]).unwrap().tunables.check_writers, 16);
    assert_eq!(err_var(&[("CHECK_WRITERS", "0")]), "CHECK_WRITERS");
    assert_eq!(err_var(&[("CHECK_WRITERS", "17")]), "CHECK_WRITERS");
}
