//! The notification stream's handler: one delivery attempt per message, logged; a failure is
//! retried later through the retry set, and after the last attempt dead-lettered.

use time::OffsetDateTime;
use upcheck_channels::Channels;
use upcheck_domain::backoff::full_jitter_ms;
use upcheck_domain::{ChannelKind, NotificationJob};
use upcheck_runtime::store_failure;
use upcheck_store::Pool;
use upcheck_store::notifications::{
    Attempt, Claim, DeliveryState, claim_delivery, mark_failed, record_attempt, release_lease,
};
use upcheck_streams::{Admission, DelayQueue, HandleError, Handler, InFlight, Producer, StreamMessage};

/// Retry policy (`NOTIFICATION_MAX_ATTEMPTS`, `NOTIFICATION_RETRY_BASE_MS`, `NOTIFICATION_RETRY_MAX_MS`).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before the dead letter.
    pub max_attempts: u32,
    /// First retry delay, ms.
    pub base_ms: u64,
    /// Longest retry delay, ms.
    pub max_ms: u64,
    /// How long one attempt holds the notification's lease, ms: above the channel's timeout
    /// (`WEBHOOK_TIMEOUT_MS`), so a duplicate job never delivers while an attempt is running.
    pub lease_ms: u64,
}

/// Delivers notifications over any channel kind ([`Channels`]).
pub struct NotificationHandler {
    pool: Pool,
    secrets: upcheck_secrets::Keyring,
    channels: Channels,
    retries: DelayQueue,
    producer: Producer,
    group: String,
    policy: RetryPolicy,
    in_flight: InFlight,
}

/// How long a notification whose channel or owner is at its in-flight limit waits before it
/// tries again, ms (plus up to as much again of jitter, so the waiting ones do not return in
/// step). Waiting spends no attempt.
pub const DEFER_MS: u64 = 500;

/// The longest `Retry-After` a receiver can make a notification wait, ms (one hour).
pub const MAX_RETRY_AFTER_MS: u64 = 3_600_000;

impl NotificationHandler {
    /// A handler; failed attempts, and notifications over an `in_flight` limit, wait in
    /// `retries`; `group` names this consumer group in dead letters; channel configs are
    /// opened with `secrets`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: Pool,
        secrets: upcheck_secrets::Keyring,
        channels: Channels,
        retries: DelayQueue,
        producer: Producer,
        group: String,
        policy: RetryPolicy,
        in_flight: InFlight,
    ) -> Self {
        Self { pool, secrets, channels, retries, producer, group, policy, in_flight }
    }

    /// Puts the job back in the retry queue for about [`DEFER_MS`] and gives up its lease: its
    /// channel or owner has as many deliveries running as it may.
    async fn defer(
        &self,
        message: &StreamMessage,
        id: uuid::Uuid,
        why: Admission,
    ) -> Result<(), HandleError> {
        release_lease(&self.pool, id, &message.id).await.map_err(store_failure)?;
        let jitter = rand::random_range(0..=DEFER_MS);
        let due = upcheck_domain::clock::now_ms() + (DEFER_MS + jitter) as i64;
        self.retries.schedule(&message.payload, due).await.map_err(HandleError::retryable)?;
        metrics::counter!(upcheck_runtime::metrics::NOTIFICATIONS_DEFERRED, "reason" => why.as_str())
            .increment(1);
        tracing::debug!(notification_id = %id, reason = why.as_str(), "delivery deferred: in-flight limit");
        Ok(())
    }
}

