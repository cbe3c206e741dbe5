//! `DATABASE_URL` resolution: libpq-style `sslmode` honoured with rustls.

use crate::ConfigError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

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

    /// The rustls connector for this mode (unused by tokio-postgres when `sslmode=disable`).
    ///
    /// # Errors
    /// `DATABASE_CA_CERT` when the CA file cannot be read or holds no certificate.
    pub fn tls_connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::new("DATABASE_URL", format!("TLS set-up failed: {e}")))?;
        let verify =
            matches!(self.ssl_mode, PgSslMode::VerifyCa | PgSslMode::VerifyFull) || self.ca_cert.is_some();
        let config = if !verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth()
        } else {
            let roots = Arc::new(root_store(self.ca_cert.as_ref(), "DATABASE_CA_CERT")?);
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| ConfigError::new("DATABASE_CA_CERT", format!("unusable roots: {e}")))?;
            if self.ssl_mode == PgSslMode::VerifyFull {
                builder.with_webpki_verifier(webpki).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth()
            }
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

/// Trusted roots: the PEM file at `path`, or the webpki roots.
pub(crate) fn root_store(path: Option<&PathBuf>, var: &str) -> Result<rustls::RootCertStore, ConfigError> {
    let mut store = rustls::RootCertStore::empty();
    match path {
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| ConfigError::new(var, format!("cannot read {}: {e}", path.display())))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| ConfigError::new(var, format!("bad PEM in {}: {e}", path.display())))?;
                store.add(cert).map_err(|e| {
                    ConfigError::new(var, format!("bad certificate in {}: {e}", path.display()))
                })?;
            }
            if store.is_empty() {
                return Err(ConfigError::new(var, format!("{} holds no certificate", path.display())));
            }
        }
    }
    Ok(store)
}

/// `sslmode=require`/`prefer` without a CA: encrypt, verify nothing (libpq's behaviour).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
                ..
            })) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
