//! `DATABASE_URL` resolution: libpq-style `sslmode` honoured with rustls.

use crate::ConfigError;
use crate::settings::Raw;
use std::path::PathBuf;
use std::str::FromStr;

/// The `sslmode` of a `DATABASE_URL`, with libpq's meanings (PostgreSQL docs, "SSL Support",
/// table 34.1): `prefer` and `require` encrypt without verifying unless a CA is given;
/// `verify-ca` checks the chain; `verify-full` checks the chain and the host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgSslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it (libpq's default).
    Prefer,
    /// TLS or fail.
    Require,
    /// TLS, certificate chain verified against the CA.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

/// Resolved Postgres connection settings.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// Connection parameters without `sslmode` (tokio-postgres redacts the password in `Debug`).
    pub config: tokio_postgres::Config,
    /// The requested TLS mode.
    pub ssl_mode: PgSslMode,
    /// `DATABASE_CA_CERT` (or the URL's `sslrootcert`): PEM file of trusted roots; without it the
    /// platform's (webpki) roots are used for verification.
    pub ca_cert: Option<PathBuf>,
    /// `DATABASE_POOL_SIZE` (default 16): most connections per process.
    pub pool_size: usize,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 20,000): Postgres cancels any statement of
    /// Upcheck's that runs longer (SQLSTATE 57014, retried as transient). 0 turns it off.
    pub statement_timeout_ms: u64,
    /// `DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS` (default 60,000): Postgres ends a session whose
    /// transaction sits idle longer, so a stuck process cannot hold row locks for ever. 0 turns
    /// it off.
    pub idle_in_transaction_timeout_ms: u64,
    /// The TCP and liveness knobs that make a dead connection fail instead of hanging.
    pub net: DatabaseNet,
}

/// How a connection to Postgres is opened and judged dead. With the defaults, a connection
/// whose peer vanished is closed within 25 s whether it is idle (keepalives: 10 s + 3 × 5 s),
/// sending (`tcp_user_timeout`) or waiting for an answer that never comes (the response
/// timeout, which also catches a middlebox that keeps TCP alive but forwards nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseNet {
    /// `DATABASE_CONNECT_TIMEOUT_MS` (default 5,000): longest wait for one TCP connect and
    /// start-up (TLS, authentication); also the pool's bound on opening a connection.
    pub connect_timeout_ms: u64,
    /// `DATABASE_KEEPALIVES_IDLE_SECONDS` (default 10): an idle connection's first TCP
    /// keepalive probe goes out after this long (`TCP_KEEPIDLE`).
    pub keepalives_idle_seconds: u64,
    /// `DATABASE_KEEPALIVES_INTERVAL_SECONDS` (default 5): time between unanswered probes
    /// (`TCP_KEEPINTVL`).
    pub keepalives_interval_seconds: u64,
    /// `DATABASE_KEEPALIVES_RETRIES` (default 3): unanswered probes before the kernel closes
    /// the connection (`TCP_KEEPCNT`).
    pub keepalives_retries: u32,
    /// `DATABASE_TCP_USER_TIMEOUT_MS` (default 25,000; 0 leaves the kernel's default, about
    /// 15 minutes): data sent and unacknowledged this long closes the connection
    /// (`TCP_USER_TIMEOUT`, Linux; RFC 5482).
    pub tcp_user_timeout_ms: u64,
    /// `DATABASE_RESPONSE_TIMEOUT_MS` (default 25,000; 0 turns it off): a connection that has
    /// received nothing for this long since it last sent is closed, failing its statement (no
    /// SQLSTATE: transient) instead of hanging. Must exceed `DATABASE_STATEMENT_TIMEOUT_MS`,
    /// so that Postgres cancels a slow statement (and answers) before it is taken for dead.
    pub response_timeout_ms: u64,
}

impl Default for DatabaseNet {
    /// The defaults documented on each field.
    fn default() -> Self {
        Self {
            connect_timeout_ms: 5_000,
            keepalives_idle_seconds: 10,
            keepalives_interval_seconds: 5,
            keepalives_retries: 3,
            tcp_user_timeout_ms: 25_000,
            response_timeout_ms: 25_000,
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("ssl_mode", &self.ssl_mode)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("idle_in_transaction_timeout_ms", &self.idle_in_transaction_timeout_ms)
            .field("net", &self.net)
            .finish_non_exhaustive()
    }
}

/// `DATABASE_POOL_SIZE`'s default: connections per process.
pub const DEFAULT_DATABASE_POOL_SIZE: usize = 16;

impl DatabaseSettings {
    pub(crate) fn resolve(
        url: Option<String>,
        ca_cert: Option<String>,
        pool_size: usize,
    ) -> Result<Self, ConfigError> {
        Self::resolve_as("DATABASE_URL", url, ca_cert, pool_size)
    }

    /// The replica at `url` (`DATABASE_READ_URL`): same CA (unless the URL names its own
    /// `sslrootcert`), pool size, timeouts and TCP knobs as this primary.
    pub(crate) fn read_replica(&self, url: String) -> Result<Self, ConfigError> {
        let mut read = Self::resolve_as("DATABASE_READ_URL", Some(url), None, self.pool_size)?;
        if read.ca_cert.is_none() {
            read.ca_cert.clone_from(&self.ca_cert);
        }
        read.statement_timeout_ms = self.statement_timeout_ms;
        read.idle_in_transaction_timeout_ms = self.idle_in_transaction_timeout_ms;
        read.net = self.net;
        Ok(read)
    }

