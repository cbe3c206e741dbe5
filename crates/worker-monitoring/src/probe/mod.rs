//! Probes: one trait, one implementation per monitor kind (`http`, `tcp`, `dns`, `tls`), and
//! [`KindProbe`], which hands each job to its kind's probe. Every probe connects through
//! [`upcheck_net::Outbound`], so the operator's network policy holds for all of them.

mod dns;
mod http;
mod tcp;
mod tls;

pub use dns::DnsProbe;
pub use http::{HttpProbe, MAX_REDIRECTS, describe_error};
pub use tcp::TcpProbe;
pub use tls::{CertificateInfo, TlsProbe, TrustedRoots};

use std::future::Future;
use time::OffsetDateTime;
use upcheck_domain::{CheckOutcome, MonitorKind, ProbeSpec};

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Up, degraded (up, but slow) or down.
    pub outcome: CheckOutcome,
    /// Time to the answer, ms (HTTP: to the final response's headers; TCP: to the connection,
    /// or to the banner; DNS: to the answer; TLS: to the finished handshake); `None` when no
    /// answer came.
    pub latency_ms: Option<i32>,
    /// The response's status code (HTTP only).
    pub http_status: Option<u16>,
    /// Why it failed, human-readable ("connection refused", "timed out after 2000 ms",
    /// "expected 2xx, got 503", `body: keyword "OK" not found`).
    pub error: Option<String>,
    /// When the probe finished.
    pub checked_at: OffsetDateTime,
    /// The server's certificate, for `tls` monitors and `https` monitors with a certificate check.
    pub certificate: Option<CertificateInfo>,
}

impl ProbeResult {
    /// A failed check with no usable answer.
    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            outcome: CheckOutcome::Down,
            latency_ms: None,
            http_status: None,
            error: Some(error.into()),
            checked_at: OffsetDateTime::now_utc(),
            certificate: None,
        }
    }

    /// A successful check that took `latency_ms`.
    pub fn up(latency_ms: i32) -> Self {
        Self {
            outcome: CheckOutcome::Up,
            latency_ms: Some(latency_ms),
            http_status: None,
            error: None,
            checked_at: OffsetDateTime::now_utc(),
            certificate: None,
        }
    }
}

/// Runs a check against a target. Implementations never fail: every failure is a `down` result.
pub trait Probe: Send + Sync + 'static {
    /// Probes `spec`'s target once, within `spec.timeout_ms`.
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send;
}

/// Every kind's probe; each job goes to the probe of its spec's kind.
#[derive(Clone)]
pub struct KindProbe {
    /// `http`.
    pub http: HttpProbe,
    /// `tcp`.
    pub tcp: TcpProbe,
    /// `dns`.
    pub dns: DnsProbe,
    /// `tls`.
    pub tls: TlsProbe,
}

impl KindProbe {
    /// All probes on one `outbound` (policy and resolver) and one set of trusted roots.
    ///
    /// # Errors
    /// When the HTTP client's TLS back-end cannot be initialised.
    pub fn new(outbound: upcheck_net::Outbound, roots: TrustedRoots) -> Result<Self, reqwest::Error> {
        Self::for_region(outbound, roots, None)
    }

    /// Like [`KindProbe::new`], for a replica of `region` (named in HTTP probes' `User-Agent`).
    ///
    /// # Errors
    /// When the HTTP client's TLS back-end cannot be initialised.
    pub fn for_region(
        outbound: upcheck_net::Outbound,
        roots: TrustedRoots,
        region: Option<&str>,
    ) -> Result<Self, reqwest::Error> {
        let http = match region {
            Some(r) => HttpProbe::for_region(outbound.clone(), &roots, r)?,
            None => HttpProbe::with_roots(outbound.clone(), &roots)?,
        };
        Ok(Self {
            http,
            tcp: TcpProbe::new(outbound.clone()),
            dns: DnsProbe::new(outbound.clone()),
            tls: TlsProbe::new(outbound, roots),
        })
    }
}

impl KindProbe {
    /// These probes, the HTTP probe opening specs' sealed request headers with `keys`.
    pub fn with_secrets(mut self, keys: upcheck_secrets::Keyring) -> Self {
        self.http = self.http.with_secrets(keys);
        self
    }
}

impl Probe for KindProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        match spec.kind {
            MonitorKind::Http => self.http.probe(spec).await,
            MonitorKind::Tcp => self.tcp.probe(spec).await,
            MonitorKind::Dns => self.dns.probe(spec).await,
            MonitorKind::Tls => self.tls.probe(spec).await,
            // Heartbeats are pushed to the API, never probed; a job for one is a stale spec.
            MonitorKind::Heartbeat => ProbeResult::failed("heartbeat monitors are not probed"),
        }
    }
}

/// Milliseconds since `start`, as stored.
pub(crate) fn elapsed_ms(start: std::time::Instant) -> i32 {
    i32::try_from(start.elapsed().as_millis()).unwrap_or(i32::MAX)
}
