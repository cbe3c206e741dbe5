//! The region registry: each monitoring replica reports its region every few seconds into one
//! sorted set (member region, score last report in Unix ms); the API lists the regions that
//! reported in the last five minutes. It repairs itself after a Redis loss at the next report.

use crate::RedisConn;
use crate::{Keys, StreamError};

/// How long a region counts as active after its last report, ms.
pub const ACTIVE_FOR_MS: i64 = 5 * 60 * 1_000;

/// Records that a replica of `region` is alive at `now_ms`.
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn report(conn: &RedisConn, keys: &Keys, region: &str, now_ms: i64) -> Result<(), StreamError> {
    redis::pipe()
        .cmd("ZADD")
        .arg(keys.regions())
        .arg(now_ms)
        .arg(region)
        .ignore()
        .cmd("ZREMRANGEBYSCORE")
        .arg(keys.regions())
        .arg("-inf")
        .arg(now_ms - 7 * 24 * 3_600 * 1_000)
        .ignore()
        .query_async::<()>(&mut conn.clone())
        .await?;
    Ok(())
}

/// The regions that reported since `now_ms - ACTIVE_FOR_MS`, with their last report (Unix
/// ms), by name.
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn active(conn: &RedisConn, keys: &Keys, now_ms: i64) -> Result<Vec<(String, i64)>, StreamError> {
    let raw: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(keys.regions())
        .arg(now_ms - ACTIVE_FOR_MS)
        .arg("+inf")
        .arg("BYSCORE")
        .arg("WITHSCORES")
        .query_async(&mut conn.clone())
        .await?;
    let mut out: Vec<(String, i64)> = raw.into_iter().map(|(r, s)| (r, s as i64)).collect();
    out.sort();
    Ok(out)
}
