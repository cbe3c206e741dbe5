//! Per-process CPU and memory, read from Linux's `/proc` (proc(5)), and the release binaries the
//! bench runs as child processes so each one's cost can be told apart.

use anyhow::{Context, bail};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat`'s time fields (`sysconf(_SC_CLK_TCK)`; 100 on
/// every Linux architecture the bench runs on).
const CLK_TCK: f64 = 100.0;

/// CPU seconds (user + system) `pid` used, including its reaped children (fields 14–17 of
/// `/proc/<pid>/stat`: utime, stime, cutime, cstime). `None` once the process is gone.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field n is at index n − 3.
    let ticks: f64 = (14..=17).filter_map(|n| fields.get(n - 3)?.parse::<f64>().ok()).sum();
    Some(ticks / CLK_TCK)
}

/// A `kB` field of `/proc/<pid>/status`, such as `VmHWM` (peak resident set) or `VmRSS`, in KiB.
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Pids of the processes whose command name (`/proc/<pid>/comm`) is `name`.
pub(crate) fn pids_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .collect()
}

/// The bench's own CPU seconds so far (it also runs the probe target and the webhook receiver).
pub(crate) fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// A binary next to the bench's own executable (`target/release/<name>`).
///
/// # Errors
/// When it is missing: build it with `cargo build --release -p <crate>`.
pub(crate) fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!("{} is missing: build it with `cargo build --release --workspace --bins`", path.display());
    }
    Ok(path)
}

/// A component (or a peer) running as a child process.
pub(crate) struct Component {
    /// What the table calls it (`worker-monitoring #1`).
    pub(crate) label: String,
    child: Child,
    cpu_at_start: f64,
}

impl Component {
    /// Starts `program` with only `vars` (plus `PATH` and the bench's own `MIMALLOC_*`
    /// variables) in its environment and `RUST_LOG=warn`,
    /// its output discarded but for stderr, which goes to the bench's own.
    ///
    /// # Errors
    /// When the process cannot be started.
    pub(crate) fn spawn(
        label: &str,
        program: &std::path::Path,
        args: &[&str],
        vars: &HashMap<String, String>,
    ) -> anyhow::Result<Self> {
        Self::spawn_with(label, program, args, vars, Stdio::null(), Stdio::inherit(), "warn")
    }

    /// As [`Component::spawn`], with `RUST_LOG=rust_log` and stdout and stderr appended to `log`.
    ///
    /// # Errors
    /// When the log cannot be opened or the process cannot be started.
    pub(crate) fn spawn_logged(
        label: &str,
        program: &std::path::Path,
        vars: &HashMap<String, String>,
        log: &std::path::Path,
        rust_log: &str,
    ) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        let out = Stdio::from(file.try_clone()?);
        let mut vars = vars.clone();
        vars.insert("NO_COLOR".into(), "1".into()); // plain text in the file
        Self::spawn_with(label, program, &[], &vars, out, Stdio::from(file), rust_log)
    }

    fn spawn_with(
        label: &str,
        program: &std::path::Path,
        args: &[&str],
        vars: &HashMap<String, String>,
        stdout: Stdio,
        stderr: Stdio,
        rust_log: &str,
    ) -> anyhow::Result<Self> {
        let child = Command::new(program)
            .args(args)
            .env_clear()
            .envs(vars)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", rust_log)
            // As the image and scripts/run.sh set it (see the Dockerfile).
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            // Allocator tuning under study passes through (mimalloc reads its options from these).
            .envs(std::env::vars().filter(|(k, _)| k.starts_with("MIMALLOC_")))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        Ok(Self { label: label.to_string(), child, cpu_at_start: 0.0 })
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Marks the start of the measured window.
    pub(crate) fn mark(&mut self) {
        self.cpu_at_start = cpu_seconds(self.pid()).unwrap_or(0.0);
    }

    /// CPU seconds since [`Component::mark`].
    pub(crate) fn cpu_since_mark(&self) -> f64 {
        cpu_seconds(self.pid()).unwrap_or(0.0) - self.cpu_at_start
    }

    /// Peak resident set so far, in MiB (`VmHWM`).
    pub(crate) fn peak_rss_mib(&self) -> f64 {
        status_kib(self.pid(), "VmHWM").unwrap_or(0) as f64 / 1024.0
    }

    /// Fails when the process has already exited (a crash or a configuration error).
    ///
    /// # Errors
    /// When it is no longer running.
    pub(crate) fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early: {status}", self.label);
        }
        Ok(())
    }

    /// Whether it is still running (`false` once it has exited, whatever the reason).
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its exit status, once it has exited.
    pub(crate) fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILLs it (no chance to finish or acknowledge anything) and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to 30 s for a graceful exit, then kills it.
    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for a child to take).
///
/// # Errors
/// When no port can be bound.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
