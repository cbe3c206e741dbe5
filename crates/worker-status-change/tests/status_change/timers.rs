//! Alert timers through the worker with a chosen clock: a status event schedules them in the
//! sorted set, a step fires them, a sweep restores them after Redis lost them, and a timer
//! delivered twice notifies once.

use std::time::Duration;
use time::OffsetDateTime;
use upcheck_domain::{MonitorStatus, StatusEvent, TimerDue, TimerKind};
use upcheck_store::incidents::AppliedEvent;
use upcheck_streams::{Handler, Keys, Lock, Producer, StreamMessage, TimerSet};
use upcheck_testkit::TestEnv;
use upcheck_testkit::fixtures::{count, user, webhook_channel};
use upcheck_worker_status_change::StatusChangeHandler;
use upcheck_worker_status_change::timers::{Step, TimerSweep, Timers, member};
use uuid::Uuid;

const LEASE_MS: i64 = 30_000;

struct Rig {
    env: TestEnv,
    keys: Keys,
    set: TimerSet,
    timers: Timers,
    monitor: Uuid,
    channel: Uuid,
}

impl Rig {
    /// A monitor with one webhook channel that gets reminders every 5 minutes.
    async fn new() -> Self {
        let env = TestEnv::new().await;
        let keys = Keys::new(&env.settings);
        let set = TimerSet::new(env.redis.clone(), keys.alert_timers());
        let producer = Producer::new(env.redis.clone(), 1_000);
        let timers = Timers::new(
            env.pool.clone(),
            set.clone(),
            producer,
            env.settings.streams.notification.clone(),
            LEASE_MS,
        );
        let owner = user(&env).await;
        let spec = upcheck_testkit::fixtures::spec("http://127.0.0.1:1/");
        upcheck_testkit::fixtures::monitor(&env, owner, &spec).await;
        let (channel, _) = webhook_channel(&env, owner, spec.monitor_id, "http://127.0.0.1:1/hook").await;
        env.db()
            .await
            .execute("UPDATE monitor_channels SET reminder_minutes = 5 WHERE channel_id = $1", &[&channel])
            .await
            .unwrap();
        Self { env, keys, set, timers, monitor: spec.monitor_id, channel }
    }

    /// The monitor goes down at `at`, through the status-change handler; returns the incident.
    async fn down(&self, at: OffsetDateTime) -> Uuid {
        let mut events = [StatusEvent {
            event_id: Uuid::now_v7(),
            monitor_id: self.monitor,
            from: MonitorStatus::Up,
            to: MonitorStatus::Down,
            notify: true,
            occurred_at: at,
            cause: Some("connection refused".into()),
            seq: None,
            trace_parent: None,
            certificate: None,
            degraded: None,
        }];
        upcheck_store::events::append(&self.env.pool, &mut events).await.unwrap();
        let handler = StatusChangeHandler::new(
            self.env.pool.clone(),
            Producer::new(self.env.redis.clone(), 1_000),
            self.env.settings.streams.notification.clone(),
            self.keys.live_channel(),
            self.timers.clone(),
        );
        let message = StreamMessage {
            stream: self.env.settings.streams.status_change.clone(),
            id: "1-0".into(),
            payload: serde_json::to_string(&events[0]).unwrap(),
        };
        handler.handle(&message).await.unwrap();
        let applied: Vec<AppliedEvent> =
            upcheck_store::incidents::apply_status_event(&self.env.pool, &events[0]).await.unwrap();
        applied[0].incident_id.expect("an incident")
    }

    fn sweep(&self) -> TimerSweep {
        TimerSweep {
            pool: self.env.pool.clone(),
            set: self.set.clone(),
            redis: self.env.redis.clone(),
            marker: self.keys.alert_timers_marker(),
            lock: Lock::new(self.env.redis.clone(), self.keys.alert_timer_sweep_lock()),
            idle: Duration::from_secs(30),
        }
    }

    async fn jobs(&self) -> u64 {
        redis::cmd("XLEN")
            .arg(&self.env.settings.streams.notification)
            .query_async(&mut self.env.redis.clone())
            .await
            .unwrap()
    }

    async fn reminders_sent(&self) -> i64 {
        count(
            &self.env,
            "SELECT count(*) FROM notifications WHERE monitor_id = $1 AND payload ? 'reminder'",
            self.monitor,
        )
        .await
    }

