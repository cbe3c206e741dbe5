//! The command line: one subcommand per scenario and its flags (clap derive); no subcommand
//! runs `all` with the flags given.

use crate::stack::production_timings;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Measures Upcheck on this machine and prints one table (BENCHMARKS.md describes each
/// scenario). Build first: `cargo build --release --workspace --bins`.
#[derive(Parser, Debug)]
#[command(name = "upcheck-bench", version, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) scenario: Option<Scenario>,
    /// Without a subcommand: `all` with these flags.
    #[command(flatten)]
    pub(crate) all: AllArgs,
}

/// The scenarios.
#[derive(Subcommand, Debug)]
pub(crate) enum Scenario {
    /// One monitor, its target flipped to failing `--rounds` times: flip → webhook latency.
    Alert(AlertArgs),
    /// `--monitors` monitors at a 1 s interval: checks stored per second, schedule lag, CPU per
    /// 1,000 checks and peak RSS per component, Redis memory per monitor; `--flip N` adds N
    /// monitors flipped to failing under that load.
    Throughput(ThroughputArgs),
    /// The target under wrk, redis-benchmark XADD and Postgres COPY into check_results.
    Ceilings(CeilingsArgs),
    /// `--checks` stored checks over `--api-monitors` monitors, then wrk against the reads.
    Api(ApiArgs),
    /// `/stats` p99 at 32 connections over `--stats-monitors` monitors with `--days` days of 1 s
    /// history (raw for `--raw-days`, rollups for the rest): 24h, 7d, 30d, 90d, 365d, from/to.
    Stats(StatsArgs),
    /// The peer Vigil with `--monitors` HTTP probes against the same kind of target.
    Vigil(VigilArgs),
    /// Ceilings, throughput (1 and 2 replicas, Vigil's parallelism, `--big-monitors`), alert
    /// under load, Vigil and the ratios, the API.
    All(AllArgs),
    /// Faults at load on servers of its own: a worker SIGKILLed every few seconds, Redis and
    /// Postgres restarted once; then the outcome compared with the known outage schedule.
    Chaos(ChaosArgs),
    /// Throughput three times in one run: plain HTTP, HTTP with one assertion, and the mix of
    /// kinds (70 % http with one assertion, 10 % each tcp, dns, tls); the cost ratios.
    Kinds(KindsArgs),
    /// Heartbeat pings accepted per second by one API process (wrk over `--monitors` tokens),
    /// and the time from a missed deadline to the `down` webhook.
    Heartbeat(HeartbeatArgs),
    /// Deliveries over the eight channel kinds to local fake providers: notifications delivered
    /// per second by one notification worker and its CPU per 1,000, then enqueue → provider
    /// latency idle and at `--load-percent` of that rate; `--kill`: two workers, one SIGKILLed
    /// every `--kill-every-ms`, then alerts lost and duplicated, per kind.
    Alerting(AlertingArgs),
    /// A burst of `--signups` sign-ups at one API process: its peak RSS (`VmHWM`), the answers
    /// by status and the slowest `/healthz` meanwhile.
    Signups(SignupsArgs),
    /// A published status page: requests per second for its HTML, JSON (and 304s), a badge at
    /// 4 and 32 connections with the Postgres transactions they cost; then the live feed's
    /// publish → arrival latency over `--streams` open page streams under that load.
    StatusPage(StatusPageArgs),
}

