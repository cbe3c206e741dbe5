//! The chaos scenario's fault injection: Postgres and Redis servers of its own (so restarting
//! them touches no one else's), and the Upcheck components as child processes that can be
//! SIGKILLed and restarted, each logging to a file of its own.

use crate::cli::RedisRestart;
use crate::procs::{Component, sibling_binary};
use anyhow::Context;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use upcheck_testkit::local_servers::{PgCluster, RedisServer, free_port, open_to_postgres};

/// The scenario's own Postgres and Redis. The data live in a temporary directory deleted at
/// the end; the logs in `logs`, kept for reading.
pub(crate) struct Servers {
    pub(crate) pg: PgCluster,
    redis: RedisServer,
    redis_port: u16,
    /// Where every log goes (Postgres', Redis', each component's).
    pub(crate) logs: PathBuf,
    data: tempfile::TempDir,
}

impl Servers {
    /// Starts Postgres (a fresh cluster; `fsync=off`, which a process crash does not mind) and
    /// Redis with its append-only file (`appendfsync everysec`), on free loopback ports.
    pub(crate) fn start(logs: &Path) -> anyhow::Result<Self> {
        let data = tempfile::Builder::new().prefix("upcheck-chaos-").tempdir()?;
        open_to_postgres(data.path())?;
        let pg = PgCluster::init(
            &data.path().join("pg"),
            free_port()?,
            "-c fsync=off -c max_connections=300 -c shared_buffers=128MB",
        )?;
        pg.start()?;
        let redis_port = free_port()?;
        let redis_dir = data.path().join("redis");
        std::fs::create_dir(&redis_dir)?;
        let redis = start_redis(redis_port, &redis_dir, true, logs)?;
        Ok(Self { pg, redis, redis_port, logs: logs.to_path_buf(), data })
    }

    /// `redis://` URL of the scenario's Redis.
    pub(crate) fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    /// SIGKILLs Redis and starts it again on the same port: from its append-only file (`Aof`),
    /// or in a new empty directory with no persistence (`Empty`). Returns how long it took.
    pub(crate) fn restart_redis(&mut self, mode: RedisRestart) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.redis.kill();
        let (dir, aof) = match mode {
            RedisRestart::Aof => (self.data.path().join("redis"), true),
            RedisRestart::Empty => {
                let dir = self.data.path().join("redis-empty");
                std::fs::create_dir_all(&dir)?;
                (dir, false)
            }
        };
        self.redis = start_redis(self.redis_port, &dir, aof, &self.logs)?;
        Ok(started.elapsed())
    }

    /// `pg_ctl stop -m immediate`, then start (crash recovery from the WAL). Returns how long
    /// Postgres was away.
    pub(crate) fn restart_postgres(&self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.pg.stop("immediate")?;
        self.pg.start()?;
        Ok(started.elapsed())
    }

    /// Copies Postgres' log next to the others (its data directory is deleted at the end).
    pub(crate) fn keep_postgres_log(&self) {
        let _ = std::fs::copy(self.pg.log_path(), self.logs.join("postgres.log"));
    }
}

