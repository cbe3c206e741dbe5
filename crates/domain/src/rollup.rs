//! Check rollups: counts and a mergeable latency histogram over a time bucket (a minute, an
//! hour, a day), and the percentiles read back from merged histograms.
//!
//! The histogram has fixed buckets over integer milliseconds: lower bounds 0, 1, 2, … (each
//! bound plus `max(1, bound / 50)`) up to `i32::MAX`, so every value below 100 ms has a bucket of
//! its own and each wider bucket `[lo, hi]` has `hi − lo < lo / 50`. A bucket is reported as
//! `2·lo·hi / (lo + hi)`, which is within [`RELATIVE_ERROR`] (1 %) of every value in it. Merging
//! histograms adds bucket counts, so merged percentiles carry the same bound whatever the
//! window: the percentile `q` of a merged histogram is within 1 % of the exact nearest-rank
//! percentile (the value of rank `⌈q·n⌉` among the `n` latencies), and exact below 100 ms.

use std::sync::OnceLock;

/// The most a reported percentile differs from the exact nearest-rank one, relative to it.
pub const RELATIVE_ERROR: f64 = 0.01;

/// The bucket lower bounds, ms, ascending (`lower_bounds()[i]` starts bucket `i`). The same
/// recurrence is written in SQL in migration `V23__check_rollups.sql`.
pub fn lower_bounds() -> &'static [i32] {
    static BOUNDS: OnceLock<Vec<i32>> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut out = Vec::with_capacity(1_000);
        let mut v: i64 = 0;
        while v <= i64::from(i32::MAX) {
            out.push(v as i32);
            v += (v / 50).max(1);
        }
        out
    })
}

/// The bucket index of a latency in ms (negative latencies count as 0).
pub fn bucket_of(latency_ms: i32) -> u16 {
    let v = latency_ms.max(0);
    (lower_bounds().partition_point(|b| *b <= v) - 1) as u16
}

/// The value bucket `index` reports, ms: `2·lo·hi / (lo + hi)` for its integers `lo..=hi`.
pub fn bucket_value(index: u16) -> f64 {
    let b = lower_bounds();
    let i = usize::from(index).min(b.len() - 1);
    let lo = f64::from(b[i]);
    let hi = b.get(i + 1).map_or(f64::from(i32::MAX), |n| f64::from(*n) - 1.0);
    if lo == hi || lo + hi == 0.0 { lo } else { 2.0 * lo * hi / (lo + hi) }
}

/// Counts and latency distribution over one time bucket (or a merge of several).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Checks.
    pub checks: i64,
    /// Failed checks (`down`).
    pub failures: i64,
    /// Degraded checks (up, but slow; not failures).
    pub degraded: i64,
    /// Checks that got a response (with a latency).
    pub latency_count: i64,
    /// Sum of their latencies, ms.
    pub latency_sum: i64,
    /// Smallest latency, ms.
    pub latency_min: Option<i32>,
    /// Largest latency, ms.
    pub latency_max: Option<i32>,
    /// Latencies per bucket index ([`bucket_of`]): `histogram[i]` counts bucket `i` (shorter
    /// than the bucket list when the top buckets are empty).
    pub histogram: Vec<u64>,
}

impl Rollup {
    /// Adds one check: its outcome (`failed`, `degraded`) and latency, if it got a response.
    pub fn add(&mut self, failed: bool, degraded: bool, latency_ms: Option<i32>) {
        self.checks += 1;
        self.failures += i64::from(failed);
        self.degraded += i64::from(degraded);
        if let Some(ms) = latency_ms {
            self.latency_count += 1;
            self.latency_sum += i64::from(ms);
            self.latency_min = Some(self.latency_min.map_or(ms, |m| m.min(ms)));
            self.latency_max = Some(self.latency_max.map_or(ms, |m| m.max(ms)));
            self.bump(bucket_of(ms), 1);
        }
    }

