//! `upcheck-api`: serves the REST API (and `/metrics` on `METRICS_PORT`); `upcheck-api migrate`
//! runs the migrations and exits; `upcheck-api healthcheck` probes a running API's `/healthz`
//! (for container health checks); `upcheck-api gen-secret --out PATH` writes a random JWT
//! secret to PATH unless it exists (for `JWT_SECRET_FILE`). The command line is in
//! [`upcheck_api::cli`]; `upcheck-api --help` describes it.

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    upcheck_api::cli::main().await
}
