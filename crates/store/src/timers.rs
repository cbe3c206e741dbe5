//! Alert timers (delays, reminders, escalations): their record in Postgres (`alert_timers`),
//! firing one with the caller's `now`, cancelling them, and listing them to restore Redis.
//!
//! Postgres is the record; the due-time sorted set in Redis is only the clock (see
//! `upcheck_streams::TimerSet`). Firing re-checks the timer's condition (incident still open,
//! not acknowledged, link still there) under the monitor's row lock, the lock that applying its
//! status events takes, so a timer and a recovery never interleave. A timer fired twice
//! notifies once: the timer is settled in the transaction that creates its notification, whose
//! id is [`TimerDue::notification_id`].

use crate::rules::{self, Engage};
use crate::{Pool, StoreError};
use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use upcheck_domain::rules::AlertRule;
use upcheck_domain::{TimerDue, TimerKind};
use uuid::Uuid;

/// A pending timer and when it is due: what to put in the Redis sorted set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledTimer {
    /// The timer.
    pub timer: TimerDue,
    /// When it is due.
    pub due_at: OffsetDateTime,
}

impl ScheduledTimer {
    /// The due time as Unix ms (the sorted set's score).
    pub fn due_ms(&self) -> i64 {
        upcheck_domain::clock::unix_ms(self.due_at)
    }
}

/// What [`fire`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its condition held: it notified (when the link listens to `monitor.down`) and is settled.
    Fired,
    /// Its condition no longer held (incident resolved or acknowledged, link gone): settled
    /// without notifying.
    Skipped,
    /// Settled already (fired, skipped or cancelled before): nothing new.
    Settled,
    /// Not due at `now`: put it back at its due time.
    NotDue,
    /// No such timer (its incident or channel was deleted).
    Missing,
}

/// What firing one timer leaves to do outside Postgres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// What happened.
    pub outcome: Outcome,
    /// Notifications to enqueue (pending ones; also when a fired timer is handled again).
    pub notifications: Vec<Uuid>,
    /// Timers to put in the sorted set: the next reminder, or this one when not due.
    pub next: Vec<ScheduledTimer>,
}

/// Records a pending timer unless it exists; returns it when it was new.
pub(crate) async fn schedule(
    tx: &Transaction<'_>,
    timer: TimerDue,
    due_at: OffsetDateTime,
) -> Result<Option<ScheduledTimer>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO alert_timers (incident_id, channel_id, kind, n, due_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .await?;
    let n = tx
        .execute(&stmt, &[&timer.incident_id, &timer.channel_id, &timer.kind.as_str(), &timer.n, &due_at])
        .await?;
    Ok((n == 1).then_some(ScheduledTimer { timer, due_at }))
}

/// Fires `timer` as of `now`, in one transaction: see the module documentation.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode; nothing is then committed.
#[tracing::instrument(skip_all, fields(incident_id = %timer.incident_id, channel_id = %timer.channel_id,
    kind = timer.kind.as_str(), n = timer.n, outcome))]
pub async fn fire(pool: &Pool, timer: &TimerDue, now: OffsetDateTime) -> Result<Fired, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let fired = fire_in(&tx, timer, now).await?;
    tx.commit().await?;
    tracing::Span::current().record("outcome", tracing::field::debug(fired.outcome));
    Ok(fired)
}

