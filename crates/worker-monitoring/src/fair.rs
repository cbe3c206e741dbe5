//! Fair probing: at most `PROBE_MAX_PER_HOST` probes at once per target host and
//! `PROBE_MAX_PER_USER` per monitor owner, per replica, so one user's monitors against a
//! server that never answers cannot hold every probe slot and starve everyone else's checks.
//!
//! A job over a limit waits (first come, first served) at most until its monitor's next check
//! would start, then is skipped: the monitor stays in the schedule and is claimed again at its
//! next due time. Permits are taken in one order — owner, then host, then the replica's probe
//! slot — and a job holding a later one never waits for an earlier one, so waits cannot
//! deadlock: whoever holds a host or probe slot is probing and will let it go.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use upcheck_domain::ProbeSpec;
use upcheck_domain::probe_config::KindConfig;
use uuid::Uuid;

/// Keys whose semaphores are kept before idle ones are forgotten.
const MAX_KEYS: usize = 10_000;

/// A semaphore per key, made on first use, forgotten when idle and the map is full.
struct Keyed<K> {
    permits: usize,
    map: Mutex<HashMap<K, Arc<Semaphore>>>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(permits: usize) -> Self {
        Self { permits: permits.max(1), map: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Arc<Semaphore> {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = map.get(key) {
            return s.clone();
        }
        if map.len() >= MAX_KEYS {
            let full = self.permits;
            map.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < full);
        }
        let s = Arc::new(Semaphore::new(self.permits));
        map.insert(key.clone(), s.clone());
        s
    }
}

/// The permits one probe holds while it runs.
pub struct FairPermit {
    _user: Option<OwnedSemaphorePermit>,
    _host: Option<OwnedSemaphorePermit>,
}

/// Per-host and per-owner probe limits of one replica.
pub struct FairSlots {
    hosts: Keyed<String>,
    users: Keyed<Uuid>,
}

impl FairSlots {
    /// At most `per_host` probes per target host and `per_user` per owner at once.
    pub fn new(per_host: usize, per_user: usize) -> Self {
        Self { hosts: Keyed::new(per_host), users: Keyed::new(per_user) }
    }

    /// Waits at most `wait` for `spec`'s owner and host permits; `None` when they did not
    /// come in time (the check is then skipped).
    pub async fn acquire(&self, spec: &ProbeSpec, wait: Duration) -> Option<FairPermit> {
        let user = spec.owner_id.map(|id| self.users.get(&id));
        let host = target_host(spec).map(|h| self.hosts.get(&h));
        let both = async {
            let user = match user {
                Some(s) => Some(s.acquire_owned().await.ok()?),
                None => None,
            };
            let host = match host {
                Some(s) => Some(s.acquire_owned().await.ok()?),
                None => None,
            };
            Some(FairPermit { _user: user, _host: host })
        };
        tokio::time::timeout(wait, both).await.ok().flatten()
    }
}

/// The host a probe connects to, lower-case: the URL's host for `http`, the config's host for
/// `tcp` and `tls`, a `dns` monitor's own name server. `None` (no host limit) for lookups
/// through the probes' shared resolver.
pub fn target_host(spec: &ProbeSpec) -> Option<String> {
    match &spec.config {
        KindConfig::Tcp(c) => Some(c.host.to_ascii_lowercase()),
        KindConfig::Tls(c) => Some(c.host.to_ascii_lowercase()),
        KindConfig::Dns(c) => c.resolver.clone(),
        KindConfig::Heartbeat(_) => None,
        KindConfig::Http(_) => {
            url::Url::parse(&spec.url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, owner: Uuid) -> ProbeSpec {
        ProbeSpec {
            monitor_id: Uuid::now_v7(),
            kind: upcheck_domain::MonitorKind::Http,
            url: url.into(),
            method: upcheck_domain::HttpMethod::Get,
            headers: Default::default(),
            sealed_headers: None,
            body: None,
            interval_seconds: 1,
            timeout_ms: 500,
            expected_status: upcheck_domain::ExpectedStatus::default_rules(),
            failure_threshold: 2,
            recovery_threshold: 1,
            config: KindConfig::default(),
            owner_id: Some(owner),
            regions: Vec::new(),
            min_failed_regions: None,
        }
    }

    #[tokio::test]
    async fn a_user_and_a_host_each_get_at_most_their_limit_and_others_are_not_held_up() {
        let fair = FairSlots::new(3, 2);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let wait = Duration::from_millis(50);
        let specs: Vec<_> = (0..2).map(|i| spec(&format!("http://h{i}/"), a)).collect();
        let held_a: Vec<_> = futures::future::join_all(specs.iter().map(|s| fair.acquire(s, wait))).await;
        assert!(held_a.iter().all(Option::is_some));
        assert!(
            fair.acquire(&spec("http://h9/", a), wait).await.is_none(),
            "a third probe of user a waits, then is skipped"
        );
        let b1 = fair.acquire(&spec("http://h0/", b), wait).await;
        let b2 = fair.acquire(&spec("http://h0/", b), wait).await;
        assert!(b1.is_some() && b2.is_some(), "user b is not held up by user a");
        let c = Uuid::now_v7();
        assert!(fair.acquire(&spec("http://H0/", c), wait).await.is_none(), "host h0 has its 3");
        drop(held_a);
        assert!(fair.acquire(&spec("http://h0/x", c), wait).await.is_some(), "a freed host permit is taken");
    }
}
