//! A throwaway plain-text Redis that keeps nothing on disk, for tests that lose Redis's data on
//! purpose: [`LocalRedis::restart_empty`] kills it and starts an empty one on the same port, as
//! an unpersisted Redis restart or a failover that lost its writes would.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A `redis-server` on a free loopback port, killed on drop.
pub struct LocalRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Mutex<Child>,
}

impl LocalRedis {
    /// Starts the server and waits until it accepts connections.
    ///
    /// # Panics
    /// When `redis-server` is not on `PATH` or does not listen within 30 s.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("upcheck-redis-").tempdir().expect("temp dir");
        let port = crate::tls::free_port();
        let child = spawn(port, dir.path());
        Self { port, dir, child: Mutex::new(child) }
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
        let mut child = self.child.lock().expect("lock");
        let _ = child.kill();
        let _ = child.wait();
        *child = spawn(self.port, self.dir.path());
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(port: u16, dir: &std::path::Path) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--dir", dir.to_str().expect("UTF-8 temp path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server on PATH");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}
