//! The API process's memory of what it served visitors: each public page's rendered bodies and
//! each badge's data, kept for `STATUS_PAGE_CACHE_SECONDS`. One build per key at a time: visitors
//! arriving while a page is being built wait for that build instead of querying too, so a page
//! costs one build per interval whatever its traffic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most keys kept; past it the whole map is dropped (its entries are only caches), so unknown
/// slugs sent by the million cannot grow memory without bound.
const MAX_KEYS: usize = 10_000;

type Slot<V> = Arc<tokio::sync::Mutex<Option<(Instant, V)>>>;

/// A map from key to a value built at most once per `ttl`.
pub(crate) struct TtlCache<V> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot<V>>>,
}

impl<V: Clone> TtlCache<V> {
    /// A cache keeping values for `ttl` (zero: every call builds).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, slots: Mutex::new(HashMap::new()) }
    }

    fn slot(&self, key: &str) -> Slot<V> {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = slots.get(key) {
            return s.clone();
        }
        if slots.len() >= MAX_KEYS {
            slots.clear();
        }
        slots.entry(key.to_string()).or_default().clone()
    }

    /// The value of `key`: the kept one while younger than the TTL, else what `build` makes (kept
    /// only when it succeeds). Callers of one key wait for one build.
    ///
    /// # Errors
    /// `build`'s error.
    pub(crate) async fn get_or_build<E, F, Fut>(&self, key: &str, build: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if self.ttl.is_zero() {
            return build().await;
        }
        let slot = self.slot(key);
        let mut held = slot.lock().await;
        if let Some((at, v)) = held.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(v.clone());
        }
        let v = build().await?;
        *held = Some((Instant::now(), v.clone()));
        Ok(v)
    }

    /// Forgets every key, so each next call builds afresh.
    pub(crate) fn clear(&self) {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Forgets `key`, so the next call builds afresh.
    pub(crate) fn forget(&self, key: &str) {
        self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_value_is_built_once_per_ttl_and_again_after_forget() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let builds = AtomicU32::new(0);
        let build = || async {
            builds.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(1)
        };
        assert_eq!(cache.get_or_build("a", build).await, Ok(1));
        assert_eq!(cache.get_or_build("a", build).await, Ok(1));
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        cache.forget("a");
        assert_eq!(cache.get_or_build("a", build).await, Ok(1));
        assert_eq!(builds.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_build_is_not_kept() {
        let cache = TtlCache::new(Duration::from_secs(60));
        assert_eq!(cache.get_or_build("a", || async { Err::<u8, _>("down") }).await, Err("down"));
        assert_eq!(cache.get_or_build("a", || async { Ok::<_, &str>(2) }).await, Ok(2));
    }
}
