//! Sums of closed rollup rows kept in memory, so that a read asks Postgres only for the ranges
//! it has not summed before: the raw tail and the minutes closed since.
//!
//! An entry is one range of one level (months, days, hours or minutes) of one monitor and
//! region, before the region's mark, keyed by the mark's `revision` (migration V32): the rows
//! before a mark change only through late checks and the month mend, and both move the
//! revision in the same transaction, so an entry read under a revision holds what Postgres
//! holds under it or later, never older. A read whose statements see a revision move between
//! them keeps the newer sums under the older revision; a reader that still sees that revision
//! gets them, as it would have from Postgres a moment later.
//!
//! Anything else that changes rows before a mark (a later migration, a repair by hand, a
//! database restored from a backup under running API processes) must move the revision too, or
//! the API processes must be restarted.

use moka::sync::Cache;
use std::sync::Arc;
use time::OffsetDateTime;
use upcheck_domain::rollup::Rollup;
use uuid::Uuid;

/// `upcheck_rollup_cache_ranges_total{result}`: closed rollup ranges reads asked the cache for,
/// `hit` (summed from it) or `miss` (read from Postgres, then kept).
pub const RANGES: &str = "upcheck_rollup_cache_ranges_total";

/// What an entry sums: `(monitor, region, level (0 month, 1 day, 2 hour, 3 minute), start,
/// end, revision)`, the range `[start, end)` in Unix seconds.
pub type Key = (Uuid, String, u8, i64, i64, i64);

/// The sums of closed rollup ranges, bounded in bytes (least recently and least frequently
/// used entries go first: moka's TinyLFU). Cheap to clone: clones share the entries.
#[derive(Clone)]
pub struct RollupCache {
    entries: Cache<Key, Arc<Rollup>>,
}

/// An entry's weight in bytes: its histogram (8 bytes a bucket), its region's name, and 520
/// bytes for the rest (the key's and the sum's fields, and moka's own per-entry bookkeeping), so
/// that `ROLLUP_CACHE_MB` bounds what the process holds rather than the sums alone. Measured:
/// 100,000 entries grew the resident set by 517 bytes an entry without a histogram and by 1,557
/// with 128 buckets.
fn weight(key: &Key, value: &Arc<Rollup>) -> u32 {
    u32::try_from(520 + key.1.len() + 8 * value.histogram.len()).unwrap_or(u32::MAX)
}

impl RollupCache {
    /// A cache of at most `max_bytes` (by [`weight`]'s reckoning); `None` when `max_bytes` is 0
    /// (`ROLLUP_CACHE_MB=0`: every read goes to Postgres).
    pub fn new(max_bytes: u64) -> Option<Self> {
        (max_bytes > 0)
            .then(|| Self { entries: Cache::builder().max_capacity(max_bytes).weigher(weight).build() })
    }

    /// The sum kept for `key`, if any.
    pub fn get(&self, key: &Key) -> Option<Arc<Rollup>> {
        self.entries.get(key)
    }

    /// Keeps `value` as `key`'s sum.
    pub fn insert(&self, key: Key, value: Rollup) {
        self.entries.insert(key, Arc::new(value));
    }

    /// Entries kept (approximate: moka applies inserts and evictions in batches).
    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

/// The key of `[start, end)` at `level` of `monitor`'s `region` under `revision`.
pub fn key(
    monitor: Uuid,
    region: &str,
    level: usize,
    (start, end): (OffsetDateTime, OffsetDateTime),
    revision: i64,
) -> Key {
    (monitor, region.to_string(), level as u8, start.unix_timestamp(), end.unix_timestamp(), revision)
}
