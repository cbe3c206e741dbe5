//! `upcheck-worker-monitoring`: schedules and probes monitors. Thin: settings, tracing, signals, run.

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    upcheck_runtime::worker_main("upcheck-worker-monitoring", upcheck_worker_monitoring::start).await
}
