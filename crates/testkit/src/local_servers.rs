//! Throwaway Postgres clusters and Redis servers run from the local binaries, in a directory
//! the caller owns: the TLS tests start them once; the bench's chaos scenario also stops and
//! restarts them (`pg_ctl stop -m immediate`, a SIGKILLed `redis-server`).
//!
//! Needs the PostgreSQL server binaries (`initdb`, `pg_ctl`: `PG_BINDIR`, else the newest
//! `/usr/lib/postgresql/*/bin`, else `PATH`) and `redis-server`. initdb and pg_ctl refuse to
//! run as root: as root the cluster belongs to, and runs as, the `postgres` user (`runuser`).

use anyhow::{Context, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Postgres cluster in a data directory of its own, listening on 127.0.0.1 only. Stopped
/// (`immediate`) on drop; the directory is the caller's to delete.
pub struct PgCluster {
    data: PathBuf,
    port: u16,
    options: String,
    pg_ctl: PathBuf,
    as_postgres: bool,
}

impl PgCluster {
    /// Runs `initdb` (user `postgres`, trust authentication) in `data`, which is created; its
    /// parent must be reachable by the `postgres` user when running as root. `options` are
    /// added to the server's command line (`-c name=value …`) on every start.
    ///
    /// # Errors
    /// When the directory cannot be made or initdb fails (its output is in the error).
    pub fn init(data: &Path, port: u16, options: &str) -> anyhow::Result<Self> {
        let bindir = pg_bindir();
        std::fs::create_dir_all(data).with_context(|| format!("create {}", data.display()))?;
        let as_postgres = is_root();
        if as_postgres {
            chown_postgres(data)?;
        }
        let data_str = path_str(data)?;
        run(
            as_postgres,
            &bindir.join("initdb"),
            &["-D", data_str, "-U", "postgres", "-A", "trust", "--no-sync"],
        )?;
        let options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data_str} {options}"
        );
        Ok(Self { data: data.to_path_buf(), port, options, pg_ctl: bindir.join("pg_ctl"), as_postgres })
    }

    /// Writes a file into the data directory (such as `pg_hba.conf` or a certificate), owned
    /// by the server's user, with `mode`.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_file(&self, name: &str, contents: &[u8], mode: u32) -> anyhow::Result<()> {
        let path = self.data.join(name);
        std::fs::write(&path, contents).with_context(|| format!("write {}", path.display()))?;
        set_mode(&path, mode)?;
        if self.as_postgres {
            chown_postgres(&path)?;
        }
        Ok(())
    }

    /// Starts the server (`pg_ctl start -w`), its log in `<data>/log`; returns once it accepts
    /// connections (at most 60 s, crash recovery included).
    ///
    /// # Errors
    /// When pg_ctl fails or times out.
    pub fn start(&self) -> anyhow::Result<()> {
        let data = path_str(&self.data)?;
        let log = self.data.join("log");
        run(
            self.as_postgres,
            &self.pg_ctl,
            &["-D", data, "-l", path_str(&log)?, "-o", &self.options, "-w", "-t", "60", "start"],
        )
    }

    /// Stops the server with `mode`: `immediate` (every process quits at once, no checkpoint:
    /// the next start recovers from the WAL, as after a crash), `fast` or `smart`.
    ///
    /// # Errors
    /// When pg_ctl fails (the server was not running, for one).
    pub fn stop(&self, mode: &str) -> anyhow::Result<()> {
        run(self.as_postgres, &self.pg_ctl, &["-D", path_str(&self.data)?, "-m", mode, "-w", "stop"])
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `postgres://` URL for database `db` (user `postgres`, no password).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.data.join("log")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Ok(data) = path_str(&self.data) {
            let _ = command(self.as_postgres, &self.pg_ctl)
                .args(["-D", data, "-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A `redis-server` child process, killed on drop.
pub struct RedisServer {
    child: Child,
}

impl RedisServer {
    /// Starts `redis-server` with `args` (its output to `log`, or discarded) and waits up to 30 s
    /// until `port` on 127.0.0.1 accepts connections.
    ///
    /// # Errors
    /// When redis-server is not on `PATH` or does not listen in time.
    pub fn start(args: &[&str], port: u16, log: Option<&Path>) -> anyhow::Result<Self> {
        let out = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("open {}", path.display()))?,
            ),
            None => Stdio::null(),
        };
        let child = Command::new("redis-server")
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .context("start redis-server (install Debian's redis-server)")?;
        let mut server = Self { child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("redis-server exited at start ({status}); args {args:?}");
            }
            ensure!(Instant::now() < deadline, "redis-server did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs it (a crash: no final write of its append-only file) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for a server to take).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Makes `path` (a directory the caller made) readable and searchable by the `postgres` user.
///
/// # Errors
/// When its mode cannot be set.
pub fn open_to_postgres(path: &Path) -> anyhow::Result<()> {
    set_mode(path, 0o755)
}

fn pg_bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_default() // empty: initdb/pg_ctl from PATH
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn chown_postgres(path: &Path) -> anyhow::Result<()> {
    let status = Command::new("chown").args(["postgres:postgres", path_str(path)?]).status()?;
    ensure!(status.success(), "chown postgres {}", path.display());
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str().with_context(|| format!("{} is not UTF-8", p.display()))
}

fn run(as_postgres: bool, program: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = command(as_postgres, program).args(args).output().with_context(|| {
        format!("{} did not run; install the PostgreSQL server or set PG_BINDIR", program.display())
    })?;
    ensure!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `Command::new(program)`, run as the `postgres` user (through `runuser`) when `as_postgres`.
fn command(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}