/// `status-page`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct StatusPageArgs {
    /// Monitors on the page (at most 100, the page's limit).
    #[arg(long = "page-monitors", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) page_monitors: u64,
    /// Checks stored (COPY, one a second per monitor going back from now) before the reads.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) checks: u64,
    /// wrk's duration per row, in seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
    /// Page event streams held open during the live feed phase.
    #[arg(long, default_value_t = 200, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=5_000))]
    pub(crate) streams: usize,
    /// Status events published during the live feed phase.
    #[arg(long, default_value_t = 50, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub(crate) events: usize,
    /// Time between two published status events, ms.
    #[arg(long = "event-interval-ms", default_value_t = 200)]
    pub(crate) event_interval_ms: u64,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `signups`' flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct SignupsArgs {
    /// Sign-ups in the burst.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub(crate) signups: u64,
    /// Sign-ups in flight at once (each its own connection).
    #[arg(long, default_value_t = 2_000)]
    pub(crate) connections: usize,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `alerting`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct AlertingArgs {
    /// Notifications over the 8 kinds (default 4,000; 2,000 with `--kill`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(8..=1_000_000))]
    pub(crate) notifications: Option<u64>,
    /// Probe notifications in each latency phase (idle, loaded), over the 8 kinds.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(8..=100_000))]
    pub(crate) probes: u64,
    /// Background load of the second latency phase, in percent of the measured rate.
    #[arg(long = "load-percent", default_value_t = 80, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) load_percent: u64,
    /// The SIGKILL run instead: two workers in one group, one killed and restarted at a time.
    #[arg(long)]
    pub(crate) kill: bool,
    /// With `--kill`: a worker is SIGKILLed this often, the two in turn.
    #[arg(long = "kill-every-ms", default_value_t = 1_500, value_parser = clap::value_parser!(u64).range(100..))]
    pub(crate) kill_every_ms: u64,
    /// With `--kill`: alerts enqueued per second (paced), so that the kills fall while
    /// deliveries are in flight.
    #[arg(long = "kill-rate", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) kill_rate: u64,
    /// How long each fake HTTP provider takes to answer, in ms (default 0; 100 with `--kill`,
    /// about what real providers take, so that sends are in flight when a worker dies).
    #[arg(long = "provider-delay-ms", value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub(crate) provider_delay_ms: Option<u64>,
    /// Longest wait for every notification to be delivered, per run, in seconds.
    #[arg(long = "deadline-seconds", default_value_t = 300, value_parser = clap::value_parser!(u64).range(5..=3_600))]
    pub(crate) deadline_seconds: u64,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// What the monitors of a throughput run probe.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Mix {
    /// Plain HTTP GETs, status code only.
    #[default]
    Http,
    /// HTTP with one assertion each (`body_not_contains`).
    HttpAssert,
    /// 70 % http with one assertion, 10 % each tcp, dns (a DNS server in the bench) and tls (a
    /// TLS server in the bench, certificate from a bench CA).
    Kinds,
}

/// `kinds`' flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct KindsArgs {
    /// Monitors at a 1 s interval in each run.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) monitors: usize,
    #[command(flatten)]
    pub(crate) window: Window,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `heartbeat`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct HeartbeatArgs {
    /// Heartbeat monitors whose tokens wrk pings in turn (each token may ping `RATE_LIMIT_HEARTBEAT_PER_MINUTE` times a minute; the bench turns limits off).
    #[arg(long, default_value_t = 2_000)]
    pub(crate) monitors: usize,
    /// wrk's duration per connection count, in seconds.
    #[arg(long, default_value_t = 15)]
    pub(crate) seconds: u64,
    /// Heartbeats left silent after one ping, to time their missed deadline → webhook.
    #[arg(long, default_value_t = 100)]
    pub(crate) missed: usize,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// The measured window of a timed scenario.
#[derive(Args, Debug, Clone)]
pub(crate) struct Window {
    /// Length of the measured window, in seconds.
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
    /// Running time before the window opens, in seconds.
    #[arg(long = "warmup-seconds", value_name = "SECONDS", default_value_t = 10)]
    pub(crate) warmup: u64,
}

/// `--set VARIABLE=value`: settings the components get on top of the shipped defaults.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// A setting for every component, over the shipped defaults (repeatable).
    #[arg(long = "set", value_name = "VARIABLE=value", value_parser = parse_set)]
    pub(crate) sets: Vec<(String, String)>,
}

