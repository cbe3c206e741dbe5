//! `upcheck-bench`: measures Upcheck on this machine and prints one table.
//!
//! Every Upcheck component runs as its release binary in a child process, so the CPU seconds
//! and peak RSS of each (read from `/proc`) can be told apart; each scenario runs in a
//! throwaway database and Redis key prefix on the Postgres and Redis at
//! `DATABASE_URL`/`REDIS_URL`. The probe target and the webhook receiver run inside the bench.
//!
//! Scenarios (`BENCHMARKS.md` describes each; `upcheck-bench <scenario> --help` lists the flags):
//! - `alert`: one monitor, its target flipped to failing `--rounds` times; flip → webhook.
//! - `throughput`: `--monitors` monitors at a 1 s interval, `--replicas` monitoring workers;
//!   checks stored per second, schedule lag, CPU per 1,000 checks and peak RSS per component,
//!   Redis memory per monitor; with `--flip N`, N more monitors (each with a webhook channel)
//!   are flipped to failing after the window, under the same load: flip → webhook p50/p99.
//! - `ceilings`: the target's raw rate under `wrk` (keep-alive, the probes' policy),
//!   `redis-benchmark` XADD, and Postgres `COPY` into `check_results`.
//! - `api`: `--checks` stored checks over `--api-monitors` monitors, then `wrk` against a
//!   single monitor, the monitor list and a monitor's `/stats`.
//! - `vigil`: the peer Vigil with `--monitors` HTTP probes against the same kind of target.
//! - `all` (also what runs without a subcommand): ceilings; throughput at `--monitors` with 1
//!   and 2 replicas and with Vigil's parallelism (`MONITORING_CONCURRENCY=64`), and at
//!   `--big-monitors` (100,000); alert under load at `--load-percent` of the best measured
//!   rate; Vigil at both monitor counts with the ratios; the API.
//! - `chaos`: 1,000 monitors at 1 s on a Postgres and a Redis of its own, 50 of them failing on
//!   a seeded schedule of outages and blips, while a random worker is SIGKILLed every 5 s,
//!   Redis is restarted once (from its AOF, or `--redis-restart empty`) and Postgres stopped
//!   `immediate` once; then lost transitions, duplicate and false incidents, alerts delivered,
//!   duplicate deliveries and detection/recovery delays against the schedule.
//!
//! - `kinds`: throughput three times in one run: plain HTTP, HTTP with one assertion, and the
//!   mix of kinds (70 % http with one assertion, 10 % each tcp, dns, tls); the CPU ratios.
//! - `heartbeat`: pings accepted per second by one API process, and missed deadline → webhook.
//! - `alerting`: notifications over the eight channel kinds to local fake providers: delivered
//!   per second and CPU per 1,000 for one notification worker, enqueue → provider latency idle
//!   and at 80 % load; `--kill`: two workers, one SIGKILLed at a time, then lost and duplicated
//!   alerts per kind.
//! - `signups`: a burst of `--signups` (2,000) sign-ups at one API process: its peak RSS,
//!   the answers by status and the slowest `/healthz` meanwhile.
//! - `status-page`: a published page's HTML, JSON (and 304s) and a badge: requests per second at
//!   4 and 32 connections and the Postgres transactions they cost; the live feed's publish →
//!   arrival latency over open page streams under that load.
//!
//! Every scenario takes `--set VARIABLE=value` (repeatable) for the components' settings on top
//! of the shipped defaults. Build first: `cargo build --release --workspace --bins`.

mod cli;
mod procs;
mod report;
mod scenarios;
mod stack;
mod stats;
mod tools;

use clap::Parser;
use cli::{Cli, Scenario};
use scenarios::{
    alert, alerting, all, api, ceilings, chaos, heartbeat, kinds, signups, status_page, throughput, vigil,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    upcheck_config::install_crypto_provider();
    let mut rows = vec![("machine".to_string(), report::machine())];
    match cli.scenario.unwrap_or(Scenario::All(cli.all)) {
        Scenario::Alert(a) => rows.extend(alert::run(&a).await?),
        Scenario::Throughput(a) => rows.extend(throughput::run(&a).await?.rows),
        Scenario::Ceilings(a) => rows.extend(ceilings::run(&a).await?.0),
        Scenario::Api(a) => rows.extend(api::run(&a).await?),
        Scenario::Vigil(a) => rows.extend(vigil::run(&a.window, a.monitors).await?.rows),
        Scenario::All(a) => rows.extend(all::run(&a).await?),
        Scenario::Chaos(a) => rows.extend(chaos::run(&a).await?),
        Scenario::Kinds(a) => rows.extend(kinds::run(&a).await?),
        Scenario::Heartbeat(a) => rows.extend(heartbeat::run(&a).await?),
        Scenario::Alerting(a) => rows.extend(alerting::run(&a).await?),
        Scenario::Signups(a) => rows.extend(signups::run(&a).await?),
        Scenario::StatusPage(a) => rows.extend(status_page::run(&a).await?),
    }
    report::print(&rows);
    Ok(())
}
