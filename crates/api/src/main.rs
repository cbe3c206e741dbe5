//! `upcheck-api`: serves the REST API; `upcheck-api migrate` runs the migrations and exits.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    upcheck_config::install_crypto_provider();
    let settings = upcheck_runtime::load_settings_or_exit("upcheck-api");
    upcheck_runtime::init_tracing(&settings);
    match std::env::args().nth(1).as_deref() {
        Some("migrate") => {
            upcheck_store::migrate(&settings.database).await.context("migrate")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        None | Some("serve") => {
            if let Err(e) = settings.require_jwt_secret() {
                eprintln!("upcheck-api: {e}");
                std::process::exit(2);
            }
            let app = upcheck_api::Application::build(settings).await.context("start")?;
            tracing::info!(port = app.port(), "upcheck-api listening");
            app.run_until_stopped(upcheck_runtime::shutdown_token()).await?;
            tracing::info!("upcheck-api stopped");
            Ok(())
        }
        Some(other) => {
            eprintln!(
                "upcheck-api: unknown command {other:?}; use `upcheck-api` (serve) or `upcheck-api migrate`"
            );
            std::process::exit(2);
        }
    }
}
