//! One Server-Sent Events stream: replays from Postgres what a client reconnecting with
//! `Last-Event-ID` missed, then forwards the hub's messages its audience may see, with an `id:`
//! on every status and incident event, a `: keep-alive` comment when idle, and an end when the
//! API shuts down.
//!
//! No event is lost or sent twice across the switch from replay to live: the stream subscribes
//! to the hub before it replays, and drops a live status event whose monitor it has sent an
//! event of that `seq` or later (a monitor's events are numbered and applied in order), and a
//! live acknowledgement it replayed.

use super::{HubItem, StreamSlot};
use crate::AppState;
use crate::error::ApiError;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use upcheck_domain::live::{LiveAcknowledgement, LiveMessage, LiveStatus};
use upcheck_store::feed::Audience as StoreAudience;
use uuid::Uuid;

/// Whose events a stream carries.
pub(crate) enum Audience {
    /// A signed-in user: every monitor of theirs; check outcomes too when `checks`.
    Owner {
        /// The user.
        id: Uuid,
        /// `?checks=true`.
        checks: bool,
    },
    /// A public status page: status changes and incidents opened or resolved of these monitors.
    Monitors(Vec<Uuid>),
}

/// How long a client waits before reconnecting (the `retry:` field), ms.
const RETRY_MS: u64 = 2_000;
/// Replayed acknowledgements remembered to drop their live copies; cleared past this.
const ACKS_REMEMBERED: usize = 10_000;

pub(crate) struct EventStream {
    state: AppState,
    audience: Audience,
    rx: broadcast::Receiver<Arc<HubItem>>,
    pending: VecDeque<Bytes>,
    /// The highest status event `seq` sent per monitor.
    last_by_monitor: HashMap<Uuid, i64>,
    acks_sent: HashSet<i64>,
    /// The highest id sent (or the sequence's position when the stream opened).
    cursor: i64,
    keep_alive: tokio::time::Interval,
    done: bool,
    _slot: StreamSlot,
}

/// `Last-Event-ID`: absent or empty is `None`.
///
/// # Errors
/// 400 naming `Last-Event-ID` when it is not a whole number from 0.
pub(crate) fn last_event_id(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get("last-event-id") else { return Ok(None) };
    let text = value.to_str().unwrap_or("?").trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<i64>() {
        Ok(id) if id >= 0 => Ok(Some(id)),
        _ => {
            Err(ApiError::bad("Last-Event-ID", "must be the id of an event this feed sent (a whole number)"))
        }
    }
}

impl EventStream {
    /// Subscribes to the hub, then replays after `last_event_id` (when given).
    ///
    /// # Errors
    /// 503 when Postgres does not answer.
    pub(crate) async fn open(
        state: &AppState,
        audience: Audience,
        last_event_id: Option<i64>,
        slot: StreamSlot,
    ) -> Result<Self, ApiError> {
        let rx = state.feed.tx.subscribe();
        let period = Duration::from_secs(state.settings.events.keep_alive_seconds);
        let mut keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stream = Self {
            state: state.clone(),
            audience,
            rx,
            pending: VecDeque::from([Bytes::from(format!("retry: {RETRY_MS}\n\n"))]),
            last_by_monitor: HashMap::new(),
            acks_sent: HashSet::new(),
            cursor: 0,
            keep_alive,
            done: false,
            _slot: slot,
        };
        match last_event_id {
            Some(id) => {
                stream.cursor = id;
                stream.replay().await?;
            }
            None => stream.cursor = upcheck_store::feed::latest_seq(&state.pool).await?,
        }
        Ok(stream)
    }

    /// The stream as an actix response body.
    pub(crate) fn into_response(self) -> HttpResponse {
        let body = futures::stream::unfold(self, |mut s| async move {
            s.next_frame().await.map(|b| (Ok::<_, std::convert::Infallible>(b), s))
        });
        HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
            // nginx: pass each event on at once, whatever `proxy_buffering` says.
            .insert_header(("X-Accel-Buffering", "no"))
            .streaming(body)
    }

    /// Replays after `cursor` from Postgres, at most `EVENTS_REPLAY_LIMIT` events; when there
    /// were more, a `reset` event tells the client to reload its state.
    async fn replay(&mut self) -> Result<(), ApiError> {
        let limit = i64::from(self.state.settings.events.replay_limit);
        let monitors;
        let audience = match &self.audience {
            Audience::Owner { id, .. } => StoreAudience::Owner(*id),
            Audience::Monitors(ids) => {
                monitors = ids.clone();
                StoreAudience::Monitors(&monitors)
            }
        };
        let missed = upcheck_store::feed::replay(&self.state.pool, audience, self.cursor, limit).await?;
        if missed.len() as i64 == limit {
            let data = json!({ "reason": "more events were missed than are replayed; reload the state from the REST API", "replayed": limit });
            self.pending.push_back(Bytes::from(format!("event: reset\ndata: {data}\n\n")));
        }
        for m in &missed {
            self.accept(m);
        }
        Ok(())
    }