impl Overrides {
    /// The settings a scenario's environment gets: the shipped timings, then the `--set`s.
    pub(crate) fn vars(&self) -> Vec<(&str, &str)> {
        let mut o = production_timings();
        o.extend(self.sets.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        o
    }

    /// The same with one more setting on top.
    pub(crate) fn with(&self, variable: &str, value: &str) -> Self {
        let mut o = self.clone();
        o.sets.push((variable.into(), value.into()));
        o
    }
}

fn parse_set(raw: &str) -> Result<(String, String), String> {
    let (k, v) = raw.split_once('=').ok_or("takes VARIABLE=value")?;
    if k.is_empty() {
        return Err("the variable name is empty".into());
    }
    Ok((k.to_string(), v.to_string()))
}

/// `alert`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct AlertArgs {
    /// How many times the target is flipped to failing.
    #[arg(long, default_value_t = 10)]
    pub(crate) rounds: usize,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `throughput`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct ThroughputArgs {
    /// Monitors at a 1 s interval.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) monitors: usize,
    /// Monitoring workers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) replicas: u16,
    /// Extra monitors (each with a webhook channel) flipped to failing after the window.
    #[arg(long, default_value_t = 0)]
    pub(crate) flip: usize,
    /// What the monitors probe.
    #[arg(long, value_enum, default_value_t = Mix::Http)]
    pub(crate) mix: Mix,
    /// Runs on a throwaway three-master Redis Cluster (the local `redis-server`, on free
    /// loopback ports) instead of the one Redis at `REDIS_URL`.
    #[arg(long = "redis-cluster")]
    pub(crate) redis_cluster: bool,
    /// Schedule shards (`SCHEDULE_SHARDS`): sorted sets and monitoring streams, spread over a
    /// cluster's masters.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_024))]
    pub(crate) shards: u32,
    #[command(flatten)]
    pub(crate) window: Window,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `ceilings`' flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct CeilingsArgs {
    /// wrk's duration against the target, in seconds (at most 10 are used).
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
}

/// `api`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct ApiArgs {
    /// Checks stored (COPY) before the reads.
    #[arg(long, default_value_t = 10_000_000)]
    pub(crate) checks: u64,
    /// Monitors the checks are spread over.
    #[arg(long = "api-monitors", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) api_monitors: u64,
    /// wrk's duration per row, in seconds (at most 15 are used).
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `stats`' flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct StatsArgs {
    /// Monitors with a history.
    #[arg(long = "stats-monitors", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) stats_monitors: u64,
    /// Days of history (day and hour rollups).
    #[arg(long, default_value_t = 400)]
    pub(crate) days: u32,
    /// Days of raw 1 s checks (8.64 million rows per day at 100 monitors; retention keeps 30).
    #[arg(long = "raw-days", default_value_t = 2)]
    pub(crate) raw_days: u32,
    /// Days of minute rollups (`RETENTION_ROLLUP_MINUTE_DAYS`).
    #[arg(long = "minute-days", default_value_t = 90)]
    pub(crate) minute_days: u32,
    /// wrk's duration per window, in seconds.
    #[arg(long, default_value_t = 15)]
    pub(crate) seconds: u64,
    /// wrk's run before each window's measured one, in seconds, not counted (0: none): the API's
    /// rollup cache (`ROLLUP_CACHE_MB`) and Postgres's buffers then hold what that window reads.
    #[arg(long = "warmup-seconds", default_value_t = 5)]
    pub(crate) warmup_seconds: u64,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `vigil`'s flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct VigilArgs {
    /// HTTP probes (replicas of one poll node), each once a second.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) monitors: usize,
    #[command(flatten)]
    pub(crate) window: Window,
}

