//! The chaos scenario's truth: a seeded schedule of outages (several seconds down) and blips
//! (shorter than the failure threshold) per flipping monitor, in milliseconds from the start of
//! the chaos window, and the status code each monitor's target answers at a given moment.

/// Outage lengths, ms: long enough for `failure_threshold` (2) failed checks at 1 s.
const OUTAGE_MS: (u64, u64) = (4_000, 15_000);
/// Up time between outages, ms: long enough for the recovery and a quiet stretch.
const UP_MS: (u64, u64) = (10_000, 40_000);
/// Blip lengths, ms: at most one failed check at a 1 s interval, so never an incident.
const BLIP_MS: (u64, u64) = (300, 600);
/// Chance that an up period holds a blip, percent.
const BLIP_PERCENT: u64 = 35;
/// The first outage starts this long into the window at the earliest, ms.
const FIRST_MS: (u64, u64) = (3_000, 20_000);
/// The last outage ends at least this long before the window closes, ms.
const TAIL_MS: u64 = 5_000;

/// One stretch of failing answers, `[start_ms, end_ms)` from the window's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
}

impl Span {
    fn contains(&self, ms: u64) -> bool {
        (self.start_ms..self.end_ms).contains(&ms)
    }
}

/// One flipping monitor's schedule, in time order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    /// Outages: each must open exactly one incident and resolve it.
    pub(crate) outages: Vec<Span>,
    /// Blips: none may open an incident.
    pub(crate) blips: Vec<Span>,
}

impl Timeline {
    /// Whether the target is failing `ms` after the window's start.
    pub(crate) fn failing_at(&self, ms: u64) -> bool {
        self.outages.iter().chain(&self.blips).any(|s| s.contains(ms))
    }
}

/// Every flipping monitor's schedule.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) monitors: Vec<Timeline>,
}

impl Plan {
    /// A schedule for `monitors` monitors over a window of `window_ms`, from `seed`.
    pub(crate) fn generate(seed: u64, monitors: usize, window_ms: u64) -> Self {
        let mut rng = SplitMix64(seed);
        let end = window_ms.saturating_sub(TAIL_MS);
        let monitors = (0..monitors)
            .map(|_| {
                let mut t = rng.between(FIRST_MS);
                let mut line = Timeline::default();
                loop {
                    let len = rng.between(OUTAGE_MS);
                    if t + len > end {
                        break;
                    }
                    line.outages.push(Span { start_ms: t, end_ms: t + len });
                    t += len;
                    let up = rng.between(UP_MS);
                    if rng.between((0, 99)) < BLIP_PERCENT {
                        // Well inside the up period: 3 s after the recovery, 3 s before the
                        // next outage, so a blip never merges with an outage.
                        let blip = rng.between(BLIP_MS);
                        let at = t + rng.between((3_000, up - 3_000 - blip));
                        if at + blip <= end {
                            line.blips.push(Span { start_ms: at, end_ms: at + blip });
                        }
                    }
                    t += up;
                }
                line
            })
            .collect();
        Self { monitors }
    }

    /// Outages over all monitors.
    pub(crate) fn outages(&self) -> usize {
        self.monitors.iter().map(|m| m.outages.len()).sum()
    }

    /// Blips over all monitors.
    pub(crate) fn blips(&self) -> usize {
        self.monitors.iter().map(|m| m.blips.len()).sum()
    }

    /// The status code monitor `index`'s target answers `ms` into the window.
    pub(crate) fn status(&self, index: usize, ms: u64) -> u16 {
        match self.monitors.get(index) {
            Some(m) if m.failing_at(ms) => 500,
            _ => 200,
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): a small, fast, seedable generator, so one seed
/// gives the same schedule and the same kills on every machine.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi` (the bias of the modulo is negligible at these ranges).
    pub(crate) fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next_u64() % (hi.saturating_sub(lo) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_schedule() {
        let a = Plan::generate(7, 5, 600_000);
        let b = Plan::generate(7, 5, 600_000);
        assert_eq!(a.monitors[3].outages, b.monitors[3].outages);
        assert_ne!(a.monitors[3].outages, Plan::generate(8, 5, 600_000).monitors[3].outages);
    }

    #[test]
    fn outages_and_blips_keep_their_lengths_and_never_touch() {
        let plan = Plan::generate(42, 50, 600_000);
        assert!(plan.outages() > 300, "about 16 outages per monitor in 10 minutes");
        assert!(plan.blips() > 50);
        for m in &plan.monitors {
            for o in &m.outages {
                assert!((OUTAGE_MS.0..=OUTAGE_MS.1).contains(&(o.end_ms - o.start_ms)));
                assert!(o.end_ms + TAIL_MS <= 600_000);
            }
            for b in &m.blips {
                assert!((BLIP_MS.0..=BLIP_MS.1).contains(&(b.end_ms - b.start_ms)));
                for o in &m.outages {
                    assert!(
                        b.end_ms + 3_000 <= o.start_ms || o.end_ms + 3_000 <= b.start_ms,
                        "{b:?} near {o:?}"
                    );
                }
            }
            for pair in m.outages.windows(2) {
                assert!(pair[0].end_ms + UP_MS.0 <= pair[1].start_ms);
            }
        }
    }

    #[test]
    fn the_target_fails_only_inside_a_span() {
        let plan = Plan {
            monitors: vec![Timeline {
                outages: vec![Span { start_ms: 1_000, end_ms: 5_000 }],
                blips: vec![Span { start_ms: 9_000, end_ms: 9_400 }],
            }],
        };
        assert_eq!(plan.status(0, 999), 200);
        assert_eq!(plan.status(0, 1_000), 500);
        assert_eq!(plan.status(0, 4_999), 500);
        assert_eq!(plan.status(0, 5_000), 200);
        assert_eq!(plan.status(0, 9_200), 500);
        assert_eq!(plan.status(1, 1_500), 200, "a monitor without a schedule never fails");
    }
}
