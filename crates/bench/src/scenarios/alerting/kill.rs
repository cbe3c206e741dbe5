//! `alerting --kill`: `--notifications` alerts over the eight kinds (one per channel), all
//! enqueued, two notification workers in one consumer group, one of them SIGKILLed every
//! `--kill-every-ms` and restarted at once, the two in turn; then, per notification, how many
//! times its provider received it: lost, duplicated, and whether the provider could have
//! deduplicated the duplicates (webhook by `webhook-id`, PagerDuty by `dedup_key`, e-mail by
//! `Message-ID`).

use super::fleet::{self, Fleet, Planned};
use super::providers::{KINDS, Providers, Reception};
use super::{environment, spawn_worker};
use crate::cli::AlertingArgs;
use crate::report::{Rows, thousands};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use upcheck_streams::Producer;
use uuid::Uuid;

/// Timings of the run, short so that a killed worker's jobs are reclaimed within seconds:
/// `RECLAIM_IDLE_MS` must stay above both timeouts.
const TIMINGS: [(&str, &str); 5] = [
    ("RECLAIM_IDLE_MS", "3000"),
    ("WEBHOOK_TIMEOUT_MS", "1000"),
    ("SMTP_TIMEOUT_MS", "1000"),
    ("NOTIFICATION_RETRY_BASE_MS", "200"),
    ("NOTIFICATION_RETRY_MAX_MS", "2000"),
];

/// The kinds whose provider can recognise a repeat, and by what.
const DEDUPLICATING: [(&str, &str); 3] =
    [("webhook", "webhook-id"), ("pagerduty", "dedup_key"), ("email", "Message-ID")];

