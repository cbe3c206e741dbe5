//! Retention of the tables that grow with use (status events, notifications, ended login
//! sessions), pruned by the status-change worker in small batches.

use crate::ConfigError;
use crate::settings::Raw;

/// How long old rows are kept and how gently they are removed. A day count of 0 keeps those
/// rows for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HousekeepingSettings {
    /// `RETENTION_STATUS_EVENTS_DAYS` (default 400; 0 keeps them; else at least 2): applied,
    /// published status events that occurred longer ago are deleted, except those still
    /// needed (an open incident's, a held or flapping monitor's, and each monitor's latest
    /// transition before the cut, which gives its status at the cut). 400 keeps a 365-day
    /// uptime window exact.
    pub status_events_days: u32,
    /// `RETENTION_NOTIFICATIONS_DAYS` (default 90; 0 keeps them): settled notifications
    /// (delivered or failed) and their attempts, created longer ago, are deleted unless their
    /// monitor has an incident open since before them. Pending and dead ones (replayable from
    /// the dead-letter list) stay.
    pub notifications_days: u32,
    /// `RETENTION_SESSIONS_DAYS` (default 7; 0 keeps them): login sessions (refresh-token
    /// families) that expired or were revoked longer ago are deleted with their refresh tokens.
    /// A live session's spent tokens stay: presenting one again is how a stolen token is caught.
    pub sessions_days: u32,
    /// `RETENTION_INTERVAL_SECONDS` (default 300, 10 to 86,400): how often a status-change
    /// replica tries to prune (one replica at a time, under a Postgres advisory lock).
    pub interval_seconds: u64,
    /// `RETENTION_BATCH_SIZE` (default 500, 10 to 10,000): most rows one `DELETE` removes.
    pub batch_size: u32,
    /// `RETENTION_BATCH_PAUSE_MS` (default 200, 0 to 60,000): pause between two batches, so
    /// pruning a backlog never competes with the check writes for long.
    pub batch_pause_ms: u64,
}

impl Default for HousekeepingSettings {
    /// The defaults documented on each field.
    fn default() -> Self {
        Self {
            status_events_days: 400,
            notifications_days: 90,
            sessions_days: 7,
            interval_seconds: 300,
            batch_size: 500,
            batch_pause_ms: 200,
        }
    }
}

impl HousekeepingSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        let s = Self {
            status_events_days: raw.number(
                "RETENTION_STATUS_EVENTS_DAYS",
                d.status_events_days,
                0..=36_500,
            )?,
            notifications_days: raw.number(
                "RETENTION_NOTIFICATIONS_DAYS",
                d.notifications_days,
                0..=36_500,
            )?,
            sessions_days: raw.number("RETENTION_SESSIONS_DAYS", d.sessions_days, 0..=36_500)?,
            interval_seconds: raw.number("RETENTION_INTERVAL_SECONDS", d.interval_seconds, 10..=86_400)?,
            batch_size: raw.number("RETENTION_BATCH_SIZE", d.batch_size, 10..=10_000)?,
            batch_pause_ms: raw.number("RETENTION_BATCH_PAUSE_MS", d.batch_pause_ms, 0..=60_000)?,
        };
        if s.status_events_days == 1 {
            return Err(ConfigError::new(
                "RETENTION_STATUS_EVENTS_DAYS",
                "must be 0 (keep) or at least 2: flapping is judged over up to a day of events",
            ));
        }
        Ok(s)
    }
}
