//! `upcheck-worker-status-change`: incidents and fan-out. Thin: settings, tracing, signals, run.

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    upcheck_runtime::worker_main("upcheck-worker-status-change", upcheck_worker_status_change::start).await
}
