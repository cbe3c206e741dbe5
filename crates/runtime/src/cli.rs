//! The command line the four binaries share: `--help`, `--version` and the subcommands, parsed
//! with clap before any setting is read, so that both flags work with an empty environment.

use clap::{Parser, Subcommand};

/// What every binary's `--help` says after its subcommands: where settings come from.
pub const SETTINGS_HELP: &str = "\
Settings come from the environment, over an optional TOML file named by UPCHECK_CONFIG
(keys are the variable names in lower case), over built-in defaults; the table under
\"Configuration\" in README.md lists them all. A missing or malformed setting stops
start-up with exit status 2 and one line naming it; --help and --version read none.
`help <COMMAND>` says what a command does and which settings it needs.";

/// Who a binary is, for its `--help` and `--version`.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The executable's name, e.g. `upcheck-worker-monitoring`.
    pub name: &'static str,
    /// Its version: the binary crate's `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One line saying what it does.
    pub about: &'static str,
}

/// Parses the process's arguments into `P` under `binary`'s name, version and description,
/// with [`SETTINGS_HELP`] closing `--help`. `--help` and `--version` print and exit 0; a usage
/// error (an unknown subcommand or flag) prints clap's message and exits 2.
pub fn parse<P: Parser>(binary: &Binary) -> P {
    let matches = P::command()
        .name(binary.name)
        .bin_name(binary.name)
        .version(binary.version)
        .about(binary.about)
        .after_help(SETTINGS_HELP)
        .propagate_version(true)
        .get_matches();
    P::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// A worker's command line: `<binary> [run|healthcheck]`.
#[derive(Debug, Parser)]
pub struct WorkerCli {
    /// What to do; `run` when absent.
    #[command(subcommand)]
    pub command: Option<WorkerCommand>,
}

/// A worker's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum WorkerCommand {
    /// Run the worker until SIGTERM or SIGINT, then finish in-flight work (the default)
    ///
    /// Needs DATABASE_URL and REDIS_URL (or REDIS_ADDR); serves /healthz, /readyz and /metrics on
    /// BIND_ADDRESS:HEALTH_PORT. LOG_FORMAT and RUST_LOG shape the logs; with
    /// OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported there over OTLP/HTTP.
    #[command(verbatim_doc_comment)]
    Run,
    /// Probe the running worker's /healthz (for container health checks)
    ///
    /// GET http://127.0.0.1:HEALTH_PORT/healthz with a 3 s timeout: exit 0 when it answers 200,
    /// else 1. Reads the same settings as `run`.
    #[command(verbatim_doc_comment)]
    Healthcheck,
}
