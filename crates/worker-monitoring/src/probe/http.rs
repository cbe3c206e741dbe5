//! The HTTP(S) probe: status codes, assertions on the response, redirects hop by hop under
//! the network policy, degraded latency, and the certificate's expiry for `https` monitors.

use super::{Probe, ProbeResult, elapsed_ms};
use crate::probe::tls::{CertificateInfo, TrustedRoots};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::assertions::{self, Response};
use upcheck_domain::probe_config::{HttpConfig, KindConfig};
use upcheck_domain::{CheckOutcome, ExpectedStatus, ProbeSpec};
use upcheck_net::Outbound;

/// Most response-body bytes read (then the connection is dropped rather than drained).
const MAX_BODY_BYTES: usize = 1 << 20;

/// Redirects followed by default (a monitor's `max_redirects`) before a check fails with
/// "too many redirects".
pub const MAX_REDIRECTS: usize = upcheck_domain::probe_config::DEFAULT_MAX_REDIRECTS as usize;

/// Request headers dropped when a redirect leaves the monitor's origin (scheme, host, port),
/// as browsers and reqwest do, so credentials meant for the target never reach another host.
const CREDENTIAL_HEADERS: [&str; 4] = ["authorization", "cookie", "proxy-authorization", "www-authenticate"];

/// The HTTP(S) probe (reqwest with rustls), under the operator's network policy.
///
/// Every connection goes through [`Outbound`]'s resolver, which refuses blocked addresses at
/// connect time; literal-IP URLs are judged before each request. Redirects are followed here,
/// hop by hop (up to the monitor's `max_redirects`, default [`MAX_REDIRECTS`]; 0 refuses them), so every hop's URL is judged the same way; they are
/// not followed when a monitor's `expected_status` accepts a 3xx code, and then the first
/// response is judged. A 301/302 turns a `POST` into a `GET` and a 303 anything but `HEAD`
/// into a `GET`, without the body (RFC 9110 §15.4); 307/308 keep both.
///
/// Connection policy: keep-alive connections are pooled per host and reused across checks. A
/// request that fails because its pooled connection turned out to be closed (the target closed
/// it, or died) is retried once at once on a fresh connection within the same timeout, so a
/// server's idle-connection close never shows as an outage, and a dead listener still fails its
/// very next check, with "connection refused".
#[derive(Clone)]
pub struct HttpProbe {
    client: reqwest::Client,
    outbound: Outbound,
    /// Opens specs' sealed request headers (`SECRETS_KEY`); see [`HttpProbe::with_secrets`].
    secrets: Option<std::sync::Arc<upcheck_secrets::Keyring>>,
}

/// One request of a check: the hop's URL, method, headers and body.
struct Hop {
    url: url::Url,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

impl HttpProbe {
    /// Builds the client on `outbound`'s resolver, trusting the platform's web roots.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised.
    pub fn new(outbound: Outbound) -> Result<Self, reqwest::Error> {
        Self::with_roots(outbound, &TrustedRoots::default())
    }

    /// Like [`HttpProbe::new`], also trusting `roots`' extra certificates (`PROBE_CA_CERT`).
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised or a root does not parse.
    pub fn with_roots(outbound: Outbound, roots: &TrustedRoots) -> Result<Self, reqwest::Error> {
        Self::build(outbound, roots, None)
    }

    /// The probe a replica of `region` uses: its `User-Agent` names the region
    /// (`Upcheck/0.1.0 (region eu-west)`), so targets can tell regions' checks apart.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised or a root does not parse.
    pub fn for_region(
        outbound: Outbound,
        roots: &TrustedRoots,
        region: &str,
    ) -> Result<Self, reqwest::Error> {
        Self::build(outbound, roots, Some(region))
    }

