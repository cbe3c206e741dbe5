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

#[allow(unused_imports)] // wired by the status pages' route
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
    /// Open streams that asked for checks (`?checks=true`).
    pub(crate) check_listeners: AtomicUsize,
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
            check_listeners: AtomicUsize::new(0),
            wanted: Notify::new(),
            shutdown: CancellationToken::new(),
        }
    }
}

/// One open stream of a user, counted until dropped.
pub(crate) struct StreamSlot {
    feed: Arc<Feed>,
    user: Option<Uuid>,
    checks: bool,
}

impl Feed {
    /// Takes one of `user`'s `max` stream slots (`None`: an anonymous status page stream, not
    /// counted per user); `None` when all are taken.
    pub(crate) fn open(self: &Arc<Self>, user: Option<Uuid>, max: u32, checks: bool) -> Option<StreamSlot> {
        if let Some(user) = user {
            let mut streams = self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let open = streams.entry(user).or_default();
            if *open >= max {
                return None;
            }
            *open += 1;
        }
        if checks {
            self.check_listeners.fetch_add(1, Ordering::Relaxed);
        }
        self.wanted.notify_one();
        Some(StreamSlot { feed: self.clone(), user, checks })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some(user) = self.user {
            let mut streams = self.feed.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(open) = streams.get_mut(&user) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    streams.remove(&user);
                }
            }
        }
        if self.checks {
            self.feed.check_listeners.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
