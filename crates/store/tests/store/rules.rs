//! Alert rules at fan-out and alert timers fired with a chosen clock: events filter, delay,
//! reminders, escalation, acknowledgement, resolution and idempotence.

use crate::helpers::*;
use time::{Duration, OffsetDateTime};
use upcheck_domain::{MonitorStatus, StatusEvent, TimerDue, TimerKind, notification_id};
use upcheck_store::incidents::{AppliedEvent, apply_status_event};
use upcheck_store::timers::{Outcome, fire};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

/// A monitor whose incidents open at `T0` (a whole minute, so due times read plainly).
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn at(minutes: i64) -> OffsetDateTime {
    t0() + Duration::minutes(minutes)
}

struct World {
    env: TestEnv,
    owner: Uuid,
    monitor: Uuid,
}

impl World {
    async fn new() -> Self {
        let env = TestEnv::new().await;
        let owner = user(&env).await;
        let monitor = monitor(&env, owner).await;
        Self { env, owner, monitor }
    }

    /// A webhook channel linked with `events`, `delay`, `reminder`, `escalate` (minutes).
    async fn link(&self, events: &[&str], delay: i32, reminder: Option<i32>, escalate: Option<i32>) -> Uuid {
        let channel = webhook_channel(&self.env, self.owner, self.monitor).await;
        let events: Vec<String> = events.iter().map(|e| (*e).to_string()).collect();
        self.env
            .db()
            .await
            .execute(
                "UPDATE monitor_channels SET events = $3, delay_minutes = $4, reminder_minutes = $5, \
                   escalate_after_minutes = $6 WHERE monitor_id = $1 AND channel_id = $2",
                &[&self.monitor, &channel, &events, &delay, &reminder, &escalate],
            )
            .await
            .unwrap();
        channel
    }

    /// Applies a transition that happened `minutes` after `T0`.
    async fn transition(&self, from: MonitorStatus, to: MonitorStatus, minutes: i64) -> AppliedEvent {
        let e =
            outboxed(&self.env, StatusEvent { occurred_at: at(minutes), ..event(self.monitor, from, to) })
                .await;
        apply_status_event(&self.env.pool, &e).await.unwrap().pop().unwrap()
    }

    async fn down(&self) -> (Uuid, AppliedEvent) {
        let applied = self.transition(MonitorStatus::Up, MonitorStatus::Down, 0).await;
        (applied.incident_id.expect("an incident"), applied)
    }

    async fn up(&self, minutes: i64) -> AppliedEvent {
        self.transition(MonitorStatus::Down, MonitorStatus::Up, minutes).await
    }

    /// `(event_type, reminder, escalation)` of every notification to `channel`, oldest first.
    async fn told(&self, channel: Uuid) -> Vec<(String, Option<i64>, bool)> {
        let rows = self
            .env
            .db()
            .await
            .query(
                "SELECT payload FROM notifications WHERE channel_id = $1 ORDER BY created_at, id",
                &[&channel],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                let p: serde_json::Value = r.get(0);
                let kind = p["type"].as_str().unwrap().to_string();
                (kind, p["reminder"].as_i64(), p["escalation"].as_bool().unwrap_or(false))
            })
            .collect()
    }

    async fn acknowledge(&self, incident: Uuid) {
        self.env
            .db()
            .await
            .execute("UPDATE incidents SET acknowledged_at = $2 WHERE id = $1", &[&incident, &at(1)])
            .await
            .unwrap();
        upcheck_store::timers::cancel_on_acknowledge(&self.env.pool, incident).await.unwrap();
    }

    async fn timer_state(&self, t: &TimerDue) -> String {
        self.env
            .db()
            .await
            .query_one(
                "SELECT state FROM alert_timers WHERE incident_id = $1 AND channel_id = $2 AND kind = $3 AND n = $4",
                &[&t.incident_id, &t.channel_id, &t.kind.as_str(), &t.n],
            )
            .await
            .unwrap()
            .get(0)
    }
}

fn timer(incident: Uuid, channel: Uuid, kind: TimerKind, n: i32) -> TimerDue {
    TimerDue { incident_id: incident, channel_id: channel, kind, n }
}

fn down_up() -> Vec<(String, Option<i64>, bool)> {
    vec![("monitor.down".into(), None, false), ("monitor.up".into(), None, false)]
}

