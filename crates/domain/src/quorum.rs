//! Regions with quorum: each region runs its own status machine over its own checks
//! ([`crate::apply_check`]); the monitor's status is the regions' verdict.
//!
//! A region votes when its status is confirmed (`up` or `down`) and it reported within the
//! last three intervals: a region that stops reporting ages out and flips nothing. The monitor
//! is `down` when at least `min_failed_regions` regions vote down (default: a majority of the
//! monitor's listed regions, or of the voting regions when it lists none); it is `up` when it
//! is not down and some region votes up; with no vote it keeps its status.

use crate::status::{MonitorState, MonitorStatus};
use serde::{Deserialize, Serialize};

/// How many intervals a region's last check stays current.
pub const STALE_AFTER_INTERVALS: i64 = 3;

/// A monitor's quorum rule, carried with each of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quorum {
    /// How many regions the monitor lists (0: every region that reports).
    pub listed_regions: u16,
    /// Regions that must see it down (`None`: a majority).
    pub min_failed_regions: Option<u16>,
    /// The monitor's interval, ms: a region silent for three of them does not vote.
    pub interval_ms: i64,
}

impl Default for Quorum {
    /// Every reporting region, a majority, a one-minute interval.
    fn default() -> Self {
        Self { listed_regions: 0, min_failed_regions: None, interval_ms: 60_000 }
    }
}

/// One region's memory for one monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionState {
    /// The region's name.
    pub region: String,
    /// Its status machine.
    pub state: MonitorState,
    /// When its latest check ran, Unix ms (`i64::MIN` before any).
    pub last_checked_ms: i64,
    /// Its latest failed check's error.
    pub last_error: Option<String>,
}

impl RegionState {
    /// A region with no checks yet.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            state: MonitorState::pending(),
            last_checked_ms: i64::MIN,
            last_error: None,
        }
    }

    /// Whether it votes at `now_ms`: confirmed and current.
    pub fn votes(&self, now_ms: i64, interval_ms: i64) -> bool {
        matches!(self.state.status, MonitorStatus::Up | MonitorStatus::Down)
            && self.last_checked_ms >= now_ms.saturating_sub(STALE_AFTER_INTERVALS * interval_ms.max(1))
    }
}

/// The regions' verdict at `now_ms`: `Some(Up | Down)`, or `None` when no region votes.
pub fn verdict<'a>(
    regions: impl IntoIterator<Item = &'a RegionState>,
    quorum: Quorum,
    now_ms: i64,
) -> Option<MonitorStatus> {
    let (mut up, mut down) = (0u32, 0u32);
    for r in regions {
        if r.votes(now_ms, quorum.interval_ms) {
            match r.state.status {
                MonitorStatus::Down => down += 1,
                _ => up += 1,
            }
        }
    }
    if up + down == 0 {
        return None;
    }
    let electorate = if quorum.listed_regions > 0 { u32::from(quorum.listed_regions) } else { up + down };
    let needed = quorum.min_failed_regions.map_or(electorate / 2 + 1, u32::from).max(1);
    if down >= needed {
        Some(MonitorStatus::Down)
    } else if up > 0 {
        Some(MonitorStatus::Up)
    } else {
        None
    }
}

/// The regions that vote up at `now_ms` with slowness confirmed ([`MonitorState::degraded`]),
/// sorted. An up monitor is degraded while any is: one slow region is what its users there see.
pub fn degraded_regions<'a>(
    regions: impl IntoIterator<Item = &'a RegionState>,
    quorum: Quorum,
    now_ms: i64,
) -> Vec<String> {
    let mut out: Vec<String> = regions
        .into_iter()
        .filter(|r| {
            r.votes(now_ms, quorum.interval_ms) && r.state.status == MonitorStatus::Up && r.state.degraded
        })
        .map(|r| r.region.clone())
        .collect();
    out.sort();
    out
}

/// The regions that vote down at `now_ms`, sorted: an incident's cause names them.
pub fn down_regions<'a>(
    regions: impl IntoIterator<Item = &'a RegionState>,
    quorum: Quorum,
    now_ms: i64,
) -> Vec<String> {
    let mut names: Vec<String> = regions
        .into_iter()
        .filter(|r| r.votes(now_ms, quorum.interval_ms) && r.state.status == MonitorStatus::Down)
        .map(|r| r.region.clone())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quorum = Quorum { listed_regions: 0, min_failed_regions: None, interval_ms: 1_000 };

    fn region(name: &str, status: MonitorStatus, last_checked_ms: i64) -> RegionState {
        RegionState {
            region: name.into(),
            state: MonitorState { status, ..MonitorState::pending() },
            last_checked_ms,
            last_error: None,
        }
    }

    use MonitorStatus::{Down, Pending, Up};

    #[test]
    fn one_region_decides_alone() {
        assert_eq!(verdict(&[region("eu", Down, 10_000)], Q, 10_000), Some(Down));
        assert_eq!(verdict(&[region("eu", Up, 10_000)], Q, 10_000), Some(Up));
        assert_eq!(verdict(&[region("eu", Pending, 10_000)], Q, 10_000), None);
    }

    #[test]
    fn a_majority_must_see_it_down() {
        let two = [region("eu", Down, 10_000), region("us", Up, 10_000)];
        assert_eq!(verdict(&two, Q, 10_000), Some(Up), "one of two is not a majority");
        let three = [region("eu", Down, 10_000), region("us", Up, 10_000), region("ap", Up, 10_000)];
        assert_eq!(verdict(&three, Q, 10_000), Some(Up));
        let two_of_three = [region("eu", Down, 10_000), region("us", Down, 10_000), region("ap", Up, 10_000)];
        assert_eq!(verdict(&two_of_three, Q, 10_000), Some(Down));
        assert_eq!(down_regions(&two_of_three, Q, 10_000), ["eu", "us"]);
    }

    #[test]
    fn a_region_that_stops_reporting_ages_out_after_three_intervals() {
        let regions = [region("eu", Down, 10_000), region("us", Down, 7_000), region("ap", Up, 10_000)];
        assert_eq!(verdict(&regions, Q, 10_000), Some(Down), "us reported 3 s ago: current");
        let regions = [region("eu", Down, 10_000), region("us", Down, 6_999), region("ap", Up, 10_000)];
        assert_eq!(verdict(&regions, Q, 10_000), Some(Up), "us is stale: one of two current regions");
    }

    #[test]
    fn listed_regions_and_min_failed_regions_set_the_bar() {
        let listed = Quorum { listed_regions: 3, ..Q };
        let one_stale = [region("eu", Down, 10_000), region("us", Up, 10_000)];
        assert_eq!(verdict(&one_stale, listed, 10_000), Some(Up), "a majority of three listed is two");
        let any = Quorum { min_failed_regions: Some(1), ..Q };
        assert_eq!(verdict(&one_stale, any, 10_000), Some(Down));
        let all = Quorum { min_failed_regions: Some(3), listed_regions: 3, ..Q };
        let two_down = [region("eu", Down, 10_000), region("us", Down, 10_000), region("ap", Up, 10_000)];
        assert_eq!(verdict(&two_down, all, 10_000), Some(Up));
        let all_down = [region("eu", Down, 10_000), region("us", Down, 10_000)];
        assert_eq!(verdict(&all_down, all, 10_000), None, "nobody up, too few down: unchanged");
    }
}