fn start_redis(port: u16, dir: &Path, aof: bool, logs: &Path) -> anyhow::Result<RedisServer> {
    let port_s = port.to_string();
    let dir_s = dir.to_str().context("UTF-8 temp dir")?;
    let mut args =
        vec!["--port", &port_s, "--bind", "127.0.0.1", "--dir", dir_s, "--save", "", "--logfile", ""];
    if aof {
        args.extend(["--appendonly", "yes", "--appendfsync", "everysec"]);
    } else {
        args.extend(["--appendonly", "no"]);
    }
    let server = RedisServer::start(&args, port, Some(&logs.join("redis.log")))?;
    // Wait until it has loaded its data set: until then it answers LOADING.
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    loop {
        let ping = client.get_connection().and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if ping.is_ok() {
            return Ok(server);
        }
        anyhow::ensure!(Instant::now() < deadline, "redis-server did not load within 60 s: {ping:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a component is, for the kill schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Api,
    Worker,
}

/// One Upcheck process: how to start it again, and how often it was killed or died.
struct Proc {
    role: Role,
    binary: PathBuf,
    vars: HashMap<String, String>,
    log: PathBuf,
    current: Component,
    kills: usize,
    deaths: Vec<String>,
}

/// The four binaries as child processes: the API, `replicas` monitoring workers, one
/// status-change and one notification worker.
pub(crate) struct Procs {
    procs: Vec<Proc>,
    rust_log: String,
}

impl Procs {
    /// Starts every component with `vars` (the API on `api_port`), each logging to
    /// `<logs>/<label>.log` at `rust_log`. Consumer names are the default (host name + pid), so
    /// a restarted worker is a new consumer, as a replaced process or pod is.
    pub(crate) fn start(
        vars: &HashMap<String, String>,
        replicas: u16,
        api_port: u16,
        logs: &Path,
        rust_log: &str,
    ) -> anyhow::Result<Self> {
        let mut wanted = vec![("api".to_string(), "upcheck-api", Role::Api)];
        for i in 1..=replicas {
            wanted.push((format!("worker-monitoring-{i}"), "upcheck-worker-monitoring", Role::Worker));
        }
        wanted.push(("worker-status-change".into(), "upcheck-worker-status-change", Role::Worker));
        wanted.push(("worker-notification".into(), "upcheck-worker-notification", Role::Worker));
        let mut procs = Vec::new();
        for (label, bin, role) in wanted {
            let mut v = vars.clone();
            v.remove("CONSUMER_NAME");
            if role == Role::Api {
                v.insert("PORT".into(), api_port.to_string());
            }
            let binary = sibling_binary(bin)?;
            let log = logs.join(format!("{label}.log"));
            let current = Component::spawn_logged(&label, &binary, &v, &log, rust_log)?;
            procs.push(Proc { role, binary, vars: v, log, current, kills: 0, deaths: Vec::new() });
        }
        Ok(Self { procs, rust_log: rust_log.to_string() })
    }

    /// How many workers there are to pick from.
    pub(crate) fn workers(&self) -> usize {
        self.procs.iter().filter(|p| p.role == Role::Worker).count()
    }

    /// SIGKILLs the `n`th worker and starts it again at once; returns its label.
    pub(crate) fn kill_worker(&mut self, n: usize, at: &str) -> anyhow::Result<String> {
        let p = self.procs.iter_mut().filter(|p| p.role == Role::Worker).nth(n).context("no such worker")?;
        p.current.kill();
        p.kills += 1;
        note(&p.log, &format!("SIGKILL at {at}; restarted at once"));
        p.current = Component::spawn_logged(&p.current.label, &p.binary, &p.vars, &p.log, &self.rust_log)?;
        Ok(p.current.label.clone())
    }

    /// Sends `signal` (`STOP`, `CONT`) to the status-change and notification workers.
    pub(crate) fn signal_consumers(&self, signal: &str) {
        for p in self.procs.iter().filter(|p| p.role == Role::Worker) {
            let label = &p.current.label;
            if label.contains("status-change") || label.contains("notification") {
                let _ = std::process::Command::new("kill")
                    .arg(format!("-{signal}"))
                    .arg(p.current.pid().to_string())
                    .status();
                note(&p.log, &format!("SIG{signal}"));
            }
        }
    }

    /// Restarts any component that exited on its own (a crash: recorded, with when).
    pub(crate) fn revive(&mut self, at: &str) -> anyhow::Result<()> {
        for p in &mut self.procs {
            if let Some(status) = p.current.exit_status() {
                let what = format!("{} exited by itself ({status}) at {at}", p.current.label);
                note(&p.log, &format!("{what}; restarted"));
                p.deaths.push(what);
                p.current =
                    Component::spawn_logged(&p.current.label, &p.binary, &p.vars, &p.log, &self.rust_log)?;
            }
        }
        Ok(())
    }

    /// `label ×kills` per component that was killed.
    pub(crate) fn kill_counts(&self) -> Vec<(String, usize)> {
        self.procs
            .iter()
            .filter(|p| p.role == Role::Worker)
            .map(|p| (p.current.label.clone(), p.kills))
            .collect()
    }

    /// Every exit that the bench did not cause.
    pub(crate) fn deaths(&self) -> Vec<String> {
        self.procs.iter().flat_map(|p| p.deaths.clone()).collect()
    }

    /// Whether every process is running.
    pub(crate) fn all_running(&mut self) -> bool {
        self.procs.iter_mut().all(|p| p.current.running())
    }

    /// Stops every component (SIGTERM, then SIGKILL after 30 s).
    pub(crate) fn stop(mut self) {
        for p in std::mem::take(&mut self.procs) {
            p.current.stop();
        }
    }
}

impl Drop for Procs {
    /// A scenario that failed half-way leaves no process behind.
    fn drop(&mut self) {
        for p in &mut self.procs {
            p.current.kill();
        }
    }
}

/// Appends a bench line to a component's log, so the log shows where the kills fell.
fn note(log: &Path, what: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(f, "==== upcheck-bench: {what} ====");
    }
}
