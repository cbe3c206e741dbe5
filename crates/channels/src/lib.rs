//! Notification channels: one [`Channel`] trait, one module per kind (webhook first). The
//! notification worker delivers through them and the API uses them for test sends, so no crate
//! depends on a worker crate for them. Channel configs are the domain's typed configs
//! ([`upcheck_domain::channel`]).

mod webhook;

pub use webhook::WebhookChannel;

use std::future::Future;
use uuid::Uuid;

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// Whether the receiver accepted it.
    pub delivered: bool,
    /// Whether trying again cannot help (a misconfigured channel).
    pub permanent: bool,
    /// The receiver's status code, if it answered.
    pub http_status: Option<u16>,
    /// Time to the answer, ms.
    pub latency_ms: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
}

impl AttemptResult {
    /// A failed attempt that never reached the receiver.
    pub(crate) fn failure(permanent: bool, error: String) -> Self {
        Self { delivered: false, permanent, http_status: None, latency_ms: None, error: Some(error) }
    }
}

/// Delivers one notification over one kind of channel.
pub trait Channel: Send + Sync + 'static {
    /// The channel kind this implementation serves (`webhook`, …).
    fn kind(&self) -> &'static str;

    /// One attempt to deliver `payload` for notification `id` over a channel configured with
    /// `config` (the stored JSON; a config that does not parse is a permanent failure).
    fn deliver(
        &self,
        id: Uuid,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> impl Future<Output = AttemptResult> + Send;
}

/// The innermost cause of `e`: what a user can act on ("connection refused"), not the
/// wrapper ("error sending request").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
