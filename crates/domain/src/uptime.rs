//! Exact uptime: measured on the monitor's status timeline (its verdicts, pauses and
//! maintenance windows), not by counting checks.
//!
//! Definition (what `/stats` and status pages report): over a window `[from, to)`, the
//! *monitored* time is the time the monitor's status was `up` or `down`, leaving out time it
//! was paused, time inside its maintenance windows, and `pending` time (before its first
//! verdict, and after a resume until the next one). The *down* time is the monitored time its
//! status was `down`. Uptime is `(monitored − down) ÷ monitored × 100`, undefined (None)
//! without monitored time. Degraded (up, but slow) counts as up.

use crate::maintenance::{Occurrence, merge};
use crate::status::MonitorStatus;
use time::OffsetDateTime;

/// Monitored and down time over a window, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uptime {
    /// Time the status was up or down, outside pauses and maintenance windows, ms.
    pub monitored_ms: i64,
    /// Part of it the status was down, ms.
    pub down_ms: i64,
}

impl Uptime {
    /// `(monitored − down) ÷ monitored × 100`; `None` without monitored time.
    pub fn percent(&self) -> Option<f64> {
        (self.monitored_ms > 0)
            .then(|| (self.monitored_ms - self.down_ms) as f64 * 100.0 / self.monitored_ms as f64)
    }

    /// Adds another window's figures (of a disjoint window).
    pub fn add(&mut self, other: Uptime) {
        self.monitored_ms += other.monitored_ms;
        self.down_ms += other.down_ms;
    }
}

/// The monitor's uptime over `[from, to)`.
///
/// `changes` are its status changes in the order the status machine made them (`(when, new
/// status)`; a change earlier than its predecessor is taken at its predecessor's time), and
/// must include the last change before `from` when there is one: before the first change the
/// status is `pending`. `pauses` are the pauses (`[paused_at, resumed_at)`, open ones ending at
/// `to` or later) and `maintenance` the maintenance windows; either may overlap each other.
/// A pause makes the status `paused` for its length and `pending` after it until the next
/// change.
pub fn exact(
    from: OffsetDateTime,
    to: OffsetDateTime,
    changes: &[(OffsetDateTime, MonitorStatus)],
    pauses: &[Occurrence],
    maintenance: &[Occurrence],
) -> Uptime {
    if to <= from {
        return Uptime::default();
    }
    // (when, order at equal times, status): at one instant, pause marks come after changes.
    let mut points: Vec<(OffsetDateTime, u8, MonitorStatus)> =
        Vec::with_capacity(changes.len() + 2 * pauses.len());
    let mut last = OffsetDateTime::UNIX_EPOCH - time::Duration::days(365 * 1_000);
    for (at, status) in changes {
        last = last.max(*at);
        points.push((last, 0, *status));
    }
    for p in merge(pauses.to_vec()) {
        points.push((p.starts_at, 1, MonitorStatus::Paused));
        points.push((p.ends_at, 1, MonitorStatus::Pending));
    }
    points.sort_by_key(|(at, order, _)| (*at, *order));
    let held = merge(maintenance.to_vec());
    let mut out = Uptime::default();
    let mut status = MonitorStatus::Pending;
    let mut since = from;
    for (at, _, next) in points.iter().copied().chain([(to, 2, MonitorStatus::Pending)]) {
        let end = at.min(to);
        if end > since {
            if matches!(status, MonitorStatus::Up | MonitorStatus::Down) {
                let ms = outside(since, end, &held);
                out.monitored_ms += ms;
                if status == MonitorStatus::Down {
                    out.down_ms += ms;
                }
            }
            since = end;
        }
        if at >= to {
            break;
        }
        status = next;
    }
    out
}

/// Milliseconds of `[from, to)` outside the disjoint, start-ordered `held` intervals.
fn outside(from: OffsetDateTime, to: OffsetDateTime, held: &[Occurrence]) -> i64 {
    let mut ms = (to - from).whole_milliseconds() as i64;
    for h in held {
        if h.starts_at >= to {
            break;
        }
        let (s, e) = (h.starts_at.max(from), h.ends_at.min(to));
        if e > s {
            ms -= (e - s).whole_milliseconds() as i64;
        }
    }
    ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use MonitorStatus::{Down, Up};
    use time::Duration;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-12-01 00:00 UTC);

    fn at(minutes: i64) -> OffsetDateTime {
        T + Duration::minutes(minutes)
    }

    fn span(a: i64, b: i64) -> Occurrence {
        Occurrence { starts_at: at(a), ends_at: at(b) }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn down_time_over_monitored_time() {
        // Up from 0, down 30..45, up again: 15 of 100 minutes down.
        let u = exact(at(0), at(100), &[(at(0), Up), (at(30), Down), (at(45), Up)], &[], &[]);
        assert_eq!(u, Uptime { monitored_ms: 100 * MIN, down_ms: 15 * MIN });
        assert_eq!(u.percent(), Some(85.0));
    }

    #[test]
    fn pending_time_before_the_first_verdict_is_not_monitored() {
        let u = exact(at(0), at(100), &[(at(20), Down), (at(40), Up)], &[], &[]);
        assert_eq!(u, Uptime { monitored_ms: 80 * MIN, down_ms: 20 * MIN });
        assert_eq!(exact(at(0), at(10), &[], &[], &[]).percent(), None);
    }

    #[test]
    fn the_change_before_the_window_sets_its_starting_status() {
        let u = exact(at(60), at(120), &[(at(0), Up), (at(50), Down), (at(90), Up)], &[], &[]);
        assert_eq!(u, Uptime { monitored_ms: 60 * MIN, down_ms: 30 * MIN });
    }

    #[test]
    fn paused_time_is_left_out_and_a_resume_waits_for_the_next_verdict() {
        // Down from 10; paused 20..50 (still down when paused); resumed pending until up at 55.
        let u = exact(at(0), at(100), &[(at(0), Up), (at(10), Down), (at(55), Up)], &[span(20, 50)], &[]);
        assert_eq!(u, Uptime { monitored_ms: (20 + 45) * MIN, down_ms: 10 * MIN });
    }

    #[test]
    fn an_open_pause_lasts_to_the_end_of_the_window() {
        let u = exact(at(0), at(100), &[(at(0), Down)], &[span(40, 1_000)], &[]);
        assert_eq!(u, Uptime { monitored_ms: 40 * MIN, down_ms: 40 * MIN });
    }

    #[test]
    fn maintenance_overlapping_pauses_and_outages_is_counted_once() {
        // Down 10..70; maintenance 30..60 and 50..80 (overlapping); pause 55..65 overlaps both.
        let u = exact(
            at(0),
            at(100),
            &[(at(0), Up), (at(10), Down), (at(70), Up)],
            &[span(55, 65)],
            &[span(30, 60), span(50, 80)],
        );
        // Left out: 30..80 (maintenance, covering the pause). The pause still resets the status to
        // pending at 65 until the next change at 70.
        assert_eq!(u, Uptime { monitored_ms: 50 * MIN, down_ms: 20 * MIN });
    }

    #[test]
    fn out_of_order_change_times_keep_production_order() {
        let u = exact(at(0), at(10), &[(at(0), Up), (at(5), Down), (at(4), Up)], &[], &[]);
        assert_eq!(u, Uptime { monitored_ms: 10 * MIN, down_ms: 0 });
    }

    #[test]
    fn an_empty_window_has_no_uptime() {
        assert_eq!(exact(at(10), at(10), &[(at(0), Down)], &[], &[]), Uptime::default());
    }
}
