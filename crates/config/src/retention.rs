//! How long raw data is kept.

use crate::ConfigError;
use crate::settings::Raw;

/// Retention of the raw checks (`check_results`, partitioned by due day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRetentionSettings {
    /// `RETENTION_RAW_DAYS` (default 30, 1 to 3,650): a day's partition of raw checks is
    /// dropped whole, by the monitoring worker, once all its checks were due more than this
    /// many days ago. Never a `DELETE`.
    pub raw_days: u32,
    /// `PARTITION_COMPACTION_ENABLED` (default true): the monitoring worker rebuilds each day's
    /// partition's indexes once the day is settled (`REINDEX TABLE CONCURRENTLY`, about half
    /// their size). `false` leaves them as written: for a database whose disk or I/O budget
    /// cannot take the rebuild's temporary second copy of a day's indexes, or that compacts by
    /// other means.
    pub compaction: bool,
}

impl Default for RawRetentionSettings {
    fn default() -> Self {
        Self { raw_days: 30, compaction: true }
    }
}

impl RawRetentionSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            raw_days: raw.number("RETENTION_RAW_DAYS", d.raw_days, 1..=3_650)?,
            compaction: raw.boolean("PARTITION_COMPACTION_ENABLED", d.compaction)?,
        })
    }
}
