//! Check rollups: retention of minute rollups (`RETENTION_ROLLUP_MINUTE_DAYS`) and the API's
//! cache of closed rollup sums (`ROLLUP_CACHE_MB`).

use crate::ConfigError;
use crate::settings::Raw;

/// How long rollups are kept, and how much of them an API process keeps summed in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupSettings {
    /// `RETENTION_ROLLUP_MINUTE_DAYS` (default 90, 1 to 3,650): days minute rollups are kept
    /// (the latency series at `bucket=1m` and the minute edges of `/stats` windows reach back
    /// this far; older windows are read at hour granularity). Hour and day rollups are kept.
    pub minute_days: u32,
    /// `ROLLUP_CACHE_MB` (default 64, 0 to 65,536; 0 turns it off): megabytes (2^20 bytes) an
    /// API process keeps of the sums of closed rollup ranges it has read for `/stats` and the
    /// latency series, so that a repeated read asks Postgres only for what was checked since.
    /// Exact: an entry is keyed by its mark's revision, which late checks and the month mend
    /// move (migration V32).
    pub cache_mb: u64,
}

impl Default for RollupSettings {
    fn default() -> Self {
        Self { minute_days: 90, cache_mb: 64 }
    }
}

impl RollupSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            minute_days: raw.number("RETENTION_ROLLUP_MINUTE_DAYS", d.minute_days, 1..=3_650)?,
            cache_mb: raw.number("ROLLUP_CACHE_MB", d.cache_mb, 0..=65_536)?,
        })
    }
}