async fn fire_in(tx: &Transaction<'_>, timer: &TimerDue, now: OffsetDateTime) -> Result<Fired, StoreError> {
    let done = |outcome| Fired { outcome, notifications: Vec::new(), next: Vec::new() };
    let monitor = tx.prepare_cached("SELECT monitor_id FROM incidents WHERE id = $1").await?;
    let Some(row) = tx.query_opt(&monitor, &[&timer.incident_id]).await? else {
        return Ok(done(Outcome::Missing));
    };
    let monitor_id: Uuid = row.get(0);
    // The lock applying the monitor's status events takes: a recovery commits before or after.
    let lock = tx.prepare_cached("SELECT 1 FROM monitors WHERE id = $1 FOR NO KEY UPDATE").await?;
    tx.query_opt(&lock, &[&monitor_id]).await?;
    let load = tx
        .prepare_cached(
            "SELECT t.state, t.due_at, t.notification_id, i.state = 'open', i.acknowledged_at IS NOT NULL \
             FROM alert_timers t JOIN incidents i ON i.id = t.incident_id \
             WHERE t.incident_id = $1 AND t.channel_id = $2 AND t.kind = $3 AND t.n = $4 FOR UPDATE OF t",
        )
        .await?;
    let key: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&timer.incident_id, &timer.channel_id, &timer.kind.as_str(), &timer.n];
    let Some(row) = tx.query_opt(&load, &key).await? else {
        return Ok(done(Outcome::Missing));
    };
    let (state, due_at, notification, open, acked): (&str, OffsetDateTime, Option<Uuid>, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    if state != "pending" {
        // Handled before; its notification may still wait for its job (a crash before enqueue).
        let pending = match notification {
            Some(id) => rules::still_pending(tx, id).await?,
            None => Vec::new(),
        };
        return Ok(Fired { outcome: Outcome::Settled, notifications: pending, next: Vec::new() });
    }
    if due_at > now {
        return Ok(Fired {
            outcome: Outcome::NotDue,
            notifications: Vec::new(),
            next: vec![ScheduledTimer { timer: *timer, due_at }],
        });
    }
    let link = rules::link(tx, monitor_id, timer.channel_id).await?;
    let engaged = rules::is_engaged(tx, timer.incident_id, timer.channel_id).await?;
    let holds = match (&link, timer.kind) {
        (None, _) => false,
        (Some((rule, _)), TimerKind::Delayed) => open && !rule.is_escalation(),
        (Some(_), TimerKind::Escalation) => open && !acked,
        (Some((rule, _)), TimerKind::Reminder) => {
            open && !acked && engaged && rule.reminder_minutes.is_some() && rule.listens_to("monitor.down")
        }
    };
    let Some((rule, channel_kind)) = link.filter(|_| holds) else {
        settle(tx, timer, "skipped", None, now).await?;
        return Ok(done(Outcome::Skipped));
    };
    let mut next = Vec::new();
    let notified = if timer.kind == TimerKind::Reminder {
        let minutes = i64::from(rule.reminder_minutes.unwrap_or(1));
        // Every `minutes` from the first due time; after an outage of the clock, from now.
        let mut at = due_at + time::Duration::minutes(minutes);
        if at <= now {
            at = now + time::Duration::minutes(minutes);
        }
        next.extend(schedule(tx, TimerDue { n: timer.n + 1, ..*timer }, at).await?);
        let n = u32::try_from(timer.n).unwrap_or(0);
        rules::notify_down(tx, timer, &channel_kind, Some(n), false).await?
    } else {
        let via = if timer.kind == TimerKind::Escalation { Engage::Escalation } else { Engage::Delayed };
        let engagement = Engage::record(tx, via, timer.incident_id, &rule, due_at, acked).await?;
        next.extend(engagement);
        if rule.listens_to("monitor.down") {
            rules::notify_down(tx, timer, &channel_kind, None, timer.kind == TimerKind::Escalation).await?
        } else {
            None
        }
    };
    settle(tx, timer, "fired", notified, now).await?;
    Ok(Fired { outcome: Outcome::Fired, notifications: notified.into_iter().collect(), next })
}

async fn settle(
    tx: &Transaction<'_>,
    timer: &TimerDue,
    state: &str,
    notification: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE alert_timers SET state = $5, notification_id = $6, settled_at = $7 \
             WHERE incident_id = $1 AND channel_id = $2 AND kind = $3 AND n = $4",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&timer.incident_id, &timer.channel_id, &timer.kind.as_str(), &timer.n, &state, &notification, &now],
    )
    .await?;
    Ok(())
}

