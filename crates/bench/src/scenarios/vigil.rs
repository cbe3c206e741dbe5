//! `vigil`: the peer Vigil (`cargo install vigil-server`) probing the same kind of target, and
//! the ratios of Upcheck's figures to Vigil's.

use super::throughput::Throughput;
use crate::cli::Window;
use crate::procs::{Component, free_port};
use crate::report::{Rows, thousands};
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use upcheck_testkit::FlipTarget;

/// What a Vigil run measured.
pub(crate) struct Vigil {
    pub(crate) rows: Rows,
    checks_per_second: f64,
    cpu_ms: f64,
    rss_mib: f64,
}

/// Vigil (`cargo install vigil-server`) with `monitors` HTTP probes against a local target, set
/// up as issue #4 asks: `poll_interval = 1`, `poll_retry = 0`, `poll_retry_wait = 0`,
/// `poll_parallelism = 64`. Its checks are counted at the target.
pub(crate) async fn run(a: &Window, monitors: usize) -> anyhow::Result<Vigil> {
    let bin = std::env::var("VIGIL_BIN").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/vigil")
    });
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: `cargo install vigil-server` (or set VIGIL_BIN)",
        bin.display()
    );
    let target = FlipTarget::start().await;
    let dir = tempfile::tempdir()?;
    let assets = vigil_assets()?;
    let mut cfg = format!(
        "[server]\nlog_level = \"error\"\ninet = \"127.0.0.1:{port}\"\nworkers = 1\nmanager_token = \"bench\"\nreporter_token = \"bench\"\n\n\
         [assets]\npath = \"{assets}\"\n\n\
         [branding]\npage_title = \"bench\"\npage_url = \"http://127.0.0.1/\"\ncompany_name = \"bench\"\nicon_color = \"#000000\"\n\
         icon_url = \"http://127.0.0.1/i.png\"\nlogo_color = \"#000000\"\nlogo_url = \"http://127.0.0.1/l.svg\"\n\
         website_url = \"http://127.0.0.1/\"\nsupport_url = \"mailto:bench@example.com\"\ncustom_html = \"\"\n\n\
         [metrics]\npoll_interval = 1\npoll_retry = 0\npoll_retry_wait = 0\npoll_http_status_healthy_above = 200\n\
         poll_http_status_healthy_below = 400\npoll_delay_dead = 10\npoll_delay_sick = 5\npoll_parallelism = 64\n\
         push_delay_dead = 20\npush_system_cpu_sick_above = 0.9\npush_system_ram_sick_above = 0.9\n\
         script_interval = 300\nscript_parallelism = 2\nlocal_delay_dead = 40\n\n\
         [plugins]\n\n[notify]\nstartup_notification = false\nreminder_interval = 300\n\n\
         [probe]\n\n[[probe.service]]\nid = \"bench\"\nlabel = \"bench\"\n\n\
         [[probe.service.node]]\nid = \"target\"\nlabel = \"target\"\nmode = \"poll\"\nreplicas = [\n",
        port = free_port()?,
        assets = assets.display(),
    );
    for i in 0..monitors {
        cfg.push_str(&format!("  \"{}r{i}\",\n", target.url));
    }
    cfg.push_str("]\n");
    let path = dir.path().join("vigil.cfg");
    std::fs::write(&path, cfg)?;
    let vars: HashMap<String, String> = HashMap::new();
    let mut peer = Component::spawn("vigil", &bin, &["-c", path.to_str().context("path")?], &vars)?;
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    peer.ensure_running()?;
    peer.mark();
    let hits0 = target.hits();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let checks = target.hits() - hits0;
    let secs = started.elapsed().as_secs_f64();
    let cpu = peer.cpu_since_mark();
    let rss = peer.peak_rss_mib();
    peer.ensure_running()?;
    tokio::task::spawn_blocking(move || peer.stop()).await?;
    let rate = checks as f64 / secs;
    let cpu_ms = cpu * 1_000_000.0 / checks.max(1) as f64;
    Ok(Vigil {
        rows: vec![(
            format!(
                "Vigil, {} probes: checks per second / CPU ms per 1,000 / peak RSS",
                thousands(monitors as f64)
            ),
            format!("{} / {cpu_ms:.1} ms / {rss:.1} MiB", thousands(rate)),
        )],
        checks_per_second: rate,
        cpu_ms,
        rss_mib: rss,
    })
}

/// Vigil's `res/assets` from the installed crate's sources in Cargo's registry.
fn vigil_assets() -> anyhow::Result<std::path::PathBuf> {
    let home = std::path::PathBuf::from(
        std::env::var("CARGO_HOME")
            .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default())),
    );
    for registry in std::fs::read_dir(home.join("registry/src"))?.flatten() {
        let mut found: Vec<_> = std::fs::read_dir(registry.path())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vigil-server-"))
            })
            .collect();
        found.sort();
        if let Some(dir) = found.pop() {
            return Ok(dir.join("res/assets"));
        }
    }
    bail!("vigil-server's sources are not in {}/registry/src", home.display())
}

/// Upcheck's figures over Vigil's at `monitors` monitors.
pub(crate) fn ratio_rows(up: &Throughput, v: &Vigil, monitors: usize, tag: &str) -> Rows {
    let at = format!("Upcheck{tag} ÷ Vigil at {} monitors", thousands(monitors as f64));
    vec![
        (format!("{at}: checks per second"), format!("{:.2}", up.checks_per_second / v.checks_per_second)),
        (
            format!("{at}: monitoring worker CPU per check (target ≤ 1.5)"),
            format!("{:.2}", up.worker_cpu_ms / v.cpu_ms),
        ),
        (
            format!("{at}: whole pipeline CPU per check (target ≤ 4)"),
            format!("{:.2}", up.pipeline_cpu_ms / v.cpu_ms),
        ),
        (
            format!("{at}: peak RSS, worker ÷ Vigil (target < 1)"),
            format!("{:.2}", up.worker_rss_mib / v.rss_mib),
        ),
    ]
}