    /// What a Redis flush does to this test's keys (the whole server is shared by other tests).
    async fn lose_redis_data(&self) {
        let _: () = redis::cmd("DEL")
            .arg(self.keys.alert_timers())
            .arg(self.keys.alert_timers_marker())
            .arg(self.keys.alert_timer_sweep_lock())
            .query_async(&mut self.env.redis.clone())
            .await
            .unwrap();
    }
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn at(minutes: i64) -> OffsetDateTime {
    t0() + time::Duration::minutes(minutes)
}

#[tokio::test]
async fn a_reminder_waits_in_the_sorted_set_and_fires_when_the_clock_reaches_it() {
    let rig = Rig::new().await;
    let incident = rig.down(at(0)).await;
    let first = TimerDue { incident_id: incident, channel_id: rig.channel, kind: TimerKind::Reminder, n: 1 };
    assert_eq!(rig.set.due_ms(&member(&first)).await.unwrap(), Some(upcheck_domain::clock::unix_ms(at(5))));
    let jobs_after_down = rig.jobs().await;

    let early = rig.timers.step(at(4), 100).await.unwrap();
    let due = rig.timers.step(at(5), 100).await.unwrap();

    assert_eq!(early, Step::default(), "nothing is due at minute 4");
    assert_eq!(due, Step { fired: 1, ..Step::default() });
    assert_eq!(rig.reminders_sent().await, 1);
    assert_eq!(rig.jobs().await, jobs_after_down + 1, "the reminder's job is enqueued");
    assert_eq!(rig.set.due_ms(&member(&first)).await.unwrap(), None, "released");
    let second = TimerDue { n: 2, ..first };
    assert_eq!(rig.set.due_ms(&member(&second)).await.unwrap(), Some(upcheck_domain::clock::unix_ms(at(10))));
}

#[tokio::test]
async fn timers_survive_a_redis_flush_through_the_sweep() {
    let rig = Rig::new().await;
    let incident = rig.down(at(0)).await;
    rig.sweep().once(at(0), Duration::from_secs(1)).await.unwrap();
    rig.lose_redis_data().await;
    assert_eq!(rig.set.waiting().await.unwrap(), 0);
    assert_eq!(rig.timers.step(at(5), 100).await.unwrap(), Step::default(), "the clock lost it");

    let restored = rig.sweep().once(at(1), Duration::from_secs(1)).await.unwrap();
    let due = rig.timers.step(at(5), 100).await.unwrap();

    assert_eq!(restored, 1, "the marker was gone: every pending timer is put back");
    assert_eq!(due.fired, 1);
    assert_eq!(rig.reminders_sent().await, 1);
    let pending = count(
        &rig.env,
        "SELECT count(*) FROM alert_timers WHERE incident_id = $1 AND state = 'pending'",
        incident,
    );
    assert_eq!(pending.await, 1, "reminder 2 waits");
}

#[tokio::test]
async fn a_timer_lost_alone_is_put_back_once_it_is_overdue() {
    let rig = Rig::new().await;
    let incident = rig.down(at(0)).await;
    rig.sweep().once(at(0), Duration::from_secs(1)).await.unwrap();
    let first = TimerDue { incident_id: incident, channel_id: rig.channel, kind: TimerKind::Reminder, n: 1 };
    let _: () = redis::cmd("ZREM")
        .arg(rig.keys.alert_timers())
        .arg(member(&first))
        .query_async(&mut rig.env.redis.clone())
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(rig.keys.alert_timer_sweep_lock())
        .query_async(&mut rig.env.redis.clone())
        .await
        .unwrap();

    let before_due = rig.sweep().once(at(5), Duration::from_millis(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let overdue = rig.sweep().once(at(6), Duration::from_millis(1)).await.unwrap();

    assert_eq!((before_due, overdue), (0, 1), "restored only once 30 s past due");
    assert_eq!(rig.timers.step(at(6), 100).await.unwrap().fired, 1);
}

#[tokio::test]
async fn a_timer_delivered_twice_notifies_once() {
    let rig = Rig::new().await;
    let incident = rig.down(at(0)).await;
    let first = TimerDue { incident_id: incident, channel_id: rig.channel, kind: TimerKind::Reminder, n: 1 };
    rig.timers.step(at(5), 100).await.unwrap();
    let jobs = rig.jobs().await;

    rig.set.schedule(&member(&first), upcheck_domain::clock::unix_ms(at(5))).await.unwrap();
    let again = rig.timers.step(at(6), 100).await.unwrap();

    assert_eq!(again, Step { other: 1, ..Step::default() }, "settled already");
    assert_eq!(rig.reminders_sent().await, 1);
    assert_eq!(
        rig.jobs().await,
        jobs + 1,
        "its notification, still pending, is enqueued again (deduplicated at delivery)"
    );
}

#[tokio::test]
async fn a_claimed_timer_is_leased_to_one_replica_until_its_lease_ends() {
    let rig = Rig::new().await;
    rig.set.schedule("x", 1_000).await.unwrap();

    let a = rig.set.claim(2_000, 500, 10).await.unwrap();
    let b = rig.set.claim(2_000, 500, 10).await.unwrap();
    let after_lease = rig.set.claim(2_600, 500, 10).await.unwrap();

    assert_eq!((a.members.len(), b.members.len(), after_lease.members.len()), (1, 0, 1));
    assert!(!rig.set.release("x", a.lease_until_ms).await.unwrap(), "another replica holds it now");
    assert!(rig.set.release("x", after_lease.lease_until_ms).await.unwrap());
}

#[tokio::test]
async fn a_timer_claimed_before_its_due_time_goes_back_to_it_unfired() {
    let rig = Rig::new().await;
    let incident = rig.down(at(0)).await;
    let first = TimerDue { incident_id: incident, channel_id: rig.channel, kind: TimerKind::Reminder, n: 1 };
    // Scored too early (a clock skew between replicas, a stale restore).
    rig.set.schedule(&member(&first), upcheck_domain::clock::unix_ms(at(1))).await.unwrap();

    let early = rig.timers.step(at(2), 100).await.unwrap();

    assert_eq!(early, Step { other: 1, ..Step::default() });
    assert_eq!(rig.reminders_sent().await, 0);
    assert_eq!(rig.set.due_ms(&member(&first)).await.unwrap(), Some(upcheck_domain::clock::unix_ms(at(5))));
}