    /// Adds another rollup (of a disjoint set of checks).
    pub fn merge(&mut self, other: &Rollup) {
        self.checks += other.checks;
        self.failures += other.failures;
        self.degraded += other.degraded;
        self.latency_count += other.latency_count;
        self.latency_sum += other.latency_sum;
        self.latency_min = match (self.latency_min, other.latency_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.latency_max = match (self.latency_max, other.latency_max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if self.histogram.len() < other.histogram.len() {
            self.histogram.resize(other.histogram.len(), 0);
        }
        for (mine, n) in self.histogram.iter_mut().zip(&other.histogram) {
            *mine += n;
        }
    }

    fn bump(&mut self, index: u16, n: u64) {
        let i = usize::from(index);
        if self.histogram.len() <= i {
            self.histogram.resize(i + 1, 0);
        }
        self.histogram[i] += n;
    }

    /// Mean latency, ms; `None` without latencies.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.latency_count > 0).then(|| self.latency_sum as f64 / self.latency_count as f64)
    }

    /// The latency percentile `q` (0 < q ≤ 1), ms: the bucket value of the latency of rank
    /// `⌈q·n⌉`, clamped to the observed minimum and maximum; `None` without latencies. Within
    /// [`RELATIVE_ERROR`] of the exact nearest-rank percentile.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let n: u64 = self.histogram.iter().sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (k, c) in self.histogram.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let mut v = bucket_value(k as u16);
                if let Some(lo) = self.latency_min {
                    v = v.max(f64::from(lo));
                }
                if let Some(hi) = self.latency_max {
                    v = v.min(f64::from(hi));
                }
                return Some(v);
            }
        }
        None
    }

    /// The histogram as stored: `(index << 32) | count` per non-empty bucket, in index order.
    pub fn packed_histogram(&self) -> Vec<i64> {
        self.histogram.iter().enumerate().filter(|(_, n)| **n > 0).map(|(k, n)| pack(k as u16, *n)).collect()
    }

    /// Adds a stored histogram ([`Rollup::packed_histogram`]'s layout).
    pub fn add_packed(&mut self, packed: &[i64]) {
        self.add_entries(packed.iter().map(|e| unpack(*e)));
    }

    /// Adds a histogram stored as bytes (the rollup tables' `histogram_bytes`, migration
    /// `V31__check_rollups_histogram_bytes.sql`): 6 bytes per entry in index order, the bucket
    /// index as a big-endian `u16`, then the count as a big-endian `u32`. Trailing bytes short of
    /// an entry are ignored.
    pub fn add_packed_bytes(&mut self, bytes: &[u8]) {
        self.add_entries(bytes.chunks_exact(6).map(|e| {
            (u16::from_be_bytes([e[0], e[1]]), u64::from(u32::from_be_bytes([e[2], e[3], e[4], e[5]])))
        }));
    }

    /// Adds `(index, count)` entries in index order: the last has the highest index, so the
    /// histogram grows once.
    fn add_entries(&mut self, entries: impl DoubleEndedIterator<Item = (u16, u64)> + Clone) {
        if let Some((top, _)) = entries.clone().next_back() {
            let len = usize::from(top) + 1;
            if self.histogram.len() < len {
                self.histogram.resize(len, 0);
            }
        }
        for (k, n) in entries {
            self.bump(k, n);
        }
    }
}

/// One stored histogram entry.
pub fn pack(index: u16, count: u64) -> i64 {
    (i64::from(index) << 32) | (count.min(u64::from(u32::MAX)) as i64)
}

/// A stored histogram entry's `(index, count)`.
pub fn unpack(entry: i64) -> (u16, u64) {
    ((entry >> 32) as u16, (entry & 0xffff_ffff) as u64)
}

