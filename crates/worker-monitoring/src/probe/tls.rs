//! The TLS probe: a handshake with `host:port` under the network policy; the chain must be
//! valid for the host name (webpki roots plus `PROBE_CA_CERT`) and the certificate not expired.
//! The certificate's fingerprint and `notAfter` go with the result, so an expiring certificate
//! is reported once per certificate.

use super::{Probe, ProbeResult, elapsed_ms};
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_rustls::TlsConnector;
use upcheck_domain::ProbeSpec;
use upcheck_domain::probe_config::KindConfig;
use upcheck_net::Outbound;

/// The roots probes trust: webpki's (Mozilla's) plus the operator's `PROBE_CA_CERT`.
#[derive(Clone)]
pub struct TrustedRoots {
    store: Arc<rustls::RootCertStore>,
    extra: Vec<CertificateDer<'static>>,
}

impl Default for TrustedRoots {
    /// webpki's roots only.
    fn default() -> Self {
        Self::with_extra(Vec::new())
    }
}

impl TrustedRoots {
    /// webpki's roots plus `extra`.
    pub fn with_extra(extra: Vec<CertificateDer<'static>>) -> Self {
        let mut store = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let _ = store.add_parsable_certificates(extra.iter().cloned());
        Self { store: Arc::new(store), extra }
    }

    /// webpki's roots plus every certificate in the PEM file at `path`, if given.
    ///
    /// # Errors
    /// When the file cannot be read or holds no certificate.
    pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let pem =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("PROBE_CA_CERT: {}: {e}", path.display()))?;
        let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice()).filter_map(Result::ok).collect();
        anyhow::ensure!(!certs.is_empty(), "PROBE_CA_CERT: {} holds no PEM certificate", path.display());
        Ok(Self::with_extra(certs))
    }

    /// The operator's extra roots, DER-encoded.
    pub fn extra_der(&self) -> impl Iterator<Item = &[u8]> {
        self.extra.iter().map(|c| c.as_ref())
    }
}

/// What a check saw of the server's (leaf) certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// SHA-256 of the DER certificate, lower-case hex: one certificate, one expiry warning.
    pub fingerprint: String,
    /// The certificate's `notAfter`.
    pub not_after: OffsetDateTime,
}

impl CertificateInfo {
    /// Reads a DER certificate; `None` when it does not parse.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp()).ok()?;
        Some(Self { fingerprint: hex::encode(Sha256::digest(der)), not_after })
    }

    /// Whole days left before `notAfter` (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }
}

/// The `tls` probe.
#[derive(Clone)]
pub struct TlsProbe {
    outbound: Outbound,
    connector: TlsConnector,
}

impl TlsProbe {
    /// A probe trusting `roots`, connecting through `outbound`.
    pub fn new(outbound: Outbound, roots: TrustedRoots) -> Self {
        let config =
            rustls::ClientConfig::builder().with_root_certificates(roots.store.clone()).with_no_client_auth();
        Self { outbound, connector: TlsConnector::from(Arc::new(config)) }
    }

    async fn handshake(&self, host: &str, port: u16) -> Result<(i32, Option<CertificateInfo>), String> {
        let start = Instant::now();
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
            .map_err(|_| format!("invalid host name {host}"))?;
        let tcp = self.outbound.connect_tcp(host, port).await.map_err(|e| e.to_string())?;
        let stream = self.connector.connect(name, tcp).await.map_err(|e| describe_tls(&e, host))?;
        let latency = elapsed_ms(start);
        let (_, conn) = stream.get_ref();
        let cert =
            conn.peer_certificates().and_then(|c| c.first()).and_then(|c| CertificateInfo::from_der(c));
        Ok((latency, cert))
    }
}

impl Probe for TlsProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        let KindConfig::Tls(config) = &spec.config else { return ProbeResult::failed("not a tls monitor") };
        let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
        match tokio::time::timeout(timeout, self.handshake(&config.host, config.port)).await {
            Err(_) => ProbeResult::failed(format!("timed out after {} ms", spec.timeout_ms)),
            Ok(Err(e)) => ProbeResult::failed(e),
            Ok(Ok((latency, certificate))) => ProbeResult { certificate, ..ProbeResult::up(latency) },
        }
    }
}

/// The reason a handshake failed, as a user reads it: `certificate expired`,
/// `certificate not valid for host example.com`, `certificate signed by an unknown issuer`.
pub(crate) fn describe_tls(e: &std::io::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::Expired | C::ExpiredContext { .. } => "certificate expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate not valid yet".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("certificate not valid for host {host}")
            }
            C::UnknownIssuer => "certificate signed by an unknown issuer".into(),
            C::Revoked => "certificate revoked".into(),
            C::BadSignature => "certificate has a bad signature".into(),
            other => format!("invalid certificate: {other:?}"),
        },
        Some(other) => format!("tls handshake failed: {other}"),
        None => match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "tls handshake failed: connection closed".into(),
            _ => format!("tls handshake failed: {e}"),
        },
    }
}
