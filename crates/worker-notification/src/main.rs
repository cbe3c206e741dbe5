//! `upcheck-worker-notification`: channel delivery. Thin: settings, tracing, signals, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    upcheck_config::install_crypto_provider();
    let settings = upcheck_runtime::load_settings_or_exit("upcheck-worker-notification");
    upcheck_runtime::init_tracing(&settings);
    let cancel = upcheck_runtime::shutdown_token();
    let worker = upcheck_worker_notification::start(settings, cancel).await?;
    worker.wait().await;
    tracing::info!("notification worker stopped");
    Ok(())
}
