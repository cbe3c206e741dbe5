//! The live feed: one Redis pub/sub subscription per API process ([`hub`]), fanned out to every
//! Server-Sent Events stream ([`stream`]) through a `tokio::sync::broadcast` channel, each
//! stream keeping what its audience may see and replaying from Postgres what a reconnecting
//! client missed.

pub(crate) mod hub;
pub(crate) mod stream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

pub(crate) use stream::public_status_events;

/// What the hub hands every stream.
#[derive(Debug)]
pub(crate) enum HubItem {
    /// A status event or a first acknowledgement, as published.
    Message(upcheck_domain::live::LiveMessage),
    /// Check outcomes of one stored batch, each with its monitor's owner.
    Checks(Vec<(Uuid, upcheck_domain::live::LiveCheck)>),
    /// The subscription was (re)made: what was published while it was down is lost, so each
    /// stream replays from Postgres after the last id it sent.
    Resubscribed,
}

/// The feed's shared state, in [`crate::AppState`].
pub(crate) struct Feed {
    pub(crate) tx: broadcast::Sender<Arc<HubItem>>,
    /// Open streams per user on this process.
    streams: Mutex<HashMap<Uuid, u32>>,
    /// Open public (status page) streams on this process.
    public_streams: AtomicUsize,
    /// Open streams that asked for checks (`?checks=true`).
    pub(crate) check_listeners: AtomicUsize,
    /// The Redis leases this process's streams hold: holder → (scope, subject). Renewed by
    /// [`leases::run`], given back when a stream ends.
    leases: Mutex<HashMap<Uuid, (&'static str, String)>>,
    /// Fired on the first stream: the hub subscribes only once someone listens.
    pub(crate) wanted: Notify,
    /// Cancelled when the API shuts down: every stream ends.
    pub(crate) shutdown: CancellationToken,
}

/// Capacity of the hub's broadcast channel; a stream further behind than this replays from
/// Postgres.
const BROADCAST_CAPACITY: usize = 4_096;

impl Default for Feed {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(BROADCAST_CAPACITY).0,
            streams: Mutex::default(),
            public_streams: AtomicUsize::new(0),
            check_listeners: AtomicUsize::new(0),
            leases: Mutex::default(),
            wanted: Notify::new(),
            shutdown: CancellationToken::new(),
        }
    }
}

/// Who a stream is counted against.
#[derive(Debug, Clone)]
pub(crate) enum Holder {
    /// A signed-in user (`EVENTS_MAX_STREAMS_PER_USER`).
    User(Uuid),
    /// An anonymous status page visitor, by client address (already hashed):
    /// `EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS`, and `EVENTS_MAX_PUBLIC_STREAMS` per process.
    Address(String),
}

/// One open stream, counted until dropped.
pub(crate) struct StreamSlot {
    feed: Arc<Feed>,
    holder: Holder,
    checks: bool,
    /// The Redis lease's holder id, when one is held.
    lease: Option<Uuid>,
    /// The connection to give the lease back on.
    leases: Option<upcheck_streams::Leases>,
}

impl Feed {
    /// Counts one stream of `holder` on this process unless its per-process limit is reached.
    fn take_local(self: &Arc<Self>, holder: &Holder, max: u32, checks: bool) -> Option<StreamSlot> {
        match holder {
            Holder::User(user) => {
                let mut streams = self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let open = streams.entry(*user).or_default();
                if *open >= max {
                    return None;
                }
                *open += 1;
            }
            Holder::Address(_) => {
                let taken = self.public_streams.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max as usize).then_some(n + 1)
                });
                if taken.is_err() {
                    return None;
                }
            }
        }
        if checks {
            self.check_listeners.fetch_add(1, Ordering::Relaxed);
        }
        self.wanted.notify_one();
        Some(StreamSlot { feed: self.clone(), holder: holder.clone(), checks, lease: None, leases: None })
    }
}

/// How long a stream's Redis lease lasts without renewal, ms: a replica that dies holding
/// leases frees its slots this long after.
pub(crate) const LEASE_MS: u64 = 60_000;

