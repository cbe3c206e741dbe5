//! `kinds`: throughput three times in one run — plain HTTP (status code only), HTTP with one
//! assertion, and the mix of kinds (70 % http with one assertion, 10 % each tcp, dns, tls) —
//! and the CPU per check of each against plain HTTP.

use crate::cli::{KindsArgs, Mix, ThroughputArgs};
use crate::report::Rows;
use crate::scenarios::throughput;

/// The three runs and their ratios.
pub(crate) async fn run(a: &KindsArgs) -> anyhow::Result<Rows> {
    let at = |mix| ThroughputArgs {
        monitors: a.monitors,
        replicas: 1,
        flip: 0,
        mix,
        redis_cluster: false,
        shards: 1,
        window: a.window.clone(),
        overrides: a.overrides.clone(),
    };
    let mut rows = Rows::new();
    let plain = throughput::run(&at(Mix::Http)).await?;
    rows.extend(plain.rows.clone());
    let asserted = throughput::run(&at(Mix::HttpAssert)).await?;
    rows.extend(asserted.rows.clone());
    let mixed = throughput::run(&at(Mix::Kinds)).await?;
    rows.extend(mixed.rows.clone());
    for (what, t) in [("http with one assertion", &asserted), ("the mix of kinds", &mixed)] {
        rows.push((
            format!("{what} ÷ plain http: CPU per check (monitoring worker / whole pipeline)"),
            format!(
                "{:.2} / {:.2} ({:.1} / {:.1} ms per 1,000 checks against {:.1} / {:.1})",
                t.worker_cpu_ms / plain.worker_cpu_ms,
                t.pipeline_cpu_ms / plain.pipeline_cpu_ms,
                t.worker_cpu_ms,
                t.pipeline_cpu_ms,
                plain.worker_cpu_ms,
                plain.pipeline_cpu_ms
            ),
        ));
    }
    Ok(rows)
}
