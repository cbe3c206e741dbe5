//! The external load generators the ceilings and the API scenario use (`wrk` from Debian's
//! package, `redis-benchmark` from Redis's), run as commands and their reports parsed.

use anyhow::{Context, bail};
use std::process::Command;

/// What `wrk --latency` reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WrkReport {
    /// Requests completed per second (its `Requests/sec:` line).
    pub(crate) requests_per_second: f64,
    /// Latency percentiles in ms (its `Latency Distribution` block).
    pub(crate) p50_ms: f64,
    /// 99th percentile, ms.
    pub(crate) p99_ms: f64,
    /// Responses that were not 2xx or 3xx (its `Non-2xx or 3xx responses:` line, else 0).
    pub(crate) non_2xx: u64,
}

/// Runs `wrk --latency -t <threads> -c <connections> -d <seconds>s [-H header] url`.
///
/// See [`wrk_script`] for a run that builds each request with a Lua script.
///
/// wrk keeps every connection alive and reuses it, as the probes' connection pool does.
///
/// # Errors
/// When wrk is not installed (`apt-get install wrk`) or its report cannot be read.
pub(crate) fn wrk(
    url: &str,
    threads: u32,
    connections: u32,
    seconds: u64,
    header: Option<&str>,
) -> anyhow::Result<WrkReport> {
    wrk_script(url, threads, connections, seconds, header, None)
}

/// Like [`wrk`], with `-s script` (a Lua file whose `request` function builds each request).
///
/// # Errors
/// As [`wrk`].
pub(crate) fn wrk_script(
    url: &str,
    threads: u32,
    connections: u32,
    seconds: u64,
    header: Option<&str>,
    script: Option<&std::path::Path>,
) -> anyhow::Result<WrkReport> {
    let mut cmd = Command::new("wrk");
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg("--latency")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"));
    if let Some(h) = header {
        cmd.arg("-H").arg(h);
    }
    let out = cmd.arg(url).output().context("run wrk (install it with `apt-get install wrk`)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

fn parse_wrk(text: &str) -> anyhow::Result<WrkReport> {
    let field = |prefix: &str| {
        text.lines().map(str::trim).find(|l| l.starts_with(prefix)).and_then(|l| l.split_whitespace().nth(1))
    };
    let rps = field("Requests/sec:").context("wrk printed no Requests/sec")?.parse()?;
    let p50 = duration_ms(field("50%").context("wrk printed no 50% latency")?)?;
    let p99 = duration_ms(field("99%").context("wrk printed no 99% latency")?)?;
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok(WrkReport { requests_per_second: rps, p50_ms: p50, p99_ms: p99, non_2xx })
}

/// wrk's durations: `812.00us`, `1.25ms`, `2.01s`, `1.00m`.
fn duration_ms(v: &str) -> anyhow::Result<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).context("duration without unit")?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => bail!("unknown wrk unit {unit:?}"),
    })
}

/// Runs `redis-benchmark -q` for one command at `pipeline` commands per round trip and returns
/// requests per second.
///
/// # Errors
/// When redis-benchmark is missing or prints no rate.
pub(crate) fn redis_benchmark(
    host: &str,
    port: u16,
    password: Option<&str>,
    requests: u64,
    pipeline: u32,
    command: &[&str],
) -> anyhow::Result<f64> {
    let mut cmd = Command::new("redis-benchmark");
    cmd.args(["-h", host, "-p", &port.to_string(), "-q", "-c", "50"]).args([
        "-n",
        &requests.to_string(),
        "-P",
        &pipeline.to_string(),
    ]);
    if let Some(p) = password {
        cmd.args(["-a", p]);
    }
    let out = cmd.args(command).output().context("run redis-benchmark")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `XADD …: 123456.79 requests per second, p50=0.191 msec` (the last \r-separated report).
    let last = text.rsplit(['\r', '\n']).find(|l| l.contains("requests per second")).context("no rate")?;
    let rate = last
        .split(" requests per second")
        .next()
        .and_then(|before| before.split_whitespace().last())
        .context("no rate")?
        .parse()?;
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_report() {
        let text = "Running 2s test @ http://127.0.0.1:1/\n  1 threads and 8 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   350.20us  100.00us   5.00ms   90.00%\n  Latency Distribution\n     50%  312.00us\n     75%  400.00us\n     90%  500.00us\n     99%    1.25ms\n  40000 requests in 2.00s, 3.00MB read\n  Non-2xx or 3xx responses: 7\nRequests/sec:  20000.50\nTransfer/sec:      1.50MB\n";
        let r = parse_wrk(text).expect("parsed");
        assert_eq!(r.requests_per_second, 20000.5);
        assert!((r.p50_ms - 0.312).abs() < 1e-9);
        assert_eq!(r.p99_ms, 1.25);
        assert_eq!(r.non_2xx, 7);
    }
}