    fn build(outbound: Outbound, roots: &TrustedRoots, region: Option<&str>) -> Result<Self, reqwest::Error> {
        let agent = match region {
            Some(r) => format!("Upcheck/{} (region {r})", env!("CARGO_PKG_VERSION")),
            None => concat!("Upcheck/", env!("CARGO_PKG_VERSION")).to_string(),
        };
        let mut builder = outbound.http_client().tls_info(true).user_agent(agent);
        for der in roots.extra_der() {
            builder = builder.add_root_certificate(reqwest::Certificate::from_der(der)?);
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(50))
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client, outbound, secrets: None })
    }

    /// This probe, opening specs' sealed request headers with `keys`. Without it, a spec with
    /// sealed headers fails its check, naming `SECRETS_KEY`; clear headers (specs written
    /// before headers were sealed) are sent either way.
    pub fn with_secrets(mut self, keys: upcheck_secrets::Keyring) -> Self {
        self.secrets = Some(std::sync::Arc::new(keys));
        self
    }

    /// The spec's request headers in clear, opened here, just before they are sent, so they
    /// are encrypted everywhere else (Postgres, the Redis spec, the check job).
    fn headers(&self, spec: &ProbeSpec) -> Result<Vec<(String, String)>, String> {
        let headers = match (&self.secrets, &spec.sealed_headers) {
            (_, None) => return Ok(spec.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            (None, Some(_)) => {
                return Err("request headers are sealed and this worker has no SECRETS_KEY".into());
            }
            (Some(keys), Some(_)) => spec.open_headers(keys),
        };
        headers
            .map(|h| h.into_iter().collect())
            .map_err(|e| format!("request headers cannot be decrypted: {e}"))
    }

    /// Sends one hop within `budget`, once more on a fresh connection if the pooled one was stale.
    async fn send(&self, hop: &Hop, budget: Duration) -> Result<reqwest::Response, reqwest::Error> {
        let start = Instant::now();
        let request = |budget: Duration| {
            let mut r = self.client.request(hop.method.clone(), hop.url.clone()).timeout(budget);
            for (k, v) in &hop.headers {
                r = r.header(k, v);
            }
            if let Some(body) = &hop.body {
                r = r.body(body.clone());
            }
            r
        };
        let sent = request(budget).send().await;
        if let Err(e) = &sent {
            let left = budget.saturating_sub(start.elapsed());
            if is_stale_connection(e) && left > Duration::from_millis(1) {
                return request(left).send().await;
            }
        }
        sent
    }

    async fn http(&self, spec: &ProbeSpec) -> ProbeResult {
        let default_config = HttpConfig::default();
        let config = match &spec.config {
            KindConfig::Http(c) => c,
            _ => &default_config,
        };
        let max_redirects = usize::from(config.max_redirects);
        let follow =
            max_redirects > 0 && !spec.expected_status.iter().any(|r| (300..400).any(|c| r.matches(c)));
        let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
        let start = Instant::now();
        let headers = match self.headers(spec) {
            Ok(h) => h,
            Err(why) => return ProbeResult::failed(why),
        };
        let mut hop = match url::Url::parse(&spec.url) {
            Ok(url) => Hop {
                url,
                method: reqwest::Method::from_bytes(spec.method.as_str().as_bytes())
                    .unwrap_or(reqwest::Method::GET),
                headers,
                body: spec.body.clone(),
            },
            Err(e) => return ProbeResult::failed(format!("invalid url: {e}")),
        };
        let mut redirects = 0;
        let mut response = loop {
            if let Err(blocked) = self.outbound.check_url(&hop.url) {
                return ProbeResult::failed(blocked.to_string());
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return ProbeResult::failed(format!("timed out after {} ms", spec.timeout_ms));
            }
            let response = match self.send(&hop, left).await {
                Ok(r) => r,
                Err(e) => return ProbeResult::failed(describe_error(&e, spec.timeout_ms)),
            };
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            match (follow && response.status().is_redirection(), location) {
                (true, Some(location)) => {
                    if redirects == max_redirects {
                        return ProbeResult::failed(format!(
                            "too many redirects (more than {max_redirects})"
                        ));
                    }
                    let next = match hop.url.join(location) {
                        Ok(next) if matches!(next.scheme(), "http" | "https") => next,
                        Ok(next) => {
                            return ProbeResult::failed(format!(
                                "redirect to unsupported scheme {}",
                                next.scheme()
                            ));
                        }
                        Err(e) => {
                            return ProbeResult::failed(format!("redirect to an invalid location: {e}"));
                        }
                    };
                    hop = redirected(hop, response.status().as_u16(), next);
                    redirects += 1;
                }
                _ => break response,
            }
        };
        let latency = elapsed_ms(start);
        let code = response.status().as_u16();
        let keep_body = config.assertions.iter().any(assertions::Assertion::needs_body);
        let headers: Vec<(String, String)> = if config.assertions.is_empty() {
            Vec::new()
        } else {
            response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect()
        };
        let certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .and_then(CertificateInfo::from_der);
        let mut body = Vec::new();
        let mut read = 0usize;
        while read < MAX_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    if keep_body {
                        let room = MAX_BODY_BYTES.saturating_sub(body.len());
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                }
                _ => break,
            }
        }
        let mut failures = Vec::new();
        if !ExpectedStatus::any_matches(&spec.expected_status, code) {
            failures
                .push(format!("expected {}, got {code}", ExpectedStatus::describe(&spec.expected_status)));
        }
        let latency_u32 = u32::try_from(latency).unwrap_or(0);
        let judged = Response { latency_ms: latency_u32, headers: &headers, body: &body };
        failures.extend(assertions::judge_all(&config.assertions, &judged));
        let outcome = match (failures.is_empty(), config.degraded_latency_ms) {
            (false, _) => CheckOutcome::Down,
            (true, Some(limit)) if latency_u32 >= limit => CheckOutcome::Degraded,
            (true, _) => CheckOutcome::Up,
        };
        ProbeResult {
            outcome,
            latency_ms: Some(latency),
            http_status: Some(code),
            error: (!failures.is_empty()).then(|| failures.join("; ")),
            checked_at: OffsetDateTime::now_utc(),
            certificate: config.certificate.and(certificate),
        }
    }
}

