//! The DNS probe: resolve a name (A, AAAA, CNAME, MX, TXT, NS) through the probes' resolver or
//! the monitor's own name server (judged by the network policy), and compare the answers with
//! the expected values (any or all).

use super::{Probe, ProbeResult, elapsed_ms};
use std::time::{Duration, Instant};
use upcheck_domain::ProbeSpec;
use upcheck_domain::probe_config::{DnsConfig, DnsMatch, KindConfig, parse_resolver};
use upcheck_net::Outbound;

/// The `dns` probe.
#[derive(Clone)]
pub struct DnsProbe {
    outbound: Outbound,
}

impl DnsProbe {
    /// A probe resolving through `outbound`.
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    async fn check(&self, c: &DnsConfig) -> Result<i32, String> {
        let start = Instant::now();
        let server = c.resolver.as_deref().map(parse_resolver).transpose()?;
        let answers =
            self.outbound.lookup(&c.name, c.record_type, server).await.map_err(|e| e.to_string())?;
        let latency = elapsed_ms(start);
        if c.expected.is_empty() {
            return Ok(latency);
        }
        let norm = |s: &str| s.trim().trim_end_matches('.').to_ascii_lowercase();
        let got: Vec<String> = answers.iter().map(|a| norm(a)).collect();
        let found = |e: &String| got.contains(&norm(e));
        let holds = match c.match_ {
            DnsMatch::Any => c.expected.iter().any(found),
            DnsMatch::All => c.expected.iter().all(found),
        };
        if holds {
            Ok(latency)
        } else {
            let which = if c.match_ == DnsMatch::All { "all" } else { "any" };
            Err(format!(
                "dns {} {}: expected {which} of [{}], got [{}]",
                c.record_type.as_str(),
                c.name,
                c.expected.join(", "),
                answers.join(", ")
            ))
        }
    }
}

impl Probe for DnsProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        let KindConfig::Dns(config) = &spec.config else { return ProbeResult::failed("not a dns monitor") };
        let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
        match tokio::time::timeout(timeout, self.check(config)).await {
            Err(_) => ProbeResult::failed(format!("timed out after {} ms", spec.timeout_ms)),
            Ok(Err(e)) => ProbeResult::failed(e),
            Ok(Ok(latency)) => ProbeResult::up(latency),
        }
    }
}
