//! `upcheck-api`: serves the REST API (and `/metrics` on `METRICS_PORT`); `upcheck-api migrate`
//! runs the migrations and exits; `upcheck-api healthcheck` probes a running API's `/healthz`
//! (for container health checks); `upcheck-api gen-secret --out PATH` writes a random JWT
//! secret to PATH unless it exists (for `JWT_SECRET_FILE`).

use anyhow::Context;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: under load the probes' many small, short-lived
/// allocations spent about a fifth of the monitoring worker's CPU in glibc's arena locks and
/// free-list upkeep (BENCHMARKS.md, "Profile and fixes").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("gen-secret") {
        // Before the settings: the one-shot service that runs it has no DATABASE_URL.
        return Ok(upcheck_api::gen_secret::main(&args[1..]));
    }
    upcheck_config::install_crypto_provider();
    let settings = upcheck_runtime::load_settings_or_exit("upcheck-api");
    let command = args.first().cloned();
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
                "upcheck-api: unknown command {other:?}; use `upcheck-api` (serve), `upcheck-api migrate`, `upcheck-api healthcheck` or `upcheck-api gen-secret --out PATH`"
            );
            Ok(ExitCode::from(2))
        }
    }
}
