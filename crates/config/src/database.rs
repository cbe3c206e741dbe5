//! `DATABASE_URL` resolution: libpq-style `sslmode` honoured with rustls.

use crate::ConfigError;
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
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 30,000): Postgres cancels any statement of
    /// Upcheck's that runs longer (SQLSTATE 57014, retried as transient). 0 turns it off.
    pub statement_timeout_ms: u64,
    /// `DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS` (default 60,000): Postgres ends a session whose
    /// transaction sits idle longer, so a stuck process cannot hold row locks for ever. 0 turns
    /// it off.
    pub idle_in_transaction_timeout_ms: u64,
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
        const VAR: &str = "DATABASE_URL";
        let url = url.ok_or_else(|| {
            ConfigError::new(VAR, "required, e.g. postgres://user:password@host:5432/upcheck")
        })?;
        let mut parsed =
            url::Url::parse(&url).map_err(|e| ConfigError::new(VAR, format!("not a valid URL ({e})")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(ConfigError::new(VAR, "must start with postgres:// or postgresql://"));
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
                                VAR,
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
            .map_err(|e| ConfigError::new(VAR, format!("not a valid connection string ({e})")))?;
        if config.get_hosts().is_empty() {
            return Err(ConfigError::new(VAR, "must name a host"));
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
            statement_timeout_ms: 30_000,
            idle_in_transaction_timeout_ms: 60_000,
        })
    }

    /// A copy pointing at database `name` on the same server (used by tests and tooling).
    pub fn with_dbname(&self, name: &str) -> Self {
        let mut s = self.clone();
        s.config.dbname(name);
        s
    }
}
