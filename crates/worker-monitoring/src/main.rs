//! `upcheck-worker-monitoring`: schedules and probes monitors. Thin: command line, settings, tracing, signals, run.

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let binary = upcheck_runtime::cli::Binary {
        name: "upcheck-worker-monitoring",
        version: env!("CARGO_PKG_VERSION"),
        about: "Upcheck's monitoring worker: claims due monitors from the schedule, probes them and stores each check and status change",
    };
    upcheck_runtime::worker_main(binary, upcheck_worker_monitoring::start).await
}
