//! `upcheck-worker-notification`: channel delivery. Thin: command line, settings, tracing, signals, run.

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let binary = upcheck_runtime::cli::Binary {
        name: "upcheck-worker-notification",
        version: env!("CARGO_PKG_VERSION"),
        about: "Upcheck's notification worker: delivers alerts over webhook, Slack, Discord, Teams, Telegram, PagerDuty and ntfy channels, retries with backoff, dead-letters after the last attempt",
    };
    upcheck_runtime::worker_main(binary, upcheck_worker_notification::start).await
}
