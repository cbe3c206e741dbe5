//! `upcheck-api`'s command line and what each subcommand does; `main.rs` only calls [`main`].
//! The command line is parsed before any setting is read, so `--help`, `--version` and
//! `gen-secret` work with an empty environment.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use upcheck_config::Settings;
use upcheck_runtime::cli::Binary;

/// The binary's name, version and one-line description.
pub const BINARY: Binary = Binary {
    name: "upcheck-api",
    version: env!("CARGO_PKG_VERSION"),
    about: "Upcheck's REST API: users, monitors, checks, incidents and notification channels",
};

/// `upcheck-api [serve|migrate|healthcheck|gen-secret --out PATH]`.
#[derive(Debug, Parser)]
pub struct Cli {
    /// What to do; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The API's subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the REST API until SIGTERM or SIGINT, then finish in-flight requests (the default)
    ///
    /// The API, /healthz and /readyz on BIND_ADDRESS:PORT; /metrics on
    /// METRICS_BIND_ADDRESS:METRICS_PORT. Needs DATABASE_URL, REDIS_URL (or REDIS_ADDR) and
    /// JWT_SECRET (or JWT_SECRET_FILE). LOG_FORMAT and RUST_LOG shape the logs; with
    /// OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported there over OTLP/HTTP.
    #[command(verbatim_doc_comment)]
    Serve,
    /// Apply the database migrations to DATABASE_URL, then exit
    Migrate,
    /// Probe the running API's /healthz (for container health checks)
    ///
    /// GET http://127.0.0.1:PORT/healthz with a 3 s timeout: exit 0 when it answers 200, else 1.
    /// Reads the same settings as `serve`, but not the JWT secret.
    #[command(verbatim_doc_comment)]
    Healthcheck,
    /// Write a random JWT secret to PATH once, for JWT_SECRET_FILE
    ///
    /// 32 random bytes as 64 hex digits, mode 0600; a PATH that exists is left as it is, so later
    /// runs keep the secret. Reads no settings. Exit 0 when PATH exists afterwards, 1 on an I/O
    /// error.
    #[command(verbatim_doc_comment)]
    GenSecret {
        /// The file to write
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

/// The whole `main` of `upcheck-api`: parses the command line, then runs the subcommand.
///
/// # Errors
/// When the migrations fail, or the server fails to start or to run.
pub async fn main() -> anyhow::Result<ExitCode> {
    match upcheck_runtime::cli::parse::<Cli>(&BINARY).command.unwrap_or(Command::Serve) {
        // Before the settings: the one-shot service that runs it has no DATABASE_URL.
        Command::GenSecret { out } => Ok(crate::gen_secret::run(&out)),
        Command::Healthcheck => Ok(upcheck_runtime::healthcheck(BINARY.name, settings().port).await),
        Command::Migrate => migrate(settings()).await,
        Command::Serve => serve(settings()).await,
    }
}

/// The settings, or exit 2 naming the one at fault.
fn settings() -> Settings {
    upcheck_config::install_crypto_provider();
    upcheck_runtime::load_settings_or_exit(BINARY.name)
}

async fn migrate(settings: Settings) -> anyhow::Result<ExitCode> {
    upcheck_runtime::init_tracing(&settings);
    upcheck_store::migrate(&settings.database).await.context("migrate")?;
    tracing::info!("migrations applied");
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let telemetry = upcheck_runtime::init_telemetry_or_exit(BINARY.name, &settings);
    let served = serve_traced(settings).await;
    telemetry.shutdown().await;
    served
}

async fn serve_traced(settings: Settings) -> anyhow::Result<ExitCode> {
    if let Err(e) = settings.require_jwt_secret() {
        eprintln!("{}: {e}", BINARY.name);
        return Ok(ExitCode::from(2));
    }
    let app = crate::Application::build(settings).await.context("start")?;
    tracing::info!(port = app.port(), metrics_port = app.metrics_port(), "upcheck-api listening");
    app.run_until_stopped(upcheck_runtime::shutdown_token()).await?;
    tracing::info!("upcheck-api stopped");
    Ok(ExitCode::SUCCESS)
}
