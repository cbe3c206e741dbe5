//! Probes: one trait, one implementation per monitor kind. HTTP(S) is the first.

use std::future::Future;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::{CheckOutcome, ExpectedStatus, MonitorKind, ProbeSpec};

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Up or down.
    pub outcome: CheckOutcome,
    /// Time to the response headers, ms; `None` when no response came.
    pub latency_ms: Option<i32>,
    /// The response's status code.
    pub http_status: Option<u16>,
    /// Why it failed, human-readable ("connection refused", "timed out after 2000 ms",
    /// "expected 2xx, got 503").
    pub error: Option<String>,
    /// When the probe finished.
    pub checked_at: OffsetDateTime,
}

/// Runs a check against a target. Implementations never fail: every failure is a `down` result.
pub trait Probe: Send + Sync + 'static {
    /// Probes `spec`'s target once, within `spec.timeout_ms`.
    fn probe(&self, spec: &ProbeSpec) -> impl Future<Output = ProbeResult> + Send;
}

/// Most response-body bytes read (then the connection is dropped rather than drained).
const MAX_BODY_BYTES: usize = 1 << 20;

/// The HTTP(S) probe (reqwest with rustls).
///
/// Connection policy: keep-alive connections are pooled per host and reused across checks. A
/// request that fails because its pooled connection turned out to be closed (the target closed
/// it, or died) is retried once at once on a fresh connection within the same timeout, so a
/// server's idle-connection close never shows as an outage, and a dead listener still fails its
/// very next check, with "connection refused". Redirects are followed (up to 10) unless a
/// monitor's `expected_status` accepts a 3xx code, in which case the first response is judged.
#[derive(Clone)]
pub struct HttpProbe {
    follow: reqwest::Client,
    no_follow: reqwest::Client,
}

impl HttpProbe {
    /// Builds the two clients.
    ///
    /// # Errors
    /// When the TLS back-end cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let build = |policy| {
            reqwest::Client::builder()
                .redirect(policy)
                .user_agent(concat!("Upcheck/", env!("CARGO_PKG_VERSION")))
                .pool_idle_timeout(Duration::from_secs(50))
                .connect_timeout(Duration::from_secs(10))
                .tcp_nodelay(true)
                .build()
        };
        Ok(Self {
            follow: build(reqwest::redirect::Policy::limited(10))?,
            no_follow: build(reqwest::redirect::Policy::none())?,
        })
    }

    async fn http(&self, spec: &ProbeSpec) -> ProbeResult {
        let accepts_redirect = spec.expected_status.iter().any(|r| (300..400).any(|c| r.matches(c)));
        let client = if accepts_redirect { &self.no_follow } else { &self.follow };
        let method =
            reqwest::Method::from_bytes(spec.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
        let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
        let request = |budget: Duration| {
            let mut r = client.request(method.clone(), &spec.url).timeout(budget);
            for (k, v) in &spec.headers {
                r = r.header(k, v);
            }
            if let Some(body) = &spec.body {
                r = r.body(body.clone());
            }
            r
        };
        let start = Instant::now();
        let mut sent = request(timeout).send().await;
        if let Err(e) = &sent {
            let left = timeout.saturating_sub(start.elapsed());
            if is_stale_connection(e) && left > Duration::from_millis(1) {
                sent = request(left).send().await;
            }
        }
        let latency = i32::try_from(start.elapsed().as_millis()).unwrap_or(i32::MAX);
        match sent {
            Ok(mut response) => {
                let code = response.status().as_u16();
                let mut read = 0usize;
                while read < MAX_BODY_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                let ok = ExpectedStatus::any_matches(&spec.expected_status, code);
                ProbeResult {
                    outcome: if ok { CheckOutcome::Up } else { CheckOutcome::Down },
                    latency_ms: Some(latency),
                    http_status: Some(code),
                    error: (!ok).then(|| {
                        format!("expected {}, got {code}", ExpectedStatus::describe(&spec.expected_status))
                    }),
                    checked_at: OffsetDateTime::now_utc(),
                }
            }
            Err(e) => ProbeResult {
                outcome: CheckOutcome::Down,
                latency_ms: None,
                http_status: None,
                error: Some(describe_error(&e, spec.timeout_ms)),
                checked_at: OffsetDateTime::now_utc(),
            },
        }
    }
}

impl Probe for HttpProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        match spec.kind {
            MonitorKind::Http => self.http(spec).await,
        }
    }
}

/// A short, human-readable reason for a failed request.
pub fn describe_error(e: &reqwest::Error, timeout_ms: u32) -> String {
    if e.is_timeout() {
        return format!("timed out after {timeout_ms} ms");
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut innermost = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => format!("timed out after {timeout_ms} ms"),
                _ => format!("connection error: {io}"),
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
    } else if e.is_redirect() {
        "too many redirects".into()
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