impl Handler for NotificationHandler {
    #[tracing::instrument(
        name = "notification",
        skip_all,
        fields(notification_id, channel_id, incident_id, attempt, state)
    )]
    async fn handle(&self, message: &StreamMessage) -> Result<(), HandleError> {
        let job: NotificationJob = message.decode()?;
        let id = job.notification_id;
        let span = tracing::Span::current();
        span.record("notification_id", tracing::field::display(id));
        let claimed =
            claim_delivery(&self.pool, &self.secrets, id, &message.id, self.policy.lease_ms as i64).await;
        if let Err(upcheck_store::StoreError::Secret { what, cause }) = &claimed {
            // SECRETS_KEY / SECRETS_OLD_KEYS lack the key it was sealed under (or the row was
            // tampered with): no retry can deliver it, and a retry loop would hide the fault.
            tracing::error!(notification_id = %id, error = %format!("{what}: {cause}"), "channel config does not open");
            mark_failed(&self.pool, id, &format!("channel config cannot be decrypted: {cause}"))
                .await
                .map_err(store_failure)?;
            return Ok(());
        }
        let delivery = match claimed.map_err(store_failure)? {
            Claim::Claimed(delivery) => delivery,
            // Its monitor was deleted, or a redelivery of a finished notification.
            Claim::Missing | Claim::Finished => return Ok(()),
            Claim::Busy => {
                tracing::debug!(notification_id = %id, "another job holds this notification; dropping the duplicate");
                return Ok(());
            }
        };
        let Some((channel_id, kind, config)) = delivery.channel else {
            mark_failed(&self.pool, id, "channel deleted").await.map_err(store_failure)?;
            return Ok(());
        };
        let Some(channel_kind) = ChannelKind::parse(&kind) else {
            mark_failed(&self.pool, id, &format!("unsupported channel kind {kind:?}"))
                .await
                .map_err(store_failure)?;
            return Ok(());
        };
        let attempt_no = delivery.attempts.saturating_add(1);
        span.record("channel_id", tracing::field::display(channel_id));
        span.record("attempt", attempt_no);
        if let Some(incident) = delivery.payload.pointer("/incident/id").and_then(|v| v.as_str()) {
            span.record("incident_id", incident);
        }
        // Deliveries in flight are bounded per channel and per owner across replicas; over a
        // limit, the job waits in the retry queue instead of holding a runner slot.
        let owner = delivery.owner_id.unwrap_or(channel_id);
        match self.in_flight.try_acquire(owner, channel_id, id).await.map_err(HandleError::retryable)? {
            Admission::Admitted => {}
            refused => return self.defer(message, id, refused).await,
        }
        let attempted_at = OffsetDateTime::now_utc();
        let result = self.channels.deliver(id, channel_kind, &config, &delivery.payload).await;
        if let Err(e) = self.in_flight.release(owner, channel_id, id).await {
            tracing::debug!(error = %e, "in-flight slot not released; it frees itself when its hold ends");
        }
        let state = if result.delivered {
            DeliveryState::Delivered
        } else if result.permanent {
            DeliveryState::Failed
        } else if u32::try_from(attempt_no - delivery.attempt_base).unwrap_or(u32::MAX)
            >= self.policy.max_attempts
        {
            DeliveryState::Dead
        } else {
            DeliveryState::Pending
        };
        // Full jitter, but never sooner than the receiver's Retry-After (at most an hour of it).
        let retry_in_ms = (state == DeliveryState::Pending).then(|| {
            let backoff = full_jitter_ms(
                (attempt_no - delivery.attempt_base) as u32,
                self.policy.base_ms,
                self.policy.max_ms,
            );
            backoff.max(result.retry_after_ms.unwrap_or(0).min(MAX_RETRY_AFTER_MS))
        });
        let attempt = Attempt {
            attempt: attempt_no,
            attempted_at,
            http_status: result.http_status.and_then(|c| i16::try_from(c).ok()),
            latency_ms: result.latency_ms,
            error: result.error.clone(),
            retry_at: retry_in_ms.map(|ms| OffsetDateTime::now_utc() + std::time::Duration::from_millis(ms)),
        };
        record_attempt(&self.pool, id, &attempt, state).await.map_err(store_failure)?;
        span.record("state", state.as_str());
        let outcome = match state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "retrying",
            DeliveryState::Failed | DeliveryState::Dead => "failed",
        };
        metrics::counter!(upcheck_runtime::metrics::NOTIFICATION_DELIVERIES, "channel" => kind.clone(), "outcome" => outcome)
            .increment(1);
        tracing::info!(
            notification_id = %id, %channel_id, incident_id = delivery.payload.pointer("/incident/id").and_then(|v| v.as_str()).unwrap_or(""), attempt = attempt_no, state = state.as_str(),
            error = result.error.as_deref().unwrap_or(""), "delivery attempt"
        );
        match state {
            DeliveryState::Pending => {
                let due = attempt.retry_at.map_or(0, upcheck_domain::clock::unix_ms);
                self.retries.schedule(&message.payload, due).await.map_err(HandleError::retryable)?;
            }
            DeliveryState::Dead => {
                let reason = format!(
                    "{} attempts failed; last: {}",
                    attempt_no,
                    result.error.as_deref().unwrap_or("unknown")
                );
                self.producer
                    .dead_letter(&self.group, message, &reason, attempt_no as u64)
                    .await
                    .map_err(HandleError::retryable)?;
            }
            DeliveryState::Delivered | DeliveryState::Failed => {}
        }
        Ok(())
    }
}
