//! A throwaway plain-text Redis that keeps nothing on disk, for tests that lose Redis's data on
//! purpose: [`LocalRedis::restart_empty`] kills it and starts an empty one on the same port, as
//! an unpersisted Redis restart or a failover that lost its writes would.

use crate::local_servers::{RedisServer, free_port};
use std::sync::Mutex;

/// A `redis-server` on a free loopback port, killed on drop.
pub struct LocalRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    server: Mutex<RedisServer>,
}

impl LocalRedis {
    /// Starts the server and waits until it accepts connections.
    ///
    /// # Panics
    /// When `redis-server` is not on `PATH` or does not listen within 30 s.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("upcheck-redis-").tempdir().expect("temp dir");
        let port = free_port().expect("free port");
        let server = Mutex::new(spawn(port, dir.path()));
        Self { port, dir, server }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL, so nothing is saved) and starts an empty one on the same port.
    ///
    /// # Panics
    /// When the new server does not listen within 30 s.
    pub fn restart_empty(&self) {
        let mut server = self.server.lock().expect("lock");
        server.kill();
        *server = spawn(self.port, self.dir.path());
    }
}

fn spawn(port: u16, dir: &std::path::Path) -> RedisServer {
    let port_arg = port.to_string();
    let dir_arg = dir.to_str().expect("UTF-8 temp path");
    let args =
        ["--port", &port_arg, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir_arg];
    RedisServer::start(&args, port, None).expect("redis-server")
}
