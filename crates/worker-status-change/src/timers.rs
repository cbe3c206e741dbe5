//! Alert timers in the status-change worker: the clock that fires delays, reminders and
//! escalations, and the sweep that restores them after Redis lost data.
//!
//! Postgres (`alert_timers`) is the record; the due-time sorted set
//! ([`upcheck_streams::TimerSet`]) is the clock. Every replica runs the same step every
//! `SCHEDULER_TICK_MS`: it claims due timers under a lease (`RECLAIM_IDLE_MS`), fires each in
//! Postgres with the step's `now` (conditions re-checked there, notification ids derived from
//! the timer, so a timer fired twice notifies once), puts the next reminder in the set,
//! enqueues the notification jobs and only then removes the timer. A replica dying mid-step
//! leaves its timers leased; another claims them when the lease ends. No task sleeps until a
//! timer is due.

use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use upcheck_domain::{NotificationJob, TimerDue};
use upcheck_store::Pool;
use upcheck_store::timers::{Outcome, ScheduledTimer};
use upcheck_streams::{Lock, Producer, TimerSet};

/// Alert timers handled, by `kind` and `outcome`.
pub const ALERT_TIMERS: &str = "upcheck_alert_timers_total";

/// Why a step or sweep did not finish (the next one tries again).
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    /// Postgres failed.
    #[error(transparent)]
    Store(#[from] upcheck_store::StoreError),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] upcheck_streams::StreamError),
}

/// What one step did, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Timers whose condition held: they notified.
    pub fired: usize,
    /// Timers whose condition no longer held.
    pub skipped: usize,
    /// Timers handled before (a duplicate), not due yet, or gone.
    pub other: usize,
    /// Steps that failed and were left for a later step (lease).
    pub failed: usize,
}

/// The alert-timer clock of one replica.
#[derive(Clone)]
pub struct Timers {
    pool: Pool,
    set: TimerSet,
    producer: Producer,
    notification_stream: String,
    lease_ms: i64,
}

impl Timers {
    /// Timers recorded in `pool`, clocked by `set`, notifications enqueued on
    /// `notification_stream`; a claimed timer is leased for `lease_ms`.
    pub fn new(
        pool: Pool,
        set: TimerSet,
        producer: Producer,
        notification_stream: String,
        lease_ms: i64,
    ) -> Self {
        Self { pool, set, producer, notification_stream, lease_ms }
    }

    /// Puts `timers` in the sorted set at their due times, unless they are there (a timer
    /// claimed by a replica keeps its lease).
    ///
    /// # Errors
    /// [`TimerError::Redis`] when Redis fails.
    pub async fn schedule(&self, timers: &[ScheduledTimer]) -> Result<(), TimerError> {
        let members: Vec<(String, i64)> = timers.iter().map(|t| (member(&t.timer), t.due_ms())).collect();
        self.set.restore(&members).await?;
        Ok(())
    }

    /// One step of the clock at `now`: fires up to `limit` due timers.
    ///
    /// # Errors
    /// [`TimerError::Redis`] when the claim fails. A timer whose firing fails stays leased and
    /// is counted in [`Step::failed`].
    pub async fn step(&self, now: OffsetDateTime, limit: usize) -> Result<Step, TimerError> {
        let claimed = self.set.claim(upcheck_domain::clock::unix_ms(now), self.lease_ms, limit).await?;
        let mut step = Step::default();
        for m in &claimed.members {
            let Ok(timer) = serde_json::from_str::<TimerDue>(m) else {
                tracing::warn!(member = %m, "dropping an alert timer that does not decode");
                self.set.release(m, claimed.lease_until_ms).await?;
                continue;
            };
            match self.fire(&timer, now).await {
                Ok(Outcome::Fired) => step.fired += 1,
                Ok(Outcome::Skipped) => step.skipped += 1,
                Ok(_) => step.other += 1,
                Err(e) => {
                    step.failed += 1;
                    tracing::warn!(error = %e, incident_id = %timer.incident_id, kind = timer.kind.as_str(),
                        "alert timer not fired; retried when its lease ends");
                    continue;
                }
            }
            self.set.release(m, claimed.lease_until_ms).await?;
        }
        Ok(step)
    }

