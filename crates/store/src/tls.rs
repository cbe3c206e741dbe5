//! TLS to Postgres with rustls, following libpq's `sslmode`: `disable` never, `prefer` and
//! `require` encrypt without verifying (libpq's behaviour when no root certificate is given),
//! `verify-ca` checks the chain, `verify-full` the chain and the host name, against
//! `DATABASE_CA_CERT` (or `sslrootcert=`) or the webpki roots. PostgreSQL documentation,
//! "SSL Support" (libpq), table "SSL Mode Descriptions".

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use upcheck_config::{ConfigError, DatabaseSettings, PgSslMode};

/// The rustls connector for this mode (unused by tokio-postgres when `sslmode=disable`).
///
/// # Errors
/// `DATABASE_CA_CERT` when the CA file cannot be read or holds no certificate.
pub fn tls_connector(
    settings: &DatabaseSettings,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ConfigError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("DATABASE_URL", format!("TLS set-up failed: {e}")))?;
    let verify = matches!(settings.ssl_mode, PgSslMode::VerifyCa | PgSslMode::VerifyFull)
        || settings.ca_cert.is_some();
    let config = if !verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let roots = Arc::new(root_store(settings.ca_cert.as_ref(), "DATABASE_CA_CERT")?);
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| ConfigError::new("DATABASE_CA_CERT", format!("unusable roots: {e}")))?;
        if settings.ssl_mode == PgSslMode::VerifyFull {
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

/// Trusted roots: the PEM file at `path`, or the webpki roots.
fn root_store(path: Option<&PathBuf>, var: &str) -> Result<rustls::RootCertStore, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ssl_mode_builds_a_tls_connector() {
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            let env = std::collections::HashMap::from([(
                "DATABASE_URL".to_string(),
                format!("postgres://h/db?sslmode={mode}"),
            )]);
            let s = upcheck_config::Settings::from_env_map(env).unwrap();
            assert!(tls_connector(&s.database).is_ok(), "{mode}");
        }
    }
}
