//! The hub: one Redis pub/sub subscription to `<REDIS_KEY_PREFIX>live` per API process, on its
//! own connection (a subscribed connection answers nothing else, and has no response timeout
//! to trip over an idle channel), resubscribing with backoff when it drops, and broadcasting
//! each message to the streams. While a stream wants checks, it keeps the key
//! `<REDIS_KEY_PREFIX>live:checks` alive so the monitoring worker publishes them.

use super::HubItem;
use crate::AppState;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_domain::live::{LIVE_CHECKS_LISTENERS_TTL_SECONDS, LiveCheck, LiveMessage};
use uuid::Uuid;

const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Monitors whose owner is remembered for check batches; the map is cleared past this.
const OWNER_CACHE_MAX: usize = 1_000_000;

/// Runs the hub until `cancel` fires: idle until the first stream opens, then subscribed.
pub(crate) async fn run(state: AppState, cancel: CancellationToken) {
    tokio::select! {
        () = cancel.cancelled() => return,
        () = state.feed.wanted.notified() => {}
    }
    let keys = upcheck_streams::Keys::new(&state.settings);
    let channel = keys.live_channel();
    let checks_key = checks_listeners_key(&state);
    let refresh = Duration::from_secs(LIVE_CHECKS_LISTENERS_TTL_SECONDS / 3);
    let mut ticker = tokio::time::interval(refresh);
    let mut owners: HashMap<Uuid, Uuid> = HashMap::new();
    let mut backoff = BACKOFF_FIRST;
    loop {
        let subscribed = tokio::select! {
            () = cancel.cancelled() => return,
            s = subscribe(&state, &channel) => s,
        };
        match subscribed {
            Ok(pubsub) => {
                backoff = BACKOFF_FIRST;
                tracing::debug!(%channel, "live feed subscribed");
                let _ = state.feed.tx.send(Arc::new(HubItem::Resubscribed));
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        _ = ticker.tick() => refresh_checks_key(&state, &checks_key).await,
                        m = messages.next() => match m {
                            Some(m) => forward(&state, &mut owners, m.get_payload_bytes()).await,
                            None => break,
                        },
                    }
                }
                tracing::warn!(%channel, "live feed subscription lost; resubscribing");
            }
            Err(e) => {
                tracing::warn!(error = %e, %channel, retry_ms = backoff.as_millis() as u64, "live feed cannot subscribe")
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// The key whose presence tells the monitoring worker to publish check batches.
pub(crate) fn checks_listeners_key(state: &AppState) -> String {
    upcheck_streams::Keys::new(&state.settings).live_checks_listeners()
}

/// Sets the checks key for [`LIVE_CHECKS_LISTENERS_TTL_SECONDS`] when a stream of this
/// process wants checks; best-effort.
pub(crate) async fn refresh_checks_key(state: &AppState, key: &str) {
    if state.feed.check_listeners.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Ok(mut conn) = state.redis().await else { return };
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg(key)
        .arg(1)
        .arg("EX")
        .arg(LIVE_CHECKS_LISTENERS_TTL_SECONDS)
        .query_async(&mut conn)
        .await;
    if let Err(e) = set {
        tracing::debug!(error = %e, "live checks key not set");
    }
}

async fn subscribe(state: &AppState, channel: &str) -> anyhow::Result<redis::aio::PubSub> {
    // On a Redis Cluster, one node's subscription hears every node's PUBLISH.
    Ok(upcheck_streams::subscribe(&state.settings.redis, channel).await?)
}

/// Decodes one publication and broadcasts it (check batches with each monitor's owner).
async fn forward(state: &AppState, owners: &mut HashMap<Uuid, Uuid>, payload: &[u8]) {
    let message: LiveMessage = match serde_json::from_slice(payload) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(error = %e, "live message ignored");
            return;
        }
    };
    let item = match message {
        LiveMessage::Checks { checks } => {
            if state.feed.check_listeners.load(Ordering::Relaxed) == 0 {
                return;
            }
            HubItem::Checks(with_owners(state, owners, checks).await)
        }
        other => {
            // A status changed: this process's public pages and badges are stale.
            state.public_cache.forget_all();
            HubItem::Message(other)
        }
    };
    // No receiver is fine: no stream is open.
    let _ = state.feed.tx.send(Arc::new(item));
}

/// Each check with its monitor's owner, looking up (once per process) monitors not seen yet;
/// checks of monitors gone since are dropped.
async fn with_owners(
    state: &AppState,
    owners: &mut HashMap<Uuid, Uuid>,
    checks: Vec<LiveCheck>,
) -> Vec<(Uuid, LiveCheck)> {
    let mut unknown: Vec<Uuid> =
        checks.iter().map(|c| c.monitor_id).filter(|id| !owners.contains_key(id)).collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        if owners.len() + unknown.len() > OWNER_CACHE_MAX {
            owners.clear();
        }
        match upcheck_store::feed::owners_of(&state.pool, &unknown).await {
            Ok(found) => owners.extend(found),
            Err(e) => tracing::debug!(error = %e, "owners of checked monitors not found"),
        }
    }
    checks.into_iter().filter_map(|c| owners.get(&c.monitor_id).map(|o| (*o, c))).collect()
}
