//! `alert`: one monitor on an idle stack, its target flipped to failing `--rounds` times; the
//! time from each flip to the `monitor.down` webhook.

use crate::cli::AlertArgs;
use crate::report::Rows;
use crate::stack::{Stack, schedule_random_phases};
use crate::stats::{now_ms, p50_p99_max};
use std::time::{Duration, Instant};
use upcheck_testkit::fixtures::{monitor, spec, user, webhook_channel};
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver};
use uuid::Uuid;

/// Time from a target flipping to failing until the `monitor.down` webhook arrives, per round,
/// with one monitor and nothing else running.
pub(crate) async fn run(a: &AlertArgs) -> anyhow::Result<Rows> {
    let rounds = a.rounds;
    let env = TestEnv::with_env(&a.overrides.vars()).await;
    let target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let owner = user(&env).await;
    let s = spec(&target.url);
    monitor(&env, owner, &s).await;
    webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
    schedule_random_phases(&env, std::slice::from_ref(&s), now_ms()).await?;
    let stack = Stack::start(&env, 1).await?;
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        let deadline = Instant::now() + Duration::from_secs(30);
        while upcheck_testkit::fixtures::status(&env, s.monitor_id).await != "up" {
            anyhow::ensure!(Instant::now() < deadline, "monitor never came up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Flip at a random phase within the check interval.
        tokio::time::sleep(Duration::from_millis((Uuid::new_v4().as_u128() % 1_000) as u64)).await;
        let seen = receiver.received().len();
        let flipped = Instant::now();
        target.set_status(500);
        let arrived = loop {
            if let Some(h) = receiver.received()[seen..].iter().find(|h| h.json()["type"] == "monitor.down") {
                break h.at;
            }
            anyhow::ensure!(flipped.elapsed() < Duration::from_secs(30), "no down webhook within 30 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        latencies.push((arrived - flipped).as_secs_f64() * 1000.0);
        target.set_status(200);
    }
    stack.stop().await;
    latencies.sort_by(f64::total_cmp);
    Ok(vec![
        (
            format!("alert, idle: flip → webhook p50 / p99 / max ({rounds} rounds)"),
            format!("{} ms", p50_p99_max(&latencies)),
        ),
        ("alert: bound interval × failure_threshold + 500 ms".into(), "2,500 ms".into()),
    ])
}
