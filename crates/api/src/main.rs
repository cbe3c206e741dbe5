//! `upcheck-api`: serves the REST API (and `/metrics` on `METRICS_PORT`); `upcheck-api migrate`
//! runs the migrations and exits; `upcheck-api healthcheck` probes a running API's `/healthz`
//! (for container health checks).

use anyhow::Context;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    upcheck_config::install_crypto_provider();
    let settings = upcheck_runtime::load_settings_or_exit("upcheck-api");
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("healthcheck") {
        return Ok(upcheck_runtime::healthcheck("upcheck-api", settings.port).await);
    }
    upcheck_runtime::init_tracing(&settings);
    match command.as_deref() {
        Some("migrate") => {
            upcheck_store::migrate(&settings.database).await.context("migrate")?;
            tracing::info!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        None | Some("serve") => {
            if let Err(e) = settings.require_jwt_secret() {
                eprintln!("upcheck-api: {e}");
                std::process::exit(2);
            }
            let app = upcheck_api::Application::build(settings).await.context("start")?;
            tracing::info!(port = app.port(), metrics_port = app.metrics_port(), "upcheck-api listening");
            app.run_until_stopped(upcheck_runtime::shutdown_token()).await?;
            tracing::info!("upcheck-api stopped");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => {
            eprintln!(
                "upcheck-api: unknown command {other:?}; use `upcheck-api` (serve), `upcheck-api migrate` or `upcheck-api healthcheck`"
            );
            Ok(ExitCode::from(2))
        }
    }
}
