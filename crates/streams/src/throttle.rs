//! Log throttling: one line per period for a failure that repeats many times at once.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most one log line per period for a failure that repeats across messages (Postgres down
/// fails every message in flight at once), counting the ones it held back.
#[derive(Clone)]
pub struct Throttle {
    last: Arc<Mutex<Option<Instant>>>,
    held_back: Arc<std::sync::atomic::AtomicU64>,
    every: Duration,
}

impl Throttle {
    /// Lets one line through per `every`.
    pub fn new(every: Duration) -> Self {
        Self { last: Arc::new(Mutex::new(None)), held_back: Arc::default(), every }
    }

    /// `Some(n)` when this one may be logged (`n` were held back since the last), else `None`.
    pub fn allow(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|t| t.elapsed() >= self.every) {
            *last = Some(Instant::now());
            Some(self.held_back.swap(0, Ordering::Relaxed))
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;
    use std::time::Duration;

    #[test]
    fn a_throttle_lets_one_line_through_per_period_and_counts_the_rest() {
        let t = Throttle::new(Duration::from_millis(50));
        assert_eq!(t.allow(), Some(0));
        assert_eq!((t.allow(), t.allow(), t.allow()), (None, None, None));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(t.allow(), Some(3));
        assert_eq!(t.allow(), None);
    }
}