    /// The next bytes to send; `None` ends the stream.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Some(frame);
            }
            if self.done {
                return None;
            }
            tokio::select! {
                biased;
                () = self.state.feed.shutdown.cancelled() => self.done = true,
                item = self.rx.recv() => match item {
                    Ok(item) => self.take(&item).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(skipped = n, "live stream lagged; replaying");
                        self.replay_or_end().await;
                    }
                    Err(broadcast::error::RecvError::Closed) => self.done = true,
                },
                _ = self.keep_alive.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
            }
            if !self.pending.is_empty() {
                self.keep_alive.reset();
            }
        }
    }

    async fn take(&mut self, item: &HubItem) {
        match item {
            HubItem::Message(m) => self.accept(m),
            HubItem::Checks(checks) => {
                let Audience::Owner { id, checks: true } = self.audience else { return };
                for (_, check) in checks.iter().filter(|(owner, _)| *owner == id) {
                    let data = serde_json::to_string(check).unwrap_or_default();
                    self.pending.push_back(Bytes::from(format!("event: check\ndata: {data}\n\n")));
                }
            }
            HubItem::Resubscribed => self.replay_or_end().await,
        }
    }

    /// Replays what may have been missed; when Postgres cannot say, ends the stream so the
    /// client reconnects with its `Last-Event-ID` and is replayed then.
    async fn replay_or_end(&mut self) {
        if let Err(e) = self.replay().await {
            tracing::warn!(error = %e, "live stream cannot replay; ending it");
            self.done = true;
        }
    }

    /// Queues the frames of `m` if this audience may see it and it was not sent yet.
    fn accept(&mut self, m: &LiveMessage) {
        match m {
            LiveMessage::Status(s) => {
                let visible = match &self.audience {
                    Audience::Owner { id, .. } => s.owner_id == *id,
                    Audience::Monitors(ids) => ids.contains(&s.monitor_id),
                };
                let last = self.last_by_monitor.entry(s.monitor_id).or_insert(i64::MIN);
                if !visible || *last >= s.seq {
                    return;
                }
                *last = s.seq;
                self.cursor = self.cursor.max(s.seq);
                self.pending.push_back(status_frame(s));
                if let Some(frame) = incident_frame(s) {
                    self.pending.push_back(frame);
                }
            }
            LiveMessage::Acknowledged(a) => {
                let Audience::Owner { id, .. } = self.audience else { return };
                if self.acks_sent.len() >= ACKS_REMEMBERED {
                    self.acks_sent.clear();
                }
                if a.owner_id != id || self.acks_sent.contains(&a.seq) {
                    return;
                }
                self.acks_sent.insert(a.seq);
                self.cursor = self.cursor.max(a.seq);
                self.pending.push_back(acknowledgement_frame(a));
            }
            LiveMessage::Checks { .. } => {}
        }
    }
}

fn frame(id: i64, event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"))
}

fn status_frame(s: &LiveStatus) -> Bytes {
    let data = json!({
        "seq": s.seq,
        "event_id": s.event_id,
        "monitor_id": s.monitor_id,
        "type": s.event,
        "status": s.status,
        "previous_status": s.previous_status,
        "occurred_at": crate::routes::rfc3339(s.occurred_at),
        "incident_id": s.incident_id,
    });
    frame(s.seq, "status", &data)
}

fn incident_frame(s: &LiveStatus) -> Option<Bytes> {
    let action = match s.incident.as_deref()? {
        "incident.opened" => "opened",
        "incident.resolved" => "resolved",
        _ => return None,
    };
    let data = json!({
        "seq": s.seq,
        "incident_id": s.incident_id?,
        "monitor_id": s.monitor_id,
        "action": action,
        "at": crate::routes::rfc3339(s.occurred_at),
    });
    Some(frame(s.seq, "incident", &data))
}

fn acknowledgement_frame(a: &LiveAcknowledgement) -> Bytes {
    let data = json!({
        "seq": a.seq,
        "incident_id": a.incident_id,
        "monitor_id": a.monitor_id,
        "action": "acknowledged",
        "at": crate::routes::rfc3339(a.acknowledged_at),
        "acknowledged_by": a.acknowledged_by,
    });
    frame(a.seq, "incident", &data)
}

/// A Server-Sent Events stream of the status changes of `monitors` (and the incidents they
/// opened or resolved), for a public status page: no authentication, no acknowledgements, no
/// check outcomes; `Last-Event-ID` replay as for `GET /api/v1/events`. Not counted against
/// `EVENTS_MAX_STREAMS_PER_USER` (the caller, e.g. `/status/{slug}/events`, decides who may
/// open one). Counted against `EVENTS_MAX_PUBLIC_STREAMS_PER_ADDRESS` across every API replica
/// (by client address, see `TRUSTED_PROXIES`) and `EVENTS_MAX_PUBLIC_STREAMS` per process.
///
/// # Errors
/// 400 on a malformed `Last-Event-ID`; 429 naming the limit reached; 503 when Postgres does not
/// answer.
pub(crate) async fn public_status_events(
    state: &AppState,
    req: &HttpRequest,
    monitors: Vec<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let last = last_event_id(req)?;
    let address = crate::rate_limit::hashed(&crate::rate_limit::address_subject(state, req));
    let slot = super::open_slot(state, super::Holder::Address(address), false).await?;
    Ok(EventStream::open(state, Audience::Monitors(monitors), last, slot).await?.into_response())
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
