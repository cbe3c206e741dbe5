//! A throwaway Redis Cluster of plain-text masters on free loopback ports, from Debian's
//! `redis-server` and `redis-cli` (package `redis-server`, which brings `redis-tools`): each node
//! runs `--cluster-enabled yes` with its cluster bus on a second free port (`--cluster-port`, so
//! no port above 55535 is needed), `redis-cli --cluster create … --cluster-replicas 0` assigns
//! the 16,384 slots in equal ranges, and the cluster is handed over once every node reports
//! `cluster_state:ok` and knows every master. Nothing is saved; the servers are killed and their
//! directory deleted on drop. The e2e cluster test and `upcheck-bench --redis-cluster` use it.

use crate::local_servers::{RedisServer, free_port};
use anyhow::{Context, bail, ensure};
use std::process::Command;
use std::time::{Duration, Instant};

/// A Redis Cluster of `masters` nodes on 127.0.0.1, no replicas.
pub struct LocalRedisCluster {
    ports: Vec<u16>,
    servers: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl LocalRedisCluster {
    /// Starts `masters` (at least 3, as `redis-cli --cluster create` requires) nodes, creates the
    /// cluster and waits (at most 60 s) until every node reports it ready.
    ///
    /// # Errors
    /// When a server does not start, `redis-cli` is missing or fails, or the cluster does not
    /// become ready in time.
    pub fn start(masters: usize) -> anyhow::Result<Self> {
        ensure!(masters >= 3, "a Redis Cluster needs at least 3 masters");
        let dir = tempfile::Builder::new().prefix("upcheck-redis-cluster-").tempdir().context("temp dir")?;
        let mut ports = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..masters {
            let (port, bus) = (free_port()?, free_port()?);
            let node_dir = dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).context("node dir")?;
            let node_dir = node_dir.to_str().context("UTF-8 temp path")?.to_string();
            let (port_arg, bus_arg) = (port.to_string(), bus.to_string());
            let args = [
                "--port",
                &port_arg,
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus_arg,
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
                "--dir",
                &node_dir,
                "--save",
                "",
                "--appendonly",
                "no",
            ];
            let log = dir.path().join(format!("{port}.log"));
            servers.push(RedisServer::start(&args, port, Some(&log))?);
            ports.push(port);
        }
        let cluster = Self { ports, servers, _dir: dir };
        let mut create: Vec<String> = vec!["--cluster".into(), "create".into()];
        create.extend(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"].map(String::from));
        let out = Command::new("redis-cli")
            .args(&create)
            .output()
            .context("run redis-cli (Debian's redis-tools, installed with redis-server)")?;
        ensure!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = self.ports.iter().all(|&p| {
                let info = self.cli_on(p, &["CLUSTER", "INFO"]).unwrap_or_default();
                let nodes = self.cli_on(p, &["CLUSTER", "NODES"]).unwrap_or_default();
                info.lines().any(|l| l.trim() == "cluster_state:ok")
                    && nodes.lines().filter(|l| l.contains("master") && !l.contains("fail")).count()
                        == self.ports.len()
            });
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the Redis Cluster on ports {:?} was not ready within {timeout:?}", self.ports);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The nodes' ports on 127.0.0.1.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The nodes' pids.
    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(RedisServer::pid).collect()
    }

    /// The `REDIS_CLUSTER_URLS` value naming every node: `redis://127.0.0.1:P1,…`.
    pub fn urls(&self) -> String {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// Runs `redis-cli -p <port> args…` (no cluster redirection) and returns its output.
    ///
    /// # Errors
    /// When redis-cli does not run or fails.
    pub fn cli_on(&self, port: u16, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .context("run redis-cli")?;
        ensure!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The hash slot of `key`, as the cluster computes it (`CLUSTER KEYSLOT`).
    ///
    /// # Errors
    /// When the node does not answer with a number.
    pub fn keyslot(&self, key: &str) -> anyhow::Result<u16> {
        let out = self.cli_on(self.ports[0], &["CLUSTER", "KEYSLOT", key])?;
        out.parse().with_context(|| format!("CLUSTER KEYSLOT {key}: {out}"))
    }

    /// The port of the master that owns `key`'s slot, from `CLUSTER NODES`.
    ///
    /// # Errors
    /// When no master lists the slot.
    pub fn owner_of(&self, key: &str) -> anyhow::Result<u16> {
        let slot = self.keyslot(key)?;
        let nodes = self.cli_on(self.ports[0], &["CLUSTER", "NODES"])?;
        for line in nodes.lines().filter(|l| l.contains("master")) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let owns = fields.iter().skip(8).any(|range| {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&slot))
            });
            let port = fields.get(1).and_then(|a| a.split(['@', ':']).nth(1)).and_then(|p| p.parse().ok());
            if let (true, Some(port)) = (owns, port) {
                return Ok(port);
            }
        }
        bail!("no master owns slot {slot} of {key}")
    }
}
