//! Outbound connections under the operator's network policy (DESIGN.md, "Probes and
//! deliveries reach only addresses the operator's network policy allows").
//!
//! [`Outbound`] owns one asynchronous resolver (hickory, with a shared cache that honours TTLs;
//! no blocking threads, so a probe's timeout cancels its lookup) and the
//! [`NetworkPolicy`]. Every address a name resolves to is judged at connect time, inside the
//! resolver that the HTTP clients and the TCP connects use, so the address connected to is the
//! address judged: DNS rebinding between validation and connect cannot get around it. Literal
//! IPs never reach a resolver, so [`Outbound::check_url`] judges them; HTTP callers call it for
//! the first URL and for every redirect hop.

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use upcheck_config::ProbeSettings;
use upcheck_domain::netpolicy::{Blocked, NetworkPolicy};
use upcheck_domain::probe_config::DnsRecordType;

/// Why an outbound connection was not made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Every address the target resolved to (or its literal address) is refused by the policy.
    #[error(transparent)]
    Blocked(#[from] Blocked),
    /// The name did not resolve: `dns lookup failed: …`.
    #[error("dns lookup failed: {0}")]
    Dns(String),
    /// Connecting failed on every allowed address (the last error).
    #[error("{}", describe_io(.0))]
    Io(#[from] std::io::Error),
}

/// The resolver could not be built.
#[derive(Debug, thiserror::Error)]
#[error("PROBE_DNS_SERVERS: no usable resolver configuration ({0}); set PROBE_DNS_SERVERS")]
pub struct ResolverError(pub String);

/// A short name for an I/O error, as a check's error shows it.
pub fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset".into(),
        std::io::ErrorKind::TimedOut => "timed out".into(),
        _ => format!("connection error: {e}"),
    }
}

struct Inner {
    policy: NetworkPolicy,
    resolver: TokioResolver,
    dns_timeout: Duration,
    per_server: Mutex<HashMap<SocketAddr, TokioResolver>>,
}

/// The network policy plus the resolver every outbound connection goes through. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<Inner>,
}

impl Outbound {
    /// Builds the resolver from `settings` (`PROBE_DNS_SERVERS`, else `/etc/resolv.conf`).
    ///
    /// # Errors
    /// [`ResolverError`] when no name server is configured and the system configuration
    /// cannot be read.
    pub fn new(settings: &ProbeSettings) -> Result<Self, ResolverError> {
        let dns_timeout = Duration::from_millis(settings.dns_timeout_ms);
        let resolver = build_resolver(&settings.dns_servers, dns_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                policy: settings.policy.clone(),
                resolver,
                dns_timeout,
                per_server: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.inner.policy
    }

    /// Judges a URL's host when it is a literal IP (or `localhost`); names are judged when
    /// resolved, by the clients' resolver.
    ///
    /// # Errors
    /// [`Blocked`] for a refused address.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Blocked> {
        match url.host() {
            Some(host) => self.inner.policy.check_host(&host),
            None => Ok(()),
        }
    }

    /// The allowed addresses `host` (a name or a literal IP) stands for, in resolver order.
    ///
    /// # Errors
    /// [`ConnectError::Blocked`] when every address is refused (naming the first),
    /// [`ConnectError::Dns`] when the name does not resolve.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ConnectError> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            self.inner.policy.check(ip)?;
            return Ok(vec![ip]);
        }
        if let Some(ip) = self.localhost(host) {
            return Ok(ip);
        }
        let lookup = self
            .inner
            .resolver
            .lookup_ip(host)
            .await
            .map_err(|e| ConnectError::Dns(dns_message(&e.to_string())))?;
        let mut allowed = Vec::new();
        let mut first_blocked = None;
        for ip in lookup.iter() {
            match self.inner.policy.check(ip) {
                Ok(()) => allowed.push(ip),
                Err(b) => {
                    first_blocked.get_or_insert(b);
                }
            }
        }
        match (allowed.is_empty(), first_blocked) {
            (true, Some(b)) => Err(ConnectError::Blocked(b)),
            (true, None) => Err(ConnectError::Dns(format!("no address for {host}"))),
            (false, _) => Ok(allowed),
        }
    }

    /// `localhost` and `*.localhost` are loopback (RFC 6761 §6.3), judged like a literal.
    fn localhost(&self, host: &str) -> Option<Vec<IpAddr>> {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        (h == "localhost" || h.ends_with(".localhost"))
            .then(|| vec![IpAddr::from([127, 0, 0, 1])])
            .filter(|ips| self.inner.policy.check(ips[0]).is_ok())
    }

    /// Connects to `host:port` over TCP, trying each allowed address in turn. The caller bounds
    /// the time (a probe wraps it in its timeout).
    ///
    /// # Errors
    /// As [`Outbound::resolve`], or [`ConnectError::Io`] with the last address's error.
    pub async fn connect_tcp(&self, host: &str, port: u16) -> Result<TcpStream, ConnectError> {
        let mut last = None;
        for ip in self.resolve(host).await? {
            match TcpStream::connect(SocketAddr::new(ip, port)).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(ConnectError::Io(last.unwrap_or_else(|| std::io::ErrorKind::AddrNotAvailable.into())))
    }

    /// A reqwest client builder whose every connection goes through this policy's resolver,
    /// with proxies off (a proxy from the environment would connect on the probe's behalf,
    /// out of the policy's sight). Literal-IP URLs still need [`Outbound::check_url`].
    pub fn http_client(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder().no_proxy().dns_resolver(Arc::new(PolicyResolver(self.clone())))
    }

    /// The policy refusal or DNS failure inside a failed request (its message), if that is why it failed.
    pub fn connect_error_in(error: &(dyn std::error::Error + 'static)) -> Option<String> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cur {
            if let Some(c) = e.downcast_ref::<ConnectError>() {
                return Some(c.to_string());
            }
            cur = e.source();
        }
        None
    }
}