/// Cancels an incident's pending timers of `kinds` (all kinds when empty); returns how many.
pub(crate) async fn cancel_in(
    tx: &Transaction<'_>,
    incident_id: Uuid,
    kinds: &[TimerKind],
) -> Result<u64, StoreError> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let stmt = tx
        .prepare_cached(
            "UPDATE alert_timers SET state = 'cancelled', settled_at = now() \
             WHERE incident_id = $1 AND state = 'pending' AND (cardinality($2::text[]) = 0 OR kind = ANY($2))",
        )
        .await?;
    Ok(tx.execute(&stmt, &[&incident_id, &kinds]).await?)
}

/// Cancels the pending reminders and escalations of an acknowledged incident (its delayed
/// alerts stay); returns how many. Firing re-checks the acknowledgement anyway, so this is the
/// record, not the guard.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn cancel_on_acknowledge(pool: &Pool, incident_id: Uuid) -> Result<u64, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = cancel_in(&tx, incident_id, &[TimerKind::Reminder, TimerKind::Escalation]).await?;
    tx.commit().await?;
    Ok(n)
}

/// Pending timers of one incident (to put back in the sorted set when an already applied
/// event is redelivered).
pub(crate) async fn pending_of(
    tx: &Transaction<'_>,
    incident_id: Uuid,
) -> Result<Vec<ScheduledTimer>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT incident_id, channel_id, kind, n, due_at FROM alert_timers \
             WHERE incident_id = $1 AND state = 'pending' ORDER BY due_at",
        )
        .await?;
    tx.query(&stmt, &[&incident_id]).await?.iter().map(scheduled).collect()
}

/// One page of every pending timer, by key, after `after` (to restore the sorted set after
/// Redis lost data).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when a row does not decode.
pub async fn pending_page(
    pool: &Pool,
    after: Option<TimerDue>,
    limit: i64,
) -> Result<Vec<ScheduledTimer>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT incident_id, channel_id, kind, n, due_at FROM alert_timers \
             WHERE state = 'pending' AND (incident_id, channel_id, kind, n) > ($1, $2, $3, $4) \
             ORDER BY incident_id, channel_id, kind, n LIMIT $5",
        )
        .await?;
    let (i, c, k, n) = match after {
        Some(t) => (t.incident_id, t.channel_id, t.kind.as_str(), t.n),
        None => (Uuid::nil(), Uuid::nil(), "", -1),
    };
    client.query(&stmt, &[&i, &c, &k, &n, &limit]).await?.iter().map(scheduled).collect()
}

/// Up to `limit` pending timers due before `before` (past due by the sweep's idle time: their
/// member was lost from the sorted set), oldest first.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when a row does not decode.
pub async fn overdue(
    pool: &Pool,
    before: OffsetDateTime,
    limit: i64,
) -> Result<Vec<ScheduledTimer>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT incident_id, channel_id, kind, n, due_at FROM alert_timers \
             WHERE state = 'pending' AND due_at < $1 ORDER BY due_at LIMIT $2",
        )
        .await?;
    client.query(&stmt, &[&before, &limit]).await?.iter().map(scheduled).collect()
}

fn scheduled(r: &tokio_postgres::Row) -> Result<ScheduledTimer, StoreError> {
    let kind: &str = r.get(2);
    Ok(ScheduledTimer {
        timer: TimerDue {
            incident_id: r.get(0),
            channel_id: r.get(1),
            kind: TimerKind::parse(kind)
                .ok_or_else(|| StoreError::Corrupt(format!("timer kind {kind:?}")))?,
            n: r.get(3),
        },
        due_at: r.get(4),
    })
}

/// The first reminder of a link engaged at `at`, when it has reminders and listens to downs.
pub(crate) fn first_reminder(
    incident_id: Uuid,
    rule: &AlertRule,
    at: OffsetDateTime,
) -> Option<(TimerDue, OffsetDateTime)> {
    let minutes = rule.reminder_minutes.filter(|_| rule.listens_to("monitor.down"))?;
    let timer = TimerDue { incident_id, channel_id: rule.channel_id, kind: TimerKind::Reminder, n: 1 };
    Some((timer, at + time::Duration::minutes(i64::from(minutes))))
}
