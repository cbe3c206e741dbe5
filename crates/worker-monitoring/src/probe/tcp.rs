//! The TCP probe: connect to `host:port` under the network policy within the timeout;
//! optionally send bytes and expect the first bytes received to start with a banner.

use super::{Probe, ProbeResult, elapsed_ms};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use upcheck_domain::ProbeSpec;
use upcheck_domain::probe_config::{KindConfig, TcpConfig};
use upcheck_net::Outbound;

/// The `tcp` probe.
#[derive(Clone)]
pub struct TcpProbe {
    outbound: Outbound,
}

impl TcpProbe {
    /// A probe connecting through `outbound`.
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    async fn check(&self, c: &TcpConfig) -> Result<i32, String> {
        let start = Instant::now();
        let mut stream = self.outbound.connect_tcp(&c.host, c.port).await.map_err(|e| e.to_string())?;
        if let Some(send) = &c.send {
            stream
                .write_all(send.as_bytes())
                .await
                .map_err(|e| format!("send failed: {}", upcheck_net::describe_io(&e)))?;
        }
        if let Some(expect) = &c.expect {
            let want = expect.as_bytes();
            let mut got = Vec::with_capacity(want.len());
            let mut buf = [0u8; 1024];
            while got.len() < want.len() {
                match stream.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(format!("read failed: {}", upcheck_net::describe_io(&e))),
                }
            }
            if !got.starts_with(want) {
                let shown: String = String::from_utf8_lossy(&got[..got.len().min(64)]).chars().collect();
                return Err(format!("banner: expected {expect:?}, got {shown:?}"));
            }
        }
        let latency = elapsed_ms(start);
        let _ = stream.shutdown().await;
        Ok(latency)
    }
}

impl Probe for TcpProbe {
    async fn probe(&self, spec: &ProbeSpec) -> ProbeResult {
        let KindConfig::Tcp(config) = &spec.config else { return ProbeResult::failed("not a tcp monitor") };
        let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
        match tokio::time::timeout(timeout, self.check(config)).await {
            Err(_) => ProbeResult::failed(format!("timed out after {} ms", spec.timeout_ms)),
            Ok(Err(e)) => ProbeResult::failed(e),
            Ok(Ok(latency)) => ProbeResult::up(latency),
        }
    }
}
