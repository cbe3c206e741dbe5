//! `all`: the ceilings; throughput at `--monitors` with 1 and 2 replicas and with Vigil's
//! parallelism, and at `--big-monitors`; alert under load at `--load-percent` of the best
//! measured rate; Vigil at both monitor counts with the ratios; the API.

use super::{api, ceilings, throughput, vigil};
use crate::cli::{AllArgs, ApiArgs, CeilingsArgs, ThroughputArgs, Window};
use crate::report::{Rows, thousands};

pub(crate) async fn run(a: &AllArgs) -> anyhow::Result<Rows> {
    let mut rows = Rows::new();
    let (ceiling_rows, probe_ceiling) = ceilings::run(&CeilingsArgs { seconds: a.window.seconds }).await?;
    rows.extend(ceiling_rows);
    let at = |monitors: usize, replicas: u16, flip: usize| ThroughputArgs {
        mix: crate::cli::Mix::Http,
        monitors,
        replicas,
        flip,
        redis_cluster: false,
        shards: 1,
        window: a.window.clone(),
        overrides: a.overrides.clone(),
    };
    let one = throughput::run(&at(a.monitors, 1, 0)).await?;
    rows.extend(one.rows.clone());
    let two = throughput::run(&at(a.monitors, 2, 0)).await?;
    rows.extend(two.rows.clone());
    // Vigil's parallelism: as many probes in flight as Vigil's 64 threads.
    let mut matched = at(a.monitors, 1, 0);
    matched.overrides = a.overrides.with("MONITORING_CONCURRENCY", "64");
    let one_matched = throughput::run(&matched).await?;
    rows.extend(one_matched.rows.clone());
    // Every monitor's first check is a pending → up transition: warm up past them. 100,000 of
    // them took 119–135 s to apply here on 2026-12-07 while the checks ran at full rate (the
    // run's "first transitions" row tells), so 2 ms per monitor.
    let mut big_args = at(a.big_monitors, 1, 0);
    big_args.window.warmup = a.window.warmup.max((a.big_monitors / 500) as u64);
    let big = throughput::run(&big_args).await?;
    rows.extend(big.rows.clone());
    let capacity = one.checks_per_second.max(big.checks_per_second);
    rows.push((
        "pipeline capacity (checks stored per second, best of the runs) ÷ probe ceiling".into(),
        format!(
            "{} ÷ {} = {:.0} %",
            thousands(capacity),
            thousands(probe_ceiling),
            capacity * 100.0 / probe_ceiling
        ),
    ));
    let flip = if a.flip > 0 { a.flip } else { 100 };
    let load = (capacity * a.load_percent as f64 / 100.0) as usize;
    rows.push((
        format!("alert under load: load is {} % of capacity", a.load_percent),
        format!("{} monitors × 1 s", thousands(load as f64)),
    ));
    rows.extend(throughput::run(&at(load.saturating_sub(flip).max(1), 1, flip)).await?.rows);
    let window = Window { seconds: a.window.seconds, warmup: a.window.warmup };
    for (up, up_matched, monitors) in [(&one, Some(&one_matched), a.monitors), (&big, None, a.big_monitors)] {
        let peer = vigil::run(&window, monitors).await?;
        rows.extend(peer.rows.clone());
        rows.extend(vigil::ratio_rows(up, &peer, monitors, ""));
        if let Some(m) = up_matched {
            rows.extend(vigil::ratio_rows(m, &peer, monitors, ", MONITORING_CONCURRENCY=64"));
        }
    }
    let api_args = ApiArgs {
        checks: a.checks,
        api_monitors: a.api_monitors,
        seconds: a.window.seconds,
        overrides: a.overrides.clone(),
    };
    rows.extend(api::run(&api_args).await?);
    Ok(rows)
}
