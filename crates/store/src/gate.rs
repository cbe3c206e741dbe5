//! What maintenance windows and flapping do to one status event as it is applied: the hooks
//! [`crate::incidents`] calls around opening incidents and fanning out alerts.
//!
//! - Inside a maintenance window (at the event's `occurred_at`), a `down` opens no incident and
//!   alerts no one (the outage is held, see [`crate::maintenance_hold`]); an `up` resolves an
//!   incident opened before the window and alerts only when it resolved one.
//! - While a monitor flaps ([`crate::flapping`]), incidents open and resolve as usual but no
//!   change alerts: the change that crosses the threshold sends one `monitor.flapping` instead.
//! - Certificate notices pass untouched. Slowness notices (`monitor.degraded`) alert no one
//!   inside a window or while the monitor flaps, and hold nothing. Suppressed events are marked
//!   in `status_events.suppressed_by`.

use crate::StoreError;
use crate::flapping::{Flap, FlappingPolicy};
use deadpool_postgres::Transaction;
use upcheck_domain::{MonitorStatus, StatusEvent, WebhookIncident, WebhookMonitor};
use uuid::Uuid;

/// The verdict on one event, taken before its incident is touched.
#[derive(Debug)]
pub(crate) struct Gate {
    maintenance: bool,
    flap: Flap,
    /// Notifications of an episode that ended before this event (its `monitor.stable`).
    pub(crate) earlier: Vec<Uuid>,
}

/// Judges `event` (under its monitor's lock, before its incident is touched).
pub(crate) async fn judge(
    tx: &Transaction<'_>,
    monitor: &WebhookMonitor,
    event: &StatusEvent,
    policy: &FlappingPolicy,
) -> Result<Gate, StoreError> {
    if event.certificate.is_some() {
        return Ok(Gate { maintenance: false, flap: Flap::Calm, earlier: Vec::new() });
    }
    let maintenance = crate::maintenance::covered_at(tx, event.monitor_id, event.occurred_at).await?;
    let (mut flap, earlier) = crate::flapping::judge(tx, monitor, event, policy).await?;
    if maintenance && matches!(flap, Flap::Starts { .. }) {
        flap = Flap::Calm; // no flapping alert inside a window either
    }
    Ok(Gate { maintenance, flap, earlier })
}

impl Gate {
    /// Whether a `down` may open (or join) an incident.
    pub(crate) fn opens_incidents(&self) -> bool {
        !self.maintenance
    }

    /// Whether the event's own alert goes out, `resolved` telling whether it resolved an incident.
    pub(crate) fn alerts(&self, event: &StatusEvent, resolved: bool) -> bool {
        if self.maintenance {
            return event.is_transition() && event.to == MonitorStatus::Up && resolved;
        }
        matches!(self.flap, Flap::Calm)
    }

    /// After the incident step and the event's own alerts: holds or forgets a maintenance
    /// outage, starts a flapping episode with its alert, marks a suppressed event. Returns the
    /// notifications it created that are still pending.
    pub(crate) async fn apply(
        &self,
        tx: &Transaction<'_>,
        monitor: &WebhookMonitor,
        event: &StatusEvent,
        incident: Option<WebhookIncident>,
        policy: &FlappingPolicy,
    ) -> Result<Vec<Uuid>, StoreError> {
        if event.certificate.is_some() {
            // A certificate notice holds, forgets and flaps nothing; its own notifications
            // are still to enqueue.
            return crate::incidents::pending_notifications(tx, event.event_id).await;
        }
        match event.to {
            _ if !event.is_transition() => {}
            MonitorStatus::Down if self.maintenance => crate::maintenance_hold::hold(tx, event).await?,
            MonitorStatus::Down | MonitorStatus::Up => {
                crate::maintenance_hold::forget(tx, event.monitor_id).await?
            }
            _ => {}
        }
        let resolved = incident_resolved(event, &incident);
        if let Flap::Starts { changes, since } = self.flap {
            crate::flapping::start(tx, monitor, event, incident, (changes, since), policy).await?;
        }
        let suppressed = if self.maintenance && !self.alerts(event, resolved) {
            Some("maintenance")
        } else if !matches!(self.flap, Flap::Calm) {
            Some("flapping")
        } else {
            None
        };
        if event.notify
            && let Some(by) = suppressed
        {
            tx.execute(
                &tx.prepare_cached("UPDATE status_events SET suppressed_by = $2 WHERE id = $1").await?,
                &[&event.event_id, &by],
            )
            .await?;
        }
        if !event.notify && !matches!(self.flap, Flap::Starts { .. }) {
            // Nothing above created a notification for this event (it alerts no one and starts
            // no flapping episode), and an event is applied once: none can be pending. Saves a
            // round trip on the commonest event, a new monitor's first `pending → up`.
            return Ok(Vec::new());
        }
        crate::incidents::pending_notifications(tx, event.event_id).await
    }
}

fn incident_resolved(event: &StatusEvent, incident: &Option<WebhookIncident>) -> bool {
    event.to == MonitorStatus::Up && incident.as_ref().is_some_and(|i| i.resolved_at.is_some())
}
