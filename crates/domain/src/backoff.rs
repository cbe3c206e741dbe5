//! Exponential backoff with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And
//! Jitter"): retry `n` (1-based) waits a random time in `[d/2, d]`, where
//! `d = min(base × 2^(n-1), max)`. The floor keeps retries of one outage from hammering; the
//! jitter spreads the retries of many failures apart. Upcheck's one backoff: stream reads and
//! acknowledgements, handler retries, Redis reconnects and notification retries all use it.

use std::time::Duration;

/// The delay before retry number `attempt` (1 = the first retry), ms: random in `[d/2, d]`
/// with `d = min(base_ms × 2^(attempt-1), max_ms)`, at least 1.
pub fn equal_jitter_ms(attempt: u32, base_ms: u64, max_ms: u64) -> u64 {
    let d = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(40)).min(max_ms).max(1);
    rand::random_range(d / 2..=d)
}

/// The delay before retry number `attempt`, ms, with full jitter (random in `[0, d]`, `d` as
/// for [`equal_jitter_ms`]): spreads the retries of many deliveries that failed together
/// (a receiver's outage) as widely as possible.
pub fn full_jitter_ms(attempt: u32, base_ms: u64, max_ms: u64) -> u64 {
    let d = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(40)).min(max_ms).max(1);
    rand::random_range(0..=d)
}

/// Successive delays of one failing operation.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
    attempt: u32,
}

impl Backoff {
    /// Delays from `base_ms` doubling up to `max_ms`, with equal jitter.
    pub const fn new(base_ms: u64, max_ms: u64) -> Self {
        Self { base_ms, max_ms, attempt: 0 }
    }

    /// Starts again from the base delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_millis(equal_jitter_ms(self.attempt, self.base_ms, self.max_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_and_are_capped() {
        for _ in 0..200 {
            let first = equal_jitter_ms(1, 1_000, 60_000);
            assert!((500..=1_000).contains(&first), "{first}");
            let third = equal_jitter_ms(3, 1_000, 60_000);
            assert!((2_000..=4_000).contains(&third), "{third}");
            let late = equal_jitter_ms(30, 1_000, 60_000);
            assert!((30_000..=60_000).contains(&late), "{late}");
        }
    }

    #[test]
    fn a_backoff_grows_and_resets() {
        let mut b = Backoff::new(100, 5_000);
        let first = b.next_delay();
        assert!((50..=100).contains(&(first.as_millis() as u64)), "{first:?}");
        for _ in 0..20 {
            b.next_delay();
        }
        let capped = b.next_delay().as_millis() as u64;
        assert!((2_500..=5_000).contains(&capped), "{capped}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
