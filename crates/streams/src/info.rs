//! What Redis says about a stream and its consumer groups (`XLEN`, `XINFO GROUPS`), decoded
//! with redis-rs's typed replies.

use crate::RedisConn;
use crate::StreamError;

/// One stream and one of its groups, as Redis reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupInfo {
    /// Entries in the stream (`XLEN`).
    pub length: u64,
    /// Entries delivered to the group's consumers and not acknowledged; `None` when the group
    /// does not exist.
    pub pending: Option<u64>,
    /// Entries not yet delivered to the group (Redis 7.0 and later; `None` when Redis cannot
    /// tell, e.g. after a trim or with an older server).
    pub lag: Option<u64>,
}

/// [`GroupInfo`] of `group` on `stream`; a stream that does not exist yet reports empty.
///
/// # Errors
/// [`StreamError::Redis`] when Redis refuses the command or the connection fails.
pub async fn group_info(conn: &mut RedisConn, stream: &str, group: &str) -> Result<GroupInfo, StreamError> {
    let reply: Result<(u64, redis::streams::StreamInfoGroupsReply), redis::RedisError> =
        redis::pipe().cmd("XLEN").arg(stream).cmd("XINFO").arg("GROUPS").arg(stream).query_async(conn).await;
    let (length, groups) = match reply {
        Ok(r) => r,
        Err(e) if e.code() == Some("ERR") && e.to_string().contains("no such key") => {
            return Ok(GroupInfo::default());
        }
        Err(e) => return Err(e.into()),
    };
    let mut info = GroupInfo { length, pending: None, lag: None };
    if let Some(g) = groups.groups.iter().find(|g| g.name == group) {
        info.pending = Some(g.pending as u64);
        info.lag = g.lag.map(|l| l as u64);
    }
    Ok(info)
}