/// Opens a stream slot for `holder`: within this process's count, then within the count
/// across every API replica, kept as leases in Redis ([`upcheck_streams::Leases`]). When Redis
/// does not answer, the per-process limits alone apply (failing open, like the rate limits).
///
/// # Errors
/// [`ApiError::TooMany`] naming the setting whose limit is reached.
pub(crate) async fn open_slot(
    state: &AppState,
    holder: Holder,
    checks: bool,
) -> Result<StreamSlot, ApiError> {
    let events = &state.settings.events;
    let (local_max, shared_max, scope, subject, local_limit, shared_limit) = match &holder {
        Holder::User(id) => (
            events.max_streams_per_user,
            events.max_streams_per_user,
            "feed-user",
            id.to_string(),
            "EVENTS_MAX_STREAMS_PER_USER",
            "EVENTS_MAX_STREAMS_PER_USER",
        ),
        Holder::Address(hashed) => (
            events.max_public_streams,
            events.max_public_streams_per_address,
            "feed-address",
            hashed.clone(),
            "EVENTS_MAX_PUBLIC_STREAMS",
            "EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS",
        ),
    };
    let too_many = |limit: &'static str, max: u32| ApiError::TooMany {
        limit,
        message: match &holder {
            Holder::User(_) => format!("{max} event streams are open already for this user; close one first"),
            Holder::Address(_) if limit == "EVENTS_MAX_PUBLIC_STREAMS" => {
                format!("this server has {max} public event streams open; try again later")
            }
            Holder::Address(_) => {
                format!("{max} status page event streams are open already from this address")
            }
        },
    };
    let mut slot =
        state.feed.take_local(&holder, local_max, checks).ok_or_else(|| too_many(local_limit, local_max))?;
    let leases = match state.redis().await {
        Ok(conn) => upcheck_streams::Leases::new(conn, upcheck_streams::Keys::new(&state.settings)),
        Err(_) => {
            tracing::warn!(
                scope,
                "event stream limits across replicas not enforced: redis unavailable (failing open)"
            );
            return Ok(slot);
        }
    };
    let id = Uuid::new_v4();
    match leases.try_acquire(scope, &subject, &id.to_string(), shared_max, LEASE_MS).await {
        Ok(true) => {
            state
                .feed
                .leases
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id, (scope, subject));
            slot.lease = Some(id);
            slot.leases = Some(leases);
            Ok(slot)
        }
        Ok(false) => Err(too_many(shared_limit, shared_max)),
        Err(e) => {
            tracing::warn!(error = %e, scope, "event stream limits across replicas not enforced (failing open)");
            Ok(slot)
        }
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        match &self.holder {
            Holder::User(user) => {
                let mut streams = self.feed.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(open) = streams.get_mut(user) {
                    *open = open.saturating_sub(1);
                    if *open == 0 {
                        streams.remove(user);
                    }
                }
            }
            Holder::Address(_) => {
                self.feed.public_streams.fetch_sub(1, Ordering::AcqRel);
            }
        }
        if self.checks {
            self.feed.check_listeners.fetch_sub(1, Ordering::Relaxed);
        }
        let Some(id) = self.lease else { return };
        let held = self.feed.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        if let (Some((scope, subject)), Some(leases), Ok(rt)) =
            (held, self.leases.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move {
                if let Err(e) = leases.release(scope, &subject, &id.to_string()).await {
                    tracing::debug!(error = %e, "event stream lease not given back; it expires by itself");
                }
            });
        }
    }
}

/// Renews this process's stream leases every third of [`LEASE_MS`] until `cancel` fires.
pub(crate) mod leases {
    use super::LEASE_MS;
    use crate::AppState;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    /// The renewal loop; best-effort (a lease Redis lost is taken back at the next round).
    pub(crate) async fn run(state: AppState, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(LEASE_MS / 3));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let held: Vec<_> = {
                let map = state.feed.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                map.iter().map(|(id, (scope, subject))| (*id, *scope, subject.clone())).collect()
            };
            if held.is_empty() {
                continue;
            }
            let Ok(conn) = state.redis().await else { continue };
            let leases = upcheck_streams::Leases::new(conn, upcheck_streams::Keys::new(&state.settings));
            for (id, scope, subject) in held {
                if let Err(e) = leases.renew(scope, &subject, &id.to_string(), LEASE_MS).await {
                    tracing::debug!(error = %e, "event stream lease not renewed");
                    break;
                }
            }
        }
    }
}