/// The exact nearest-rank percentile `q` of `values` (the value of rank `⌈q·n⌉`), for tests and
/// for comparing; `None` when empty.
pub fn exact_percentile(values: &[i32], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(f64::from(v[rank - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_latencies_have_buckets_of_their_own() {
        for v in 0..100 {
            assert_eq!(bucket_value(bucket_of(v)), f64::from(v));
        }
        assert_eq!(lower_bounds()[0], 0);
        assert!(lower_bounds().len() < 1_000, "{}", lower_bounds().len());
        let last = i64::from(*lower_bounds().last().unwrap());
        assert!(last + (last / 50).max(1) > i64::from(i32::MAX));
    }

    #[test]
    fn every_bucket_reports_within_one_percent_of_its_values() {
        let b = lower_bounds();
        for i in 0..b.len() - 1 {
            let (lo, hi) = (b[i], b[i + 1] - 1);
            let v = bucket_value(i as u16);
            for x in [lo, hi] {
                let err = (v - f64::from(x)).abs() / f64::from(x).max(1.0);
                assert!(err <= RELATIVE_ERROR, "bucket {i} [{lo}, {hi}] reports {v}");
            }
            assert_eq!(bucket_of(lo), i as u16);
            assert_eq!(bucket_of(hi), i as u16);
        }
        assert_eq!(usize::from(bucket_of(i32::MAX)), b.len() - 1);
        assert_eq!(bucket_of(-5), 0);
    }

    #[test]
    fn packing_round_trips() {
        let mut r = Rollup::default();
        for ms in [3, 3, 250, 90_000] {
            r.add(false, false, Some(ms));
        }
        let mut back = Rollup::default();
        back.add_packed(&r.packed_histogram());
        assert_eq!(back.histogram, r.histogram);
    }

    #[test]
    fn stored_bytes_add_as_the_packed_entries_do() {
        let mut r = Rollup::default();
        for ms in [3, 3, 250, 90_000] {
            r.add(false, false, Some(ms));
        }
        // Each entry's low 48 bits, big-endian: what `substr(int8send(e), 3)` gives in Postgres.
        let bytes: Vec<u8> =
            r.packed_histogram().iter().flat_map(|e| e.to_be_bytes()[2..].to_vec()).collect();
        assert_eq!(bytes.len(), 6 * 3);
        assert_eq!(bytes[..6], [0, 3, 0, 0, 0, 2], "bucket 3 (3 ms) holds 2");
        let mut back = Rollup::default();
        back.add_packed_bytes(&bytes);
        assert_eq!(back.histogram, r.histogram);
        back.add_packed_bytes(&bytes[..7]);
        assert_eq!(back.histogram[3], 4, "a partial entry is ignored, whole ones added");
    }

    proptest! {
        /// Rolling a stream of checks up in arbitrary pieces and merging them gives exact counts
        /// and percentiles within 1 % of the raw data's.
        #[test]
        fn merged_rollups_match_the_raw_checks(
            checks in proptest::collection::vec((0u8..10, prop_oneof![Just(None), (0i32..120_000).prop_map(Some), (0i32..300).prop_map(Some)]), 1..400),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut cut_at: Vec<usize> = cuts.iter().map(|i| i.index(checks.len())).collect();
            cut_at.sort_unstable();
            let mut merged = Rollup::default();
            let mut start = 0;
            for end in cut_at.into_iter().chain([checks.len()]) {
                let mut piece = Rollup::default();
                for (kind, ms) in &checks[start..end.max(start)] {
                    piece.add(*kind == 0, *kind == 1, *ms);
                }
                let mut stored = Rollup { histogram: Vec::new(), ..piece.clone() };
                stored.add_packed(&piece.packed_histogram());
                merged.merge(&stored);
                start = end.max(start);
            }
            let failures = checks.iter().filter(|c| c.0 == 0).count() as i64;
            let degraded = checks.iter().filter(|c| c.0 == 1).count() as i64;
            let latencies: Vec<i32> = checks.iter().filter_map(|c| c.1).collect();
            prop_assert_eq!(merged.checks, checks.len() as i64);
            prop_assert_eq!((merged.failures, merged.degraded), (failures, degraded));
            prop_assert_eq!(merged.latency_count, latencies.len() as i64);
            prop_assert_eq!(merged.latency_sum, latencies.iter().map(|v| i64::from(*v)).sum::<i64>());
            for q in [0.5, 0.95, 0.99, 1.0] {
                match (merged.percentile(q), exact_percentile(&latencies, q)) {
                    (Some(got), Some(want)) => {
                        prop_assert!((got - want).abs() <= RELATIVE_ERROR * want.max(1.0), "q {q}: {got} vs {want}");
                        if want < 100.0 { prop_assert_eq!(got, want); }
                    }
                    (None, None) => {}
                    (got, want) => prop_assert!(false, "q {q}: {got:?} vs {want:?}"),
                }
            }
        }
    }
}
