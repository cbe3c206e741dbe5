//! `upcheck-worker-monitoring`: schedules and probes monitors. Thin: settings, tracing, signals, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    upcheck_config::install_crypto_provider();
    let settings = upcheck_runtime::load_settings_or_exit("upcheck-worker-monitoring");
    upcheck_runtime::init_tracing(&settings);
    let cancel = upcheck_runtime::shutdown_token();
    let worker = upcheck_worker_monitoring::start(settings, cancel).await?;
    worker.wait().await;
    tracing::info!("monitoring worker stopped");
    Ok(())
}