/// `all`'s flags (also the flags without a subcommand).
#[derive(Args, Debug, Clone)]
pub(crate) struct AllArgs {
    /// Monitors of the first throughput runs and of the first Vigil run.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) monitors: usize,
    /// Monitors of the large throughput run and the second Vigil run.
    #[arg(long = "big-monitors", default_value_t = 100_000)]
    pub(crate) big_monitors: usize,
    /// Monitors flipped in the alert-under-load run (0: 100).
    #[arg(long, default_value_t = 0)]
    pub(crate) flip: usize,
    /// Alert under load runs at this percentage of the measured capacity.
    #[arg(long = "load-percent", default_value_t = 80, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) load_percent: u64,
    /// Checks stored for the API scenario.
    #[arg(long, default_value_t = 10_000_000)]
    pub(crate) checks: u64,
    /// Monitors the API scenario's checks are spread over.
    #[arg(long = "api-monitors", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) api_monitors: u64,
    #[command(flatten)]
    pub(crate) window: Window,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// How the chaos scenario brings Redis back after its restart.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisRestart {
    /// SIGKILL, then restart from its append-only file (`appendfsync everysec`).
    Aof,
    /// SIGKILL, then restart with no persistence: it comes back empty (a failover that lost
    /// writes).
    Empty,
}

/// `chaos`' flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct ChaosArgs {
    /// Length of the chaos window, in minutes.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub(crate) minutes: u64,
    /// Quiet time after the window before the truth is compared (above RECLAIM_IDLE_MS).
    #[arg(long = "settle-seconds", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) settle_seconds: u64,
    /// How Redis comes back from its restart.
    #[arg(long = "redis-restart", value_enum, default_value_t = RedisRestart::Aof)]
    pub(crate) redis_restart: RedisRestart,
    /// Seed of the outage schedule and of the kills (default: random, printed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Monitors whose target never fails.
    #[arg(long, default_value_t = 950)]
    pub(crate) stable: usize,
    /// Monitors whose target goes down and up on the schedule.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) flipping: u64,
    /// Monitoring workers.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=8))]
    pub(crate) replicas: u16,
    /// Stall (SIGSTOP) the status-change and notification workers this long before the Redis
    /// restart, and resume them (SIGCONT) once Redis is back, so that entries are in flight
    /// when Redis loses them (0: no stall).
    #[arg(long = "stall-before-redis-ms", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub(crate) stall_before_redis_ms: u64,
    /// A worker is SIGKILLed (and restarted at once) this often, in seconds (0: never).
    #[arg(long = "kill-every-seconds", default_value_t = 5)]
    pub(crate) kill_every_seconds: u64,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_all_with_its_flags() {
        let cli =
            Cli::try_parse_from(["upcheck-bench", "--monitors", "5", "--set", "A=b=c"]).expect("parses");
        assert!(cli.scenario.is_none());
        assert_eq!(cli.all.monitors, 5);
        assert_eq!(cli.all.overrides.sets, vec![("A".to_string(), "b=c".to_string())]);
    }

    #[test]
    fn scenario_flags_keep_their_names_and_defaults() {
        let cli =
            Cli::try_parse_from(["upcheck-bench", "throughput", "--warmup-seconds", "3"]).expect("parses");
        let Some(Scenario::Throughput(t)) = cli.scenario else { panic!("throughput") };
        assert_eq!(
            (t.monitors, t.replicas, t.flip, t.window.seconds, t.window.warmup),
            (10_000, 1, 0, 20, 3)
        );
        assert!(Cli::try_parse_from(["upcheck-bench", "throughput", "--replicas", "0"]).is_err());
        assert!(Cli::try_parse_from(["upcheck-bench", "alert", "--set", "NOEQUALS"]).is_err());
    }

    #[test]
    fn alerting_flags_default_per_mode() {
        let cli = Cli::try_parse_from(["upcheck-bench", "alerting", "--kill"]).expect("parses");
        let Some(Scenario::Alerting(a)) = cli.scenario else { panic!("alerting") };
        assert_eq!(
            (
                a.kill,
                a.notifications,
                a.kill_every_ms,
                a.kill_rate,
                a.provider_delay_ms,
                a.probes,
                a.load_percent
            ),
            (true, None, 1_500, 100, None, 200, 80)
        );
        assert!(Cli::try_parse_from(["upcheck-bench", "alerting", "--notifications", "7"]).is_err());
        assert!(Cli::try_parse_from(["upcheck-bench", "alerting", "--load-percent", "0"]).is_err());
    }
}
