//! Alert rules on a monitor's channel links: the `channels` field of the monitor routes, beside
//! `channel_ids` (which links with the default rules). See `upcheck_domain::rules`.

use crate::error::ApiError;
use crate::state::AppState;
use serde::Deserialize;
use upcheck_domain::rules::{AlertRule, validate_rules};
use utoipa::ToSchema;
use uuid::Uuid;

/// One channel link with its alert rules; omitted fields take their defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel_id": "0190f5d2-6c1e-7b7a-9f0e-2f1d3c4b5a69", "events": ["monitor.down", "monitor.up"],
    "delay_minutes": 5, "reminder_minutes": 30, "escalate_after_minutes": null}))]
pub(crate) struct ChannelRuleBody {
    /// One of the caller's channels.
    pub(crate) channel_id: Uuid,
    /// Which of `monitor.down`, `monitor.up`, `monitor.degraded`, `certificate.expiring`
    /// notify (default: down, up and certificate.expiring).
    pub(crate) events: Option<Vec<String>>,
    /// Alert only if the incident is still open this many minutes after it opened, 0 to 1,440
    /// (default 0: at once). A recovery before then sends this channel neither down nor up.
    pub(crate) delay_minutes: Option<u32>,
    /// Remind every this many minutes while the incident is open and unacknowledged, 1 to
    /// 10,080 (default null: no reminders).
    pub(crate) reminder_minutes: Option<u32>,
    /// Make this channel an escalation target: alerted only if the incident is still open and
    /// unacknowledged this many minutes after it opened, 1 to 10,080 (default null: alerted
    /// with the first tier).
    pub(crate) escalate_after_minutes: Option<u32>,
}

impl From<ChannelRuleBody> for AlertRule {
    fn from(b: ChannelRuleBody) -> Self {
        let defaults = AlertRule::default_for(b.channel_id);
        Self {
            channel_id: b.channel_id,
            events: b.events.unwrap_or(defaults.events),
            delay_minutes: b.delay_minutes.unwrap_or(0),
            reminder_minutes: b.reminder_minutes,
            escalate_after_minutes: b.escalate_after_minutes,
        }
    }
}

/// The links a create or update asks for (`None`: neither field given), validated, with every
/// channel the caller's own.
///
/// # Errors
/// 422 on `channels` when both fields are given, on the offending `channels[i].…` field or on
/// `channel_ids` when a channel is unknown or another user's.
pub(crate) async fn requested_links(
    state: &AppState,
    owner: Uuid,
    channel_ids: Option<Vec<Uuid>>,
    channels: Option<Vec<ChannelRuleBody>>,
) -> Result<Option<Vec<AlertRule>>, ApiError> {
    let (links, field): (Vec<AlertRule>, fn(usize) -> String) = match (channel_ids, channels) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "channels",
                "give channel_ids (default rules) or channels (with rules), not both",
            ));
        }
        (Some(ids), None) => {
            let mut ids = ids;
            ids.sort();
            ids.dedup();
            (ids.into_iter().map(AlertRule::default_for).collect(), |_| "channel_ids".to_string())
        }
        (None, Some(bodies)) => {
            let rules: Vec<AlertRule> = bodies.into_iter().map(AlertRule::from).collect();
            validate_rules(&rules)?;
            (rules, |i| format!("channels[{i}].channel_id"))
        }
    };
    let ids: Vec<Uuid> = links.iter().map(|l| l.channel_id).collect();
    let foreign = upcheck_store::monitors::foreign_channels(&state.pool, owner, &ids).await?;
    if let Some(i) = ids.iter().position(|id| foreign.contains(id)) {
        return Err(ApiError::invalid(field(i), format!("no channel {}", ids[i])));
    }
    Ok(Some(links))
}