/// The next hop after a `status` redirect to `next`.
fn redirected(mut hop: Hop, status: u16, next: url::Url) -> Hop {
    let to_get = match status {
        301 | 302 => hop.method == reqwest::Method::POST,
        303 => hop.method != reqwest::Method::HEAD,
        _ => false,
    };
    if to_get {
        hop.method = reqwest::Method::GET;
        hop.body = None;
        hop.headers.retain(|(k, _)| {
            !k.eq_ignore_ascii_case("content-type") && !k.eq_ignore_ascii_case("content-length")
        });
    }
    if next.origin() != hop.url.origin() {
        hop.headers.retain(|(k, _)| !CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c)));
    }
    hop.url = next;
    hop
}

impl Probe for HttpProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        self.http(spec).await
    }
}

/// A short, human-readable reason for a failed request.
pub fn describe_error(e: &reqwest::Error, timeout_ms: u32) -> String {
    if let Some(refused) = Outbound::connect_error_in(e) {
        return refused;
    }
    if e.is_timeout() {
        return format!("timed out after {timeout_ms} ms");
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut innermost = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::TimedOut => format!("timed out after {timeout_ms} ms"),
                _ => upcheck_net::describe_io(io),
            };
        }
        innermost = s.to_string();
        source = s.source();
    }
    let lower = innermost.to_ascii_lowercase();
    if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        format!("dns lookup failed: {innermost}")
    } else if lower.contains("certificate") || lower.contains("tls") {
        format!("tls error: {innermost}")
    } else {
        innermost
    }
}

/// Whether a request failed because its (pooled) connection was already closed: the peer
/// closed it before answering, or reset it. Such a request is safe to send once more.
fn is_stale_connection(e: &reqwest::Error) -> bool {
    if e.is_timeout() || e.is_connect() {
        return false;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(io.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        if s.to_string().contains("connection closed before message completed") {
            return true;
        }
        source = s.source();
    }
    false
}