#[tokio::test]
async fn a_link_for_up_only_gets_no_down_but_the_up() {
    let w = World::new().await;
    let up_only = w.link(&["monitor.up"], 0, None, None).await;
    let both = w.link(&["monitor.down", "monitor.up"], 0, None, None).await;

    let (_, opened) = w.down().await;
    w.up(3).await;

    assert_eq!(opened.pending_notifications, vec![notification_id(opened.event.event_id, both)]);
    assert_eq!(w.told(up_only).await, vec![("monitor.up".to_string(), None, false)]);
    assert_eq!(w.told(both).await, down_up());
}

#[tokio::test]
async fn a_delayed_link_hears_nothing_of_an_incident_resolved_before_its_delay() {
    let w = World::new().await;
    let delayed = w.link(&["monitor.down", "monitor.up"], 10, None, None).await;
    let (incident, opened) = w.down().await;
    assert_eq!(opened.timers.len(), 1, "one delayed timer");
    assert_eq!(opened.timers[0].due_at, at(10));

    w.up(4).await;
    let fired = fire(&w.env.pool, &timer(incident, delayed, TimerKind::Delayed, 0), at(10)).await.unwrap();

    assert_eq!(fired.outcome, Outcome::Settled, "the recovery cancelled it");
    assert_eq!(w.told(delayed).await, vec![]);
    assert_eq!(w.timer_state(&timer(incident, delayed, TimerKind::Delayed, 0)).await, "cancelled");
}

#[tokio::test]
async fn a_delayed_link_gets_the_down_once_the_delay_passed_and_then_the_up() {
    let w = World::new().await;
    let delayed = w.link(&["monitor.down", "monitor.up"], 10, None, None).await;
    let (incident, _) = w.down().await;
    let t = timer(incident, delayed, TimerKind::Delayed, 0);

    let early = fire(&w.env.pool, &t, at(9)).await.unwrap();
    assert_eq!((early.outcome, early.next[0].due_at), (Outcome::NotDue, at(10)));
    assert_eq!(w.told(delayed).await, vec![]);
    let fired = fire(&w.env.pool, &t, at(10)).await.unwrap();
    w.up(12).await;

    assert_eq!(fired.outcome, Outcome::Fired);
    assert_eq!(fired.notifications, vec![t.notification_id()]);
    assert_eq!(w.told(delayed).await, down_up());
}

#[tokio::test]
async fn reminders_repeat_every_n_minutes_and_stop_when_acknowledged() {
    let w = World::new().await;
    let ch = w.link(&["monitor.down", "monitor.up"], 0, Some(15), None).await;
    let (incident, opened) = w.down().await;
    assert_eq!(opened.timers[0].due_at, at(15), "the first reminder, 15 minutes after the down");

    let first = fire(&w.env.pool, &timer(incident, ch, TimerKind::Reminder, 1), at(15)).await.unwrap();
    assert_eq!(first.next[0].timer, timer(incident, ch, TimerKind::Reminder, 2));
    assert_eq!(first.next[0].due_at, at(30));
    let second = fire(&w.env.pool, &timer(incident, ch, TimerKind::Reminder, 2), at(30)).await.unwrap();
    w.acknowledge(incident).await;
    let third = fire(&w.env.pool, &timer(incident, ch, TimerKind::Reminder, 3), at(45)).await.unwrap();

    assert_eq!(
        (first.outcome, second.outcome, third.outcome),
        (Outcome::Fired, Outcome::Fired, Outcome::Settled)
    );
    assert_eq!(w.timer_state(&timer(incident, ch, TimerKind::Reminder, 3)).await, "cancelled");
    assert_eq!(
        w.told(ch).await,
        vec![
            ("monitor.down".into(), None, false),
            ("monitor.down".into(), Some(1), false),
            ("monitor.down".into(), Some(2), false)
        ]
    );
}

#[tokio::test]
async fn reminders_stop_when_the_incident_resolves() {
    let w = World::new().await;
    let ch = w.link(&["monitor.down", "monitor.up"], 0, Some(5), None).await;
    let (incident, _) = w.down().await;
    fire(&w.env.pool, &timer(incident, ch, TimerKind::Reminder, 1), at(5)).await.unwrap();

    w.up(7).await;
    let late = fire(&w.env.pool, &timer(incident, ch, TimerKind::Reminder, 2), at(10)).await.unwrap();

    assert_eq!(late.outcome, Outcome::Settled);
    let told = w.told(ch).await;
    assert_eq!(told.iter().filter(|t| t.1.is_some()).count(), 1, "{told:?}");
    assert_eq!(told.last().unwrap().0, "monitor.up");
}

