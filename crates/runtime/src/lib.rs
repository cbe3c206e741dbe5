//! Process plumbing shared by Upcheck's four binaries: tracing set-up, a cancellation token
//! wired to SIGTERM/SIGINT, the workers' `/healthz`, `/readyz` and `/metrics` server, and the
//! command line ([`cli`]) and `healthcheck` subcommand every binary has.

pub mod cli;
mod health;
pub mod metrics;
mod periodic;
mod telemetry;

pub use health::{HealthServer, Readiness};
use metrics::{GroupRef, Scrape};
pub use periodic::every;
pub use telemetry::{DEFAULT_TRACES_FILTER, Telemetry, TelemetryError, init_telemetry};

/// A started worker: its health server and its loops.
pub struct RunningWorker {
    health: HealthServer,
    tasks: tokio::task::JoinSet<()>,
    drain: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningWorker {
    /// `tasks` stop on cancellation; `drain` are awaited after them (e.g. a writer that ends
    /// once the consumers holding its senders are gone).
    pub fn new(
        health: HealthServer,
        tasks: tokio::task::JoinSet<()>,
        drain: Vec<tokio::task::JoinHandle<()>>,
    ) -> Self {
        Self { health, tasks, drain }
    }

    /// Serves `/healthz`, `/readyz` and `/metrics` on `BIND_ADDRESS:HEALTH_PORT` for a worker
    /// consuming `groups` whose loops are `tasks` (and `drain`, see [`RunningWorker::new`]).
    ///
    /// # Errors
    /// The bind error, when the port is taken.
    pub fn start(
        settings: &Settings,
        readiness: Readiness,
        groups: Vec<GroupRef>,
        tasks: tokio::task::JoinSet<()>,
        drain: Vec<tokio::task::JoinHandle<()>>,
    ) -> std::io::Result<Self> {
        let scrape =
            Scrape { pool: Some(readiness.pool.clone()), redis: Some(readiness.redis.clone()), groups };
        let health = HealthServer::start(&settings.bind_address, settings.health_port, readiness, scrape)?;
        Ok(Self::new(health, tasks, drain))
    }

    /// The port `/healthz` and `/readyz` are served on.
    pub fn health_port(&self) -> u16 {
        self.health.port
    }

    /// Waits until every loop has stopped (after cancellation) and in-flight work is done.
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
        for d in self.drain {
            let _ = d.await;
        }
        self.health.stop().await;
    }
}

use tokio_util::sync::CancellationToken;
use upcheck_config::{LogFormat, Settings};

/// Installs the global tracing subscriber: `RUST_LOG` filter (default `info`), JSON lines when
/// `LOG_FORMAT=json`. A second call is a no-op.
pub fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The `healthcheck` subcommand (for a container's `HEALTHCHECK`, whose image has no curl):
/// `GET http://127.0.0.1:<port>/healthz` with a 3 s timeout. Returns exit status 0 when it
/// answers 200, else 1 after printing why on stderr.
pub async fn healthcheck(binary: &str, port: u16) -> std::process::ExitCode {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let client = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{binary} healthcheck: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => std::process::ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("{binary} healthcheck: {url} answered {}", r.status());
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{binary} healthcheck: {url}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The whole `main` of a worker binary: parses the command line ([`cli::WorkerCli`]; `--help`
/// and `--version` need no settings), then `<binary> healthcheck` probes the running worker's
/// `/healthz` on `HEALTH_PORT`; `<binary>` (or `<binary> run`) starts the worker with `start`
/// and runs it until SIGTERM/SIGINT, then drains. Exit status 2 for bad settings or usage.
///
/// # Errors
/// What `start` returns.
pub async fn worker_main<F, Fut>(binary: cli::Binary, start: F) -> anyhow::Result<std::process::ExitCode>
where
    F: FnOnce(Settings, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<RunningWorker>>,
{
    let command = cli::parse::<cli::WorkerCli>(&binary).command.unwrap_or(cli::WorkerCommand::Run);
    let name = binary.name;
    upcheck_config::install_crypto_provider();
    let settings = load_settings_or_exit(name);
    if command == cli::WorkerCommand::Healthcheck {
        return Ok(healthcheck(name, settings.health_port).await);
    }
    let telemetry = init_telemetry_or_exit(name, &settings);
    metrics::install();
    let cancel = shutdown_token();
    let worker = match start(settings, cancel).await {
        Ok(worker) => worker,
        Err(e) => {
            telemetry.shutdown().await;
            return Err(e);
        }
    };
    worker.wait().await;
    tracing::info!("{name} stopped");
    telemetry.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// [`init_telemetry`], or exits with status 2 after printing one line
/// `<binary>: <VARIABLE>: <why>`.
pub fn init_telemetry_or_exit(binary: &str, settings: &Settings) -> Telemetry {
    match init_telemetry(binary, settings) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{binary}: {e}");
            std::process::exit(2);
        }
    }
}

/// A token cancelled on the first SIGTERM or SIGINT (Ctrl-C).
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received: finishing in-flight work");
        child.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Loads settings or exits with status 2 after printing one line `<binary>: <VARIABLE>: <why>`.
pub fn load_settings_or_exit(binary: &str) -> Settings {
    match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{binary}: {e}");
            std::process::exit(2);
        }
    }
}

/// How a handler reports a store failure, by [`upcheck_store::StoreError::is_permanent`]: data
/// and constraint errors and corrupt rows can never succeed (dead-letter the message at once);
/// anything else (Postgres down, a serialization failure, a deadlock, a pool time-out) is
/// retried.
pub fn store_failure(e: upcheck_store::StoreError) -> upcheck_streams::HandleError {
    if e.is_permanent() {
        upcheck_streams::HandleError::permanent(e)
    } else {
        upcheck_streams::HandleError::retryable(e)
    }
}

/// Connects to Redis, retrying with backoff until it answers or `cancel` fires.
///
/// # Errors
/// When cancelled before Redis answered, or the settings cannot make a client.
pub async fn connect_redis(
    settings: &Settings,
    cancel: &CancellationToken,
) -> anyhow::Result<upcheck_streams::RedisConns> {
    let mut backoff = upcheck_domain::backoff::Backoff::new(200, 5_000);
    loop {
        match upcheck_streams::connect(&settings.redis).await {
            Ok(c) => return Ok(c),
            Err(upcheck_streams::StreamError::Config(e)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(endpoint = %settings.redis.redacted_endpoint(), error = %e, "redis unavailable; retrying")
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => anyhow::bail!("cancelled while waiting for Redis"),
            _ = tokio::time::sleep(backoff.next_delay()) => {},
        }
    }
}