impl Outbound {
    /// The answers to a `kind` query for `name`, as text (addresses; names without the final
    /// dot; MX as `preference exchange`; each TXT record's strings joined), through the probes'
    /// resolver, or through `server` when given (a monitor's own name server, which the
    /// policy judges first). Answers of another type (a CNAME on the way to an A) are left out.
    ///
    /// # Errors
    /// [`ConnectError::Blocked`] for a refused `server`; [`ConnectError::Dns`] when the name
    /// does not resolve or the server does not answer.
    pub async fn lookup(
        &self,
        name: &str,
        kind: DnsRecordType,
        server: Option<SocketAddr>,
    ) -> Result<Vec<String>, ConnectError> {
        let resolver = match server {
            None => self.inner.resolver.clone(),
            Some(addr) => {
                self.inner.policy.check(addr.ip())?;
                self.resolver_for(addr)?
            }
        };
        let rtype = match kind {
            DnsRecordType::A => RecordType::A,
            DnsRecordType::Aaaa => RecordType::AAAA,
            DnsRecordType::Cname => RecordType::CNAME,
            DnsRecordType::Mx => RecordType::MX,
            DnsRecordType::Txt => RecordType::TXT,
            DnsRecordType::Ns => RecordType::NS,
        };
        let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
        let lookup = resolver
            .lookup(fqdn.as_str(), rtype)
            .await
            .map_err(|e| ConnectError::Dns(dns_message(&e.to_string())))?;
        let name_text =
            |n: &hickory_resolver::proto::rr::Name| n.to_ascii().trim_end_matches('.').to_string();
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) if rtype == RecordType::A => Some(a.0.to_string()),
                RData::AAAA(a) if rtype == RecordType::AAAA => Some(a.0.to_string()),
                RData::CNAME(c) if rtype == RecordType::CNAME => Some(name_text(&c.0)),
                RData::NS(n) if rtype == RecordType::NS => Some(name_text(&n.0)),
                RData::MX(mx) if rtype == RecordType::MX => {
                    Some(format!("{} {}", mx.preference, name_text(&mx.exchange)))
                }
                RData::TXT(t) if rtype == RecordType::TXT => Some(
                    t.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// A resolver asking only `addr`, made once and kept (at most [`MAX_SERVER_RESOLVERS`]).
    fn resolver_for(&self, addr: SocketAddr) -> Result<TokioResolver, ConnectError> {
        let mut cache = self.inner.per_server.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(r) = cache.get(&addr) {
            return Ok(r.clone());
        }
        if cache.len() >= MAX_SERVER_RESOLVERS {
            cache.clear();
        }
        let r = build_resolver(&[addr], self.inner.dns_timeout).map_err(|e| ConnectError::Dns(e.0))?;
        cache.insert(addr, r.clone());
        Ok(r)
    }
}

/// Most per-monitor name servers whose resolvers are kept at once.
pub const MAX_SERVER_RESOLVERS: usize = 256;

fn build_resolver(servers: &[SocketAddr], timeout: Duration) -> Result<TokioResolver, ResolverError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if servers.is_empty() {
        TokioResolver::builder(provider).map_err(|e| ResolverError(e.to_string()))?
    } else {
        let servers = servers
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                ns
            })
            .collect();
        hickory_resolver::Resolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 2;
    opts.cache_size = 4_096;
    // A and AAAA in parallel, A first: most targets are IPv4, and many hosts have no IPv6 route.
    opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
    builder.build().map_err(|e| ResolverError(e.to_string()))
}

/// hickory's messages, shortened to what a user acts on.
fn dns_message(raw: &str) -> String {
    if raw.contains("no record") || raw.contains("NXDomain") || raw.contains("NoRecordsFound") {
        "no such name".into()
    } else if raw.contains("timed out") || raw.contains("timeout") {
        "timed out".into()
    } else {
        raw.to_string()
    }
}

/// reqwest's resolver hook: every name a client connects to is resolved and judged here.
struct PolicyResolver(Outbound);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let outbound = self.0.clone();
        Box::pin(async move {
            let ips = outbound.resolve(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
