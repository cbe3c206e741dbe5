//! A real nginx (Debian's `nginx-light`) in front of a test's API, run with the shipped
//! `deploy/nginx/upcheck.conf`: its upstream `api:8080` pointed at the test's API port, its
//! `listen 80` at a free loopback port, and a temporary prefix for its pid, logs and temp
//! files. It runs in the foreground as the current user (`daemon off; master_process off`) and
//! is killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running nginx.
pub struct Nginx {
    /// Base URL, e.g. `http://127.0.0.1:40125`.
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
}

/// The nginx binary: `nginx` on `PATH`, else Debian's `/usr/sbin/nginx`.
fn binary() -> String {
    let on_path = Command::new("nginx").arg("-v").stderr(Stdio::null()).status().is_ok();
    if on_path { "nginx".into() } else { "/usr/sbin/nginx".into() }
}

impl Nginx {
    /// Starts nginx with the server config at `config` (the shipped one), proxying to
    /// `127.0.0.1:api_port`, and waits until it accepts connections.
    ///
    /// # Panics
    /// When nginx is not installed (`scripts/test.sh` installs `nginx-light`), the config does
    /// not have the one `server api:8080;` and one `listen 80;` it rewrites, or nginx does not
    /// start within 10 s (its error log is in the message).
    pub async fn start(config: &Path, api_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("nginx prefix");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let shipped = std::fs::read_to_string(config).expect("the shipped nginx config");
        assert_eq!(shipped.matches("server api:8080;").count(), 1, "one upstream server api:8080");
        assert_eq!(shipped.matches("\n    listen 80;").count(), 1, "one listen 80");
        let server = shipped
            .replace("server api:8080;", &format!("server 127.0.0.1:{api_port};"))
            .replace("\n    listen 80;", &format!("\n    listen 127.0.0.1:{port};"));
        let p = dir.path().display().to_string();
        std::fs::write(dir.path().join("upcheck.conf"), server).unwrap();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
             fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
             include {p}/upcheck.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let child = Command::new(binary())
            .arg("-p")
            .arg(format!("{p}/"))
            .arg("-c")
            .arg(format!("{p}/nginx.conf"))
            .arg("-e")
            .arg(format!("{p}/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (install Debian's nginx-light; scripts/test.sh does)");
        let nginx = Self { url: format!("http://127.0.0.1:{port}"), child, dir };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return nginx;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nginx did not start: {}", nginx.error_log());
    }

    /// nginx's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