    async fn fire(&self, timer: &TimerDue, now: OffsetDateTime) -> Result<Outcome, TimerError> {
        let fired = upcheck_store::timers::fire(&self.pool, timer, now).await?;
        let outcome = match fired.outcome {
            Outcome::Fired => "fired",
            Outcome::Skipped => "skipped",
            Outcome::Settled => "settled",
            Outcome::NotDue => "not_due",
            Outcome::Missing => "missing",
        };
        metrics::counter!(ALERT_TIMERS, "kind" => timer.kind.as_str(), "outcome" => outcome).increment(1);
        // What follows first: once this one is released, the set must already hold it. A timer
        // not due yet goes back to its due time (its member holds our lease's score).
        if fired.outcome == Outcome::NotDue {
            for t in &fired.next {
                self.set.schedule(&member(&t.timer), t.due_ms()).await?;
            }
        } else {
            self.schedule(&fired.next).await?;
        }
        let jobs: Vec<NotificationJob> =
            fired.notifications.iter().map(|id| NotificationJob { notification_id: *id }).collect();
        self.producer.add_many(&self.notification_stream, &jobs).await?;
        if fired.outcome == Outcome::Fired {
            tracing::info!(incident_id = %timer.incident_id, channel_id = %timer.channel_id,
                kind = timer.kind.as_str(), n = timer.n, notifications = jobs.len(), "alert timer fired");
        }
        Ok(fired.outcome)
    }

    /// Steps every `tick` at the wall clock until cancelled.
    pub async fn run(self, tick: Duration, cancel: CancellationToken) {
        upcheck_runtime::every(tick, tick, &cancel, || async {
            if let Err(e) = self.step(OffsetDateTime::now_utc(), 200).await {
                tracing::warn!(error = %e, "alert timer step failed");
            }
        })
        .await;
    }
}

/// A timer's member in the sorted set: its JSON (field order fixed, so one timer is one member).
pub fn member(timer: &TimerDue) -> String {
    serde_json::to_string(timer).unwrap_or_default()
}

/// Restores the sorted set from Postgres: every pending timer when the marker is gone (Redis
/// lost data), and pending timers overdue by `idle` at every sweep (a member lost alone). One
/// replica sweeps at a time, under a lock.
pub struct TimerSweep {
    /// Postgres.
    pub pool: Pool,
    /// The sorted set.
    pub set: TimerSet,
    /// For the marker.
    pub redis: upcheck_streams::RedisConn,
    /// The marker key ([`upcheck_streams::Keys::alert_timers_marker`]).
    pub marker: String,
    /// One sweeper at a time.
    pub lock: Lock,
    /// A pending timer this far past due has lost its member.
    pub idle: Duration,
}

impl TimerSweep {
    /// Sweeps every `every` until cancelled.
    pub async fn run(self, every: Duration, cancel: CancellationToken) {
        upcheck_runtime::every(every, Duration::ZERO, &cancel, || async {
            match self.once(OffsetDateTime::now_utc(), every).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "restored alert timers Redis had lost"),
                Err(e) => tracing::warn!(error = %e, "alert timer sweep failed"),
            }
        })
        .await;
    }

    /// One sweep at `now` (when this replica gets the lock, held for `every`); returns how many
    /// timers were put back.
    ///
    /// # Errors
    /// [`TimerError`] when Postgres or Redis fails.
    pub async fn once(&self, now: OffsetDateTime, every: Duration) -> Result<u64, TimerError> {
        if self.lock.try_acquire(every.as_millis() as u64).await?.is_none() {
            return Ok(0);
        }
        let mut conn = self.redis.clone();
        let mut restored = 0;
        let marked: bool = redis::cmd("EXISTS")
            .arg(&self.marker)
            .query_async(&mut conn)
            .await
            .map_err(upcheck_streams::StreamError::from)?;
        if !marked {
            let mut after = None;
            loop {
                let page = upcheck_store::timers::pending_page(&self.pool, after, 1_000).await?;
                restored += self.restore(&page).await?;
                match page.last() {
                    Some(last) => after = Some(last.timer),
                    None => break,
                }
            }
            redis::cmd("SET")
                .arg(&self.marker)
                .arg(upcheck_domain::clock::unix_ms(now))
                .query_async::<()>(&mut conn)
                .await
                .map_err(upcheck_streams::StreamError::from)?;
        }
        let idle = time::Duration::try_from(self.idle).unwrap_or(time::Duration::ZERO);
        let overdue = upcheck_store::timers::overdue(&self.pool, now - idle, 500).await?;
        restored += self.restore(&overdue).await?;
        Ok(restored)
    }

    async fn restore(&self, timers: &[ScheduledTimer]) -> Result<u64, TimerError> {
        let members: Vec<(String, i64)> = timers.iter().map(|t| (member(&t.timer), t.due_ms())).collect();
        Ok(self.set.restore(&members).await?)
    }
}