    fn resolve_as(
        var: &str,
        url: Option<String>,
        ca_cert: Option<String>,
        pool_size: usize,
    ) -> Result<Self, ConfigError> {
        let url = url.ok_or_else(|| {
            ConfigError::new(var, "required, e.g. postgres://user:password@host:5432/upcheck")
        })?;
        let mut parsed =
            url::Url::parse(&url).map_err(|e| ConfigError::new(var, format!("not a valid URL ({e})")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(ConfigError::new(var, "must start with postgres:// or postgresql://"));
        }
        let mut ssl_mode = PgSslMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (k, v) in parsed.query_pairs() {
            match k.as_ref() {
                "sslmode" => {
                    ssl_mode = match v.as_ref() {
                        "disable" => PgSslMode::Disable,
                        "allow" | "prefer" => PgSslMode::Prefer,
                        "require" => PgSslMode::Require,
                        "verify-ca" => PgSslMode::VerifyCa,
                        "verify-full" => PgSslMode::VerifyFull,
                        other => {
                            return Err(ConfigError::new(
                                var,
                                format!(
                                    "sslmode must be disable, prefer, require, verify-ca or verify-full, got {other:?}"
                                ),
                            ));
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(v.into_owned()),
                _ => kept.push((k.into_owned(), v.into_owned())),
            }
        }
        parsed.set_query(None);
        if !kept.is_empty() {
            parsed.query_pairs_mut().extend_pairs(kept);
        }
        let mut config = tokio_postgres::Config::from_str(parsed.as_str())
            .map_err(|e| ConfigError::new(var, format!("not a valid connection string ({e})")))?;
        if config.get_hosts().is_empty() {
            return Err(ConfigError::new(var, "must name a host"));
        }
        config.ssl_mode(match ssl_mode {
            PgSslMode::Disable => tokio_postgres::config::SslMode::Disable,
            PgSslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("upcheck");
        }
        let ca_cert = ca_cert.or(root_cert).map(PathBuf::from);
        if let Some(path) = ca_cert.as_ref().filter(|p| !p.is_file()) {
            return Err(ConfigError::new("DATABASE_CA_CERT", format!("no such file {}", path.display())));
        }
        Ok(Self {
            config,
            ssl_mode,
            ca_cert,
            pool_size,
            statement_timeout_ms: 20_000,
            idle_in_transaction_timeout_ms: 60_000,
            net: DatabaseNet::default(),
        })
    }

    /// Reads the timeouts and TCP knobs (`DATABASE_STATEMENT_TIMEOUT_MS`, …,
    /// `DATABASE_RESPONSE_TIMEOUT_MS`) over the defaults.
    pub(crate) fn tune(&mut self, raw: &Raw) -> Result<(), ConfigError> {
        self.statement_timeout_ms =
            raw.number("DATABASE_STATEMENT_TIMEOUT_MS", self.statement_timeout_ms, 0..=3_600_000)?;
        self.idle_in_transaction_timeout_ms = raw.number(
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
            self.idle_in_transaction_timeout_ms,
            0..=3_600_000,
        )?;
        let d = DatabaseNet::default();
        self.net = DatabaseNet {
            connect_timeout_ms: raw.number(
                "DATABASE_CONNECT_TIMEOUT_MS",
                d.connect_timeout_ms,
                100..=120_000,
            )?,
            keepalives_idle_seconds: raw.number(
                "DATABASE_KEEPALIVES_IDLE_SECONDS",
                d.keepalives_idle_seconds,
                1..=7_200,
            )?,
            keepalives_interval_seconds: raw.number(
                "DATABASE_KEEPALIVES_INTERVAL_SECONDS",
                d.keepalives_interval_seconds,
                1..=600,
            )?,
            keepalives_retries: raw.number("DATABASE_KEEPALIVES_RETRIES", d.keepalives_retries, 1..=100)?,
            tcp_user_timeout_ms: raw.number(
                "DATABASE_TCP_USER_TIMEOUT_MS",
                d.tcp_user_timeout_ms,
                0..=3_600_000,
            )?,
            response_timeout_ms: raw.number(
                "DATABASE_RESPONSE_TIMEOUT_MS",
                d.response_timeout_ms,
                0..=3_600_000,
            )?,
        };
        if self.net.response_timeout_ms != 0
            && self.statement_timeout_ms != 0
            && self.net.response_timeout_ms <= self.statement_timeout_ms
        {
            return Err(ConfigError::new(
                "DATABASE_RESPONSE_TIMEOUT_MS",
                format!(
                    "must be above DATABASE_STATEMENT_TIMEOUT_MS ({} ms), or a slow statement would be taken for a dead connection",
                    self.statement_timeout_ms
                ),
            ));
        }
        Ok(())
    }

    /// A copy pointing at database `name` on the same server (used by tests and tooling).
    pub fn with_dbname(&self, name: &str) -> Self {
        let mut s = self.clone();
        s.config.dbname(name);
        s
    }
}

#[cfg(test)]
#[path = "database_tests.rs"]
mod tests;
