//! `upcheck-worker-status-change`: incidents and fan-out. Thin: command line, settings, tracing, signals, run.

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let binary = upcheck_runtime::cli::Binary {
        name: "upcheck-worker-status-change",
        version: env!("CARGO_PKG_VERSION"),
        about: "Upcheck's status-change worker: opens and resolves incidents and queues one notification per channel",
    };
    upcheck_runtime::worker_main(binary, upcheck_worker_status_change::start).await
}