#[tokio::test]
async fn escalation_fires_after_m_minutes_unacknowledged_and_then_hears_the_up() {
    let w = World::new().await;
    let first = w.link(&["monitor.down", "monitor.up"], 0, None, None).await;
    let oncall = w.link(&["monitor.down", "monitor.up"], 0, None, Some(20)).await;
    let (incident, opened) = w.down().await;
    assert_eq!(w.told(oncall).await, vec![], "not with the first tier");
    assert_eq!(opened.timers.iter().map(|t| t.due_at).collect::<Vec<_>>(), vec![at(20)]);

    let fired = fire(&w.env.pool, &timer(incident, oncall, TimerKind::Escalation, 0), at(20)).await.unwrap();
    w.up(25).await;

    assert_eq!(fired.outcome, Outcome::Fired);
    assert_eq!(
        w.told(oncall).await,
        vec![("monitor.down".into(), None, true), ("monitor.up".into(), None, false)]
    );
    assert_eq!(w.told(first).await, down_up());
}

#[tokio::test]
async fn escalation_does_not_fire_when_acknowledged_first_nor_hears_the_up() {
    let w = World::new().await;
    let oncall = w.link(&["monitor.down", "monitor.up"], 0, None, Some(20)).await;
    let (incident, _) = w.down().await;

    w.acknowledge(incident).await;
    let fired = fire(&w.env.pool, &timer(incident, oncall, TimerKind::Escalation, 0), at(20)).await.unwrap();
    w.up(25).await;

    assert_eq!(fired.outcome, Outcome::Settled);
    assert_eq!(w.timer_state(&timer(incident, oncall, TimerKind::Escalation, 0)).await, "cancelled");
    assert_eq!(w.told(oncall).await, vec![]);
}

#[tokio::test]
async fn an_escalation_acknowledged_without_the_cancel_is_still_skipped_when_due() {
    let w = World::new().await;
    let oncall = w.link(&["monitor.down"], 0, Some(5), Some(20)).await;
    let (incident, _) = w.down().await;
    // The acknowledgement alone (as if the API's cancel never ran): firing re-checks it.
    w.env
        .db()
        .await
        .execute("UPDATE incidents SET acknowledged_at = now() WHERE id = $1", &[&incident])
        .await
        .unwrap();

    let fired = fire(&w.env.pool, &timer(incident, oncall, TimerKind::Escalation, 0), at(20)).await.unwrap();

    assert_eq!((fired.outcome, fired.next.len()), (Outcome::Skipped, 0));
    assert_eq!(w.told(oncall).await, vec![]);
}

#[tokio::test]
async fn a_timer_fired_twice_notifies_once() {
    let w = World::new().await;
    let ch = w.link(&["monitor.down", "monitor.up"], 0, Some(5), None).await;
    let (incident, _) = w.down().await;
    let t = timer(incident, ch, TimerKind::Reminder, 1);

    let first = fire(&w.env.pool, &t, at(5)).await.unwrap();
    let again = fire(&w.env.pool, &t, at(6)).await.unwrap();

    assert_eq!(first.outcome, Outcome::Fired);
    assert_eq!(again.outcome, Outcome::Settled);
    assert_eq!(again.notifications, vec![t.notification_id()], "still pending: enqueued again, not created");
    assert!(again.next.is_empty(), "the next reminder is scheduled once");
    assert_eq!(w.told(ch).await.len(), 2, "the down and one reminder");
    let reminders = count(
        &w.env,
        "SELECT count(*) FROM alert_timers WHERE incident_id = $1 AND kind = 'reminder'",
        incident,
    )
    .await;
    assert_eq!(reminders, 2, "reminder 1 fired, reminder 2 pending");
}

#[tokio::test]
async fn certificate_notices_reach_only_first_tier_links_that_list_them() {
    let w = World::new().await;
    let listed = w.link(&["certificate.expiring"], 0, None, None).await;
    let not_listed = w.link(&["monitor.down"], 0, None, None).await;
    let escalation = w.link(&["certificate.expiring", "monitor.down"], 0, None, Some(10)).await;
    let cert = upcheck_domain::ExpiringCertificate {
        fingerprint: "ab".into(),
        not_after: at(60 * 24 * 3),
        days_left: 3,
    };
    let notice =
        StatusEvent { certificate: Some(cert), ..event(w.monitor, MonitorStatus::Up, MonitorStatus::Up) };

    let applied = apply_status_event(&w.env.pool, &outboxed(&w.env, notice).await).await.unwrap();

    assert_eq!(applied[0].pending_notifications.len(), 1);
    assert_eq!(w.told(listed).await, vec![("certificate.expiring".to_string(), None, false)]);
    assert!(w.told(not_listed).await.is_empty() && w.told(escalation).await.is_empty());
}
