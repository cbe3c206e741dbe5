//! Retention of check rollups (`RETENTION_ROLLUP_MINUTE_DAYS`).

use crate::ConfigError;
use crate::settings::Raw;

/// How long rollups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupSettings {
    /// `RETENTION_ROLLUP_MINUTE_DAYS` (default 90, 1 to 3,650): days minute rollups are kept
    /// (the latency series at `bucket=1m` and the minute edges of `/stats` windows reach back
    /// this far; older windows are read at hour granularity). Hour and day rollups are kept.
    pub minute_days: u32,
}

impl Default for RollupSettings {
    fn default() -> Self {
        Self { minute_days: 90 }
    }
}

impl RollupSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self { minute_days: raw.number("RETENTION_ROLLUP_MINUTE_DAYS", d.minute_days, 1..=3_650)? })
    }
}