/// The SIGKILL run.
pub(crate) async fn run(a: &AlertingArgs) -> anyhow::Result<Rows> {
    let count = a.notifications.unwrap_or(2_000) as usize;
    let delay_ms = a.provider_delay_ms.unwrap_or(100);
    let providers = Providers::start(Duration::from_millis(delay_ms)).await?;
    let env = environment(a, &providers, &TIMINGS).await;
    let conns = upcheck_streams::connect(&env.settings.redis).await?;
    let producer = Producer::new(conns.commands, env.settings.tunables.stream_maxlen);
    let mut fleet = Fleet::new();

    let logs = std::env::temp_dir().join(format!("upcheck-bench-alerting-kill-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    let log = |i: usize| logs.join(format!("worker-notification-{i}.log"));
    let mut workers = vec![spawn_worker(&env, 1, Some(&log(1)))?, spawn_worker(&env, 2, Some(&log(2)))?];
    let every = Duration::from_millis(a.kill_every_ms);
    let deadline = Duration::from_secs(a.deadline_seconds);
    // Alerts are made and enqueued about every tenth of a second, as the status-change worker
    // would: made all at first, those not enqueued within RECLAIM_IDLE_MS would be enqueued
    // by the sweep, unpaced.
    // Batches of whole monitors (8 channels) keep the kinds equal.
    let batch = (a.kill_rate as usize).div_ceil(10).next_multiple_of(8);
    let period = Duration::from_secs_f64(batch as f64 / a.kill_rate as f64);
    let mut planned: Vec<Planned> = Vec::with_capacity(count);
    let mut fed_after = Duration::ZERO;
    let started = Instant::now();
    let mut next_batch = started;
    let mut next_kill = started + every;
    let (mut kills, mut deaths, mut victim) = ([0usize; 2], 0usize, 0usize);
    let finished_after = loop {
        if planned.len() < count && Instant::now() >= next_batch {
            let made = fleet.create(&env, &providers, batch.min(count - planned.len())).await?;
            fleet::enqueue(&producer, &env.settings.streams.notification, &made).await?;
            planned.extend(made);
            next_batch += period;
            fed_after = started.elapsed();
        }
        let (delivered, failed, _) = fleet::states(&env).await?;
        if planned.len() == count && (delivered + failed) as usize == count {
            break Some(started.elapsed());
        }
        if started.elapsed() > deadline {
            break None;
        }
        if Instant::now() >= next_kill {
            workers[victim].kill();
            workers[victim] = spawn_worker(&env, victim + 1, Some(&log(victim + 1)))?;
            kills[victim] += 1;
            victim = 1 - victim;
            next_kill += every;
        }
        for (i, w) in workers.iter_mut().enumerate() {
            if !w.running() {
                deaths += 1;
                *w = spawn_worker(&env, i + 1, Some(&log(i + 1)))?;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Sends still in flight when the last notification was recorded.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = tokio::task::spawn_blocking(move || {
        for w in workers {
            w.stop();
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let states: HashMap<Uuid, String> = env
        .db()
        .await
        .query("SELECT id, state FROM notifications", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let received = providers.receptions.snapshot();
    let tally = Tally::of(&planned, &states, &received);
    let mut rows: Rows = vec![
        (
            "alerting --kill: setup".into(),
            format!(
                "{} notifications over 8 kinds ({} monitors, {} owners) made and enqueued at {} /s (over {:.1} s), HTTP providers answering after {delay_ms} ms, 2 workers in one group, SIGKILL every {} ms in turn; {}",
                thousands(count as f64),
                thousands(fleet.monitors as f64),
                thousands(fleet.owners as f64),
                a.kill_rate,
                fed_after.as_secs_f64(),
                a.kill_every_ms,
                TIMINGS.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
            ),
        ),
        (
            "alerting --kill: kills".into(),
            format!(
                "{} (#1 ×{}, #2 ×{}), {deaths} other exits; {}; logs in {}",
                kills[0] + kills[1],
                kills[0],
                kills[1],
                finished_after.map_or_else(
                    || format!("NOT all finished within {} s", deadline.as_secs()),
                    |d| format!("all finished after {:.1} s", d.as_secs_f64())
                ),
                logs.display()
            ),
        ),
    ];
    rows.extend(tally.rows(planned.len(), kills[0] + kills[1], providers.receptions.unrecognised()));
    providers.stop().await;
    Ok(rows)
}

/// What the providers received, against the notifications' final states.
#[derive(Default)]
struct Tally {
    delivered: usize,
    failed: usize,
    pending: usize,
    lost: usize,
    delivered_unreceived: usize,
    /// Per kind: (notifications, duplicated, extra receptions, duplicates with one dedup id).
    per_kind: [(usize, usize, usize, usize); 8],
}

impl Tally {
    fn of(
        planned: &[Planned],
        states: &HashMap<Uuid, String>,
        received: &HashMap<u64, Vec<Reception>>,
    ) -> Self {
        let mut t = Self::default();
        for p in planned {
            let state = states.get(&p.notification).map_or("missing", String::as_str);
            let got = received.get(&p.n).map_or(&[][..], Vec::as_slice);
            match state {
                "delivered" => t.delivered += 1,
                "pending" => t.pending += 1,
                _ => t.failed += 1,
            }
            if got.is_empty() && state != "delivered" {
                t.lost += 1;
            }
            if got.is_empty() && state == "delivered" {
                t.delivered_unreceived += 1;
            }
            let k = &mut t.per_kind[p.kind];
            k.0 += 1;
            if got.len() > 1 {
                k.1 += 1;
                k.2 += got.len() - 1;
                let first = &got[0].dedup;
                if first.is_some() && got.iter().all(|r| &r.dedup == first) {
                    k.3 += 1;
                }
            }
        }
        t
    }

    fn rows(&self, count: usize, kills: usize, unrecognised: u64) -> Rows {
        let pct = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 * 100.0 / of as f64 };
        let duplicated: usize = self.per_kind.iter().map(|k| k.1).sum();
        let extra: usize = self.per_kind.iter().map(|k| k.2).sum();
        let per_kind: Vec<String> = self
            .per_kind
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} {}/{} ({:.2} %)", KINDS[i], k.1, k.0, pct(k.1, k.0)))
            .collect();
        let dedup: Vec<String> = DEDUPLICATING
            .iter()
            .map(|(kind, by)| {
                let k = self.per_kind[KINDS.iter().position(|n| n == kind).unwrap_or(0)];
                format!("{kind} by {by}: {} of {}", k.3, k.1)
            })
            .collect();
        let undeduplicable: usize = KINDS
            .iter()
            .enumerate()
            .filter(|(_, n)| !DEDUPLICATING.iter().any(|(d, _)| d == *n))
            .map(|(i, _)| self.per_kind[i].1)
            .sum();
        vec![
            (
                "alerting --kill: outcome".into(),
                format!(
                    "{} delivered, {} failed or dead, {} pending; LOST (never received, not delivered): {}; delivered but never received: {}",
                    self.delivered, self.failed, self.pending, self.lost, self.delivered_unreceived
                ),
            ),
            (
                "alerting --kill: duplicate rate".into(),
                format!(
                    "{duplicated} of {} alerts received more than once ({:.2} %), {extra} extra receptions ({:.1} per kill)",
                    thousands(count as f64),
                    pct(duplicated, count),
                    if kills == 0 { 0.0 } else { extra as f64 / kills as f64 }
                ),
            ),
            ("alerting --kill: duplicated per kind".into(), per_kind.join(", ")),
            (
                "alerting --kill: duplicates the provider can deduplicate".into(),
                format!(
                    "{}; {undeduplicable} duplicates reach slack, discord, teams, telegram or ntfy, which cannot",
                    dedup.join(", ")
                ),
            ),
            ("alerting --kill: unrecognised requests at the fake providers".into(), unrecognised.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reception(dedup: Option<&str>) -> Reception {
        Reception { at: Instant::now(), dedup: dedup.map(str::to_string) }
    }

    #[test]
    fn the_tally_tells_lost_duplicated_and_deduplicable_alerts_apart() {
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        let planned = [
            Planned { notification: ids[0], n: 1, kind: 0 }, // webhook, twice, same id
            Planned { notification: ids[1], n: 2, kind: 1 }, // slack, three times
            Planned { notification: ids[2], n: 3, kind: 7 }, // email, never, pending
            Planned { notification: ids[3], n: 4, kind: 5 }, // pagerduty, once
        ];
        let states: HashMap<Uuid, String> =
            [(ids[0], "delivered"), (ids[1], "delivered"), (ids[2], "pending"), (ids[3], "delivered")]
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect();
        let received: HashMap<u64, Vec<Reception>> = [
            (1, vec![reception(Some("a")), reception(Some("a"))]),
            (2, vec![reception(None), reception(None), reception(None)]),
            (4, vec![reception(Some("d"))]),
        ]
        .into_iter()
        .collect();
        let t = Tally::of(&planned, &states, &received);
        assert_eq!((t.delivered, t.pending, t.failed, t.lost, t.delivered_unreceived), (3, 1, 0, 1, 0));
        assert_eq!(t.per_kind[0], (1, 1, 1, 1));
        assert_eq!(t.per_kind[1], (1, 1, 2, 0));
        assert_eq!(t.per_kind[5], (1, 0, 0, 0));
        let rows = t.rows(4, 2, 0);
        assert!(
            rows[1].1.starts_with(
                "2 of 4 alerts received more than once (50.00 %), 3 extra receptions (1.5 per kill)"
            ),
            "{}",
            rows[1].1
        );
    }
}
