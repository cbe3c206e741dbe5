//! Measurements shared by the scenarios: percentiles, the clock, and the CPU and memory of the
//! Redis and Postgres servers the stack runs on.

use crate::procs;
use crate::report::thousands;
use time::OffsetDateTime;
use upcheck_testkit::TestEnv;

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The `p` quantile (0–1) of sorted values (nearest rank); NaN when there are none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// `p50 / p99 / max` of sorted values, with thousands separators.
pub(crate) fn p50_p99_max(sorted: &[f64]) -> String {
    format!(
        "{} / {} / {}",
        thousands(percentile(sorted, 0.5)),
        thousands(percentile(sorted, 0.99)),
        thousands(sorted.last().copied().unwrap_or(f64::NAN))
    )
}

/// Redis's own figures from `INFO`: used memory (bytes) and CPU seconds (user + system), summed
/// over a cluster's masters (which answer `INFO` each).
pub(crate) async fn redis_info(conn: &mut upcheck_streams::RedisConn) -> anyhow::Result<(f64, f64)> {
    let reply: redis::Value = redis::cmd("INFO").arg("all").query_async(conn).await?;
    let texts: Vec<String> = match reply {
        redis::Value::Map(nodes) => {
            nodes.into_iter().map(|(_, v)| redis::from_redis_value(v)).collect::<Result<_, _>>()?
        }
        one => vec![redis::from_redis_value(one)?],
    };
    let field = |info: &str, name: &str| -> f64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN)
    };
    Ok(texts.iter().fold((0.0, 0.0), |(mem, cpu), info| {
        (mem + field(info, "used_memory"), cpu + field(info, "used_cpu_user") + field(info, "used_cpu_sys"))
    }))
}

/// Postgres's CPU seconds: the postmaster (whose reaped backends count in its `cutime`) plus
/// its live children. `None` when the server is not on this machine.
pub(crate) async fn postgres_cpu(env: &TestEnv) -> anyhow::Result<Option<f64>> {
    let backend: i32 = env.db().await.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let Some(postmaster) = parent_pid(backend as u32) else { return Ok(None) };
    let total = procs::pids_named("postgres")
        .into_iter()
        .filter(|&p| p == postmaster || parent_pid(p) == Some(postmaster))
        .filter_map(procs::cpu_seconds)
        .sum();
    Ok(Some(total))
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert!(percentile(&[], 0.5).is_nan());
        assert_eq!(p50_p99_max(&[1.0, 2.0, 3_000.0]), "2 / 3,000 / 3,000");
    }
}
