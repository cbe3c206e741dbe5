//! `upcheck-worker-notification`: channel delivery. Thin: settings, tracing, signals, run.

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    upcheck_runtime::worker_main("upcheck-worker-notification", upcheck_worker_notification::start).await
}
