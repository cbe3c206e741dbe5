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

/// `upcheck-api [serve|migrate|rotate-secrets|healthcheck|gen-secret --out PATH]`.
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
    /// Seal every channel config and monitor header set under the current key, then exit
    ///
    /// Reads rows sealed under an old key (SECRETS_OLD_KEYS) or stored in clear (written
    /// before secrets were sealed) and seals them under SECRETS_KEY / SECRETS_KEY_ID, in
    /// batches; rows already under the current key are not touched, so it can run again at
    /// any time. Prints the counts. The monitoring workers' next reconcile
    /// (RECONCILE_INTERVAL_SECONDS) rewrites the Redis specs from Postgres; keep the old key
    /// listed until then and until the check jobs already queued are drained. Exit 0 when
    /// every row is under the current key, 1 when some row could not be opened (each is named).
    #[command(verbatim_doc_comment)]
    RotateSecrets {
        /// Rows read and written per batch
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        batch: i64,
    },
    /// Probe the running API's /healthz (for container health checks)
    ///
    /// GET http://127.0.0.1:PORT/healthz with a 3 s timeout: exit 0 when it answers 200, else 1.
    /// Reads the same settings as `serve`, but not the JWT secret.
    #[command(verbatim_doc_comment)]
    Healthcheck,
    /// Write a random secret to PATH once, for JWT_SECRET_FILE or SECRETS_KEY_FILE
    ///
    /// 32 random bytes as 64 hex digits (--format hex, for JWT_SECRET_FILE) or in base64
    /// (--format base64, for SECRETS_KEY_FILE), mode 0600; a PATH that exists is left as it
    /// is, so later runs keep the secret. Reads no settings. Exit 0 when PATH exists
    /// afterwards, 1 on an I/O error.
    #[command(verbatim_doc_comment)]
    GenSecret {
        /// The file to write
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// How the 32 bytes are written
        #[arg(long, value_enum, default_value_t = crate::gen_secret::Format::Hex)]
        format: crate::gen_secret::Format,
    },
}

/// The whole `main` of `upcheck-api`: parses the command line, then runs the subcommand.
///
/// # Errors
/// When the migrations fail, or the server fails to start or to run.
pub async fn main() -> anyhow::Result<ExitCode> {
    match upcheck_runtime::cli::parse::<Cli>(&BINARY).command.unwrap_or(Command::Serve) {
        // Before the settings: the one-shot service that runs it has no DATABASE_URL.
        Command::GenSecret { out, format } => Ok(crate::gen_secret::run(&out, format)),
        Command::Healthcheck => Ok(upcheck_runtime::healthcheck(BINARY.name, settings().port).await),
        Command::Migrate => migrate(settings()).await,
        Command::RotateSecrets { batch } => rotate_secrets(settings(), batch).await,
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

async fn rotate_secrets(settings: Settings, batch: i64) -> anyhow::Result<ExitCode> {
    let keys = match settings.require_keyring(BINARY.name) {
        Ok(keys) => keys.clone(),
        Err(e) => {
            eprintln!("{}: {e}", BINARY.name);
            return Ok(ExitCode::from(2));
        }
    };
    upcheck_runtime::init_tracing(&settings);
    let pool = upcheck_store::connect_pool(&settings.database).context("database")?;
    let channels = upcheck_store::reseal::reseal_channels(&pool, &keys, batch).await.context("channels")?;
    let monitors =
        upcheck_store::reseal::reseal_monitor_headers(&pool, &keys, batch).await.context("monitors")?;
    let key = keys.current_id();
    for (what, done) in [("channel configs", &channels), ("monitor header sets", &monitors)] {
        println!(
            "{what}: {} sealed under {key}, {} changed meanwhile (sealed by their writer), {} could not be opened",
            done.resealed,
            done.skipped,
            done.failed.len()
        );
        for why in &done.failed {
            println!("  {why}");
        }
    }
    if channels.failed.is_empty() && monitors.failed.is_empty() {
        println!("every secret is under key {key}; the Redis specs follow at the next reconcile");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
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
    if let Err(e) = settings.require_keyring(BINARY.name) {
        eprintln!("{}: {e}", BINARY.name);
        return Ok(ExitCode::from(2));
    }
    let app = crate::Application::build(settings).await.context("start")?;
    tracing::info!(port = app.port(), metrics_port = app.metrics_port(), "upcheck-api listening");
    app.run_until_stopped(upcheck_runtime::shutdown_token()).await?;
    tracing::info!("upcheck-api stopped");
    Ok(ExitCode::SUCCESS)
}
