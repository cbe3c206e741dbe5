//! The live feed's settings (`GET /api/v1/events`).

use crate::ConfigError;
use crate::settings::Raw;

/// Limits and timings of the API's Server-Sent Events streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// `EVENTS_KEEP_ALIVE_SECONDS` (default 15, 1 to 300): a `: keep-alive` comment is sent on
    /// an idle stream this often, so proxies keep it open and a gone client is noticed.
    pub keep_alive_seconds: u64,
    /// `EVENTS_MAX_STREAMS_PER_USER` (default 5, 1 to 1,000): open streams one user may hold
    /// across every API replica (leases in Redis; per process while Redis is unreachable); one
    /// more is a 429 naming the setting.
    pub max_streams_per_user: u32,
    /// `EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS` (default 20, 1 to 10,000): open status page
    /// streams one client address may hold across every API replica (visitors behind one NAT
    /// share it); one more is a 429 naming the setting.
    pub max_public_streams_per_address: u32,
    /// `EVENTS_MAX_PUBLIC_STREAMS` (default 10,000, 1 to 1,000,000): open status page streams
    /// one API process serves in all (each holds a connection and a little memory); one more is
    /// a 429 naming the setting.
    pub max_public_streams: u32,
    /// `EVENTS_REPLAY_LIMIT` (default 1,000, 1 to 100,000): events at most replayed from
    /// Postgres to a client reconnecting with `Last-Event-ID`, oldest first.
    pub replay_limit: u32,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            keep_alive_seconds: 15,
            max_streams_per_user: 5,
            max_public_streams_per_address: 20,
            max_public_streams: 10_000,
            replay_limit: 1_000,
        }
    }
}

impl EventSettings {
    pub(crate) fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            keep_alive_seconds: raw.number("EVENTS_KEEP_ALIVE_SECONDS", d.keep_alive_seconds, 1..=300)?,
            max_streams_per_user: raw.number(
                "EVENTS_MAX_STREAMS_PER_USER",
                d.max_streams_per_user,
                1..=1_000,
            )?,
            max_public_streams_per_address: raw.number(
                "EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS",
                d.max_public_streams_per_address,
                1..=10_000,
            )?,
            max_public_streams: raw.number(
                "EVENTS_MAX_PUBLIC_STREAMS",
                d.max_public_streams,
                1..=1_000_000,
            )?,
            replay_limit: raw.number("EVENTS_REPLAY_LIMIT", d.replay_limit, 1..=100_000)?,
        })
    }
}
