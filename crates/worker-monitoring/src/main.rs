//! `upcheck-worker-monitoring`: schedules and probes monitors. Thin: settings, tracing, signals, run.

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    upcheck_runtime::worker_main("upcheck-worker-monitoring", upcheck_worker_monitoring::start).await
}
