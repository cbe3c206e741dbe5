//! What the chaos scenario reads back after settling: incidents, status events and counts from
//! Postgres, and the webhook receiver's requests, with times in ms from the window's start.

use super::truth;
use anyhow::Context;
use std::time::Instant;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upcheck_testkit::{TestEnv, WebhookReceiver};

/// What Postgres holds after the settle period.
pub(crate) struct Records {
    pub(crate) incidents: Vec<truth::Incident>,
    pub(crate) events: Vec<truth::Event>,
    pub(crate) checks: i64,
    /// Checks stored in each whole second of the window (by `checked_at`), in order.
    pub(crate) per_second: Vec<i64>,
    /// Schedule lag (`checked_at − due_at`) p50, p99 and max over the window, ms.
    pub(crate) lag_ms: [f64; 3],
    /// Check rows beyond one per (monitor, due time): a job scheduled twice.
    pub(crate) double_checks: i64,
    pub(crate) unapplied_events: i64,
    pub(crate) undelivered: i64,
}

impl Records {
    pub(crate) async fn read(env: &TestEnv, t0: OffsetDateTime, end: OffsetDateTime) -> anyhow::Result<Self> {
        let ms = |at: OffsetDateTime| (at - t0).whole_milliseconds() as i64;
        let db = env.pool.get().await.context("Postgres after the chaos")?;
        let incidents = db
            .query("SELECT id, monitor_id, opened_at, resolved_at FROM incidents", &[])
            .await?
            .iter()
            .map(|r| truth::Incident {
                id: r.get(0),
                monitor: r.get(1),
                opened_ms: ms(r.get(2)),
                resolved_ms: r.get::<_, Option<OffsetDateTime>>(3).map(ms),
            })
            .collect();
        let events = db
            .query(
                "SELECT monitor_id, from_status, to_status, occurred_at FROM status_events \
                 WHERE certificate IS NULL AND degraded IS NULL",
                &[],
            )
            .await?
            .iter()
            .map(|r| truth::Event { monitor: r.get(0), from: r.get(1), to: r.get(2), at_ms: ms(r.get(3)) })
            .collect();
        let count = |sql: &'static str| {
            let db = &db;
            async move { anyhow::Ok(db.query_one(sql, &[]).await?.get::<_, i64>(0)) }
        };
        let checks: i64 = db
            .query_one(
                "SELECT count(*) FROM check_results WHERE checked_at >= $1 AND checked_at < $2",
                &[&t0, &end],
            )
            .await?
            .get(0);
        let per_second: Vec<i64> = db
            .query(
                // One pass over the window's checks (a sub-select per second scanned the table
                // once a second: past Postgres's statement timeout at 10 minutes of 1,000/s).
                "SELECT s, coalesce(c.n, 0) \
                 FROM generate_series(0, floor(extract(epoch FROM $2::timestamptz - $1::timestamptz))::int - 1) AS s \
                 LEFT JOIN (SELECT floor(extract(epoch FROM checked_at - $1::timestamptz))::int AS sec, count(*) AS n \
                            FROM check_results WHERE checked_at >= $1 AND checked_at < $2 GROUP BY 1) c ON c.sec = s \
                 ORDER BY s",
                &[&t0, &end],
            )
            .await?
            .iter()
            .map(|r| r.get(1))
            .collect();
        let lag = db
            .query_one(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM checked_at - due_at) * 1000), \
                        percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM checked_at - due_at) * 1000), \
                        max(extract(epoch FROM checked_at - due_at) * 1000)::float8 \
                 FROM check_results WHERE checked_at >= $1 AND checked_at < $2",
                &[&t0, &end],
            )
            .await?;
        let lag_ms = [0, 1, 2].map(|i| lag.get::<_, Option<f64>>(i).unwrap_or(f64::NAN));
        let double_checks: i64 = db
            .query_one(
                "SELECT coalesce(sum(n - 1), 0)::bigint FROM \
                   (SELECT count(*) AS n FROM check_results GROUP BY monitor_id, due_at HAVING count(*) > 1) d",
                &[],
            )
            .await?
            .get(0);
        Ok(Self {
            incidents,
            events,
            checks,
            per_second,
            lag_ms,
            double_checks,
            unapplied_events: count("SELECT count(*) FROM status_events WHERE applied_at IS NULL").await?,
            undelivered: count("SELECT count(*) FROM notifications WHERE state <> 'delivered'").await?,
        })
    }
}

/// The receiver's requests as deliveries, times in ms from the window's start.
pub(crate) fn deliveries(
    receiver: &WebhookReceiver,
    t0: Instant,
    t0_wall: OffsetDateTime,
) -> Vec<truth::Delivery> {
    receiver
        .received()
        .iter()
        .filter_map(|h| {
            let body: serde_json::Value = serde_json::from_slice(&h.body).ok()?;
            let occurred = OffsetDateTime::parse(body["occurred_at"].as_str()?, &Rfc3339).ok()?;
            let received_ms = match h.at.checked_duration_since(t0) {
                Some(d) => d.as_secs_f64() * 1_000.0,
                None => -(t0 - h.at).as_secs_f64() * 1_000.0,
            };
            Some(truth::Delivery {
                webhook_id: h.header("webhook-id")?.to_string(),
                event_id: body["event_id"].as_str()?.to_string(),
                kind: body["type"].as_str()?.to_string(),
                monitor: body["monitor"]["id"].as_str()?.parse().ok()?,
                occurred_ms: (occurred - t0_wall).whole_milliseconds() as i64,
                received_ms,
            })
        })
        .collect()
}
