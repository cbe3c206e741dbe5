//! Throwaway TLS-only Postgres and Redis servers, the way managed services (Neon, Upstash)
//! serve: a certificate for `localhost`/`127.0.0.1` signed by a test CA made for the run, and no
//! plain-text listener (Postgres' `pg_hba.conf` has only `hostssl` lines; Redis has `--port 0`).
//!
//! Needs the PostgreSQL server binaries (`initdb`, `pg_ctl`: `PG_BINDIR`, else the newest
//! `/usr/lib/postgresql/*/bin`, else `PATH`) and `redis-server` built with TLS, which
//! `scripts/test.sh` installs when missing. As root, Postgres runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running TLS-only Postgres and Redis pair, stopped and deleted on drop.
pub struct TlsServers {
    /// The test CA's certificate (PEM file): pass as `DATABASE_CA_CERT` / `REDIS_CA_CERT`.
    pub ca_cert: PathBuf,
    /// Postgres' port on 127.0.0.1 (user `postgres`, trust auth over TLS only).
    pub pg_port: u16,
    /// Redis' TLS port on 127.0.0.1.
    pub redis_port: u16,
    dir: tempfile::TempDir,
    pg_ctl: PathBuf,
    redis: Child,
}

impl TlsServers {
    /// Generates the CA and the server certificate, then starts both servers and waits until
    /// they accept connections.
    ///
    /// # Panics
    /// When a server binary is missing or a server does not start within 30 s (its log is in
    /// the message).
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("upcheck-tls-").tempdir().expect("temp dir");
        // The postgres user must reach the data directory inside.
        set_mode(dir.path(), 0o755);
        let (ca_pem, cert_pem, key_pem) = certificates();
        let ca_cert = dir.path().join("ca.crt");
        std::fs::write(&ca_cert, &ca_pem).expect("write CA");
        set_mode(&ca_cert, 0o644);

        let pg_port = free_port();
        let bindir = pg_bindir();
        let data = dir.path().join("pg");
        std::fs::create_dir(&data).expect("pg dir");
        let as_postgres = is_root();
        if as_postgres {
            chown_postgres(&data);
        }
        run(
            as_postgres,
            &bindir.join("initdb"),
            &["-D", path_str(&data), "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .expect("pg_hba.conf");
        std::fs::write(data.join("server.crt"), &cert_pem).expect("server.crt");
        std::fs::write(data.join("server.key"), &key_pem).expect("server.key");
        set_mode(&data.join("server.key"), 0o600);
        if as_postgres {
            for f in ["pg_hba.conf", "server.crt", "server.key"] {
                chown_postgres(&data.join(f));
            }
        }
        let options = format!(
            "-c port={pg_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c ssl=on \
             -c fsync=off -c max_connections=60",
            path_str(&data)
        );
        let pg_ctl = bindir.join("pg_ctl");
        let log = data.join("log");
        run(
            as_postgres,
            &pg_ctl,
            &["-D", path_str(&data), "-l", path_str(&log), "-o", &options, "-w", "-t", "30", "start"],
        );

        let redis_port = free_port();
        std::fs::write(dir.path().join("redis.crt"), &cert_pem).expect("redis.crt");
        std::fs::write(dir.path().join("redis.key"), &key_pem).expect("redis.key");
        let redis = Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-port", &redis_port.to_string()])
            .args(["--tls-cert-file", path_str(&dir.path().join("redis.crt"))])
            .args(["--tls-key-file", path_str(&dir.path().join("redis.key"))])
            .args(["--tls-ca-cert-file", path_str(&ca_cert)])
            .args(["--tls-auth-clients", "no", "--dir", path_str(dir.path())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let servers = Self { ca_cert, pg_port, redis_port, dir, pg_ctl, redis };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", redis_port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on TLS port {redis_port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        servers
    }

    /// A `postgres://` URL for database `db` on the TLS server, with `sslmode` set.
    pub fn database_url(&self, db: &str, sslmode: &str, host: &str) -> String {
        format!("postgres://postgres@{host}:{}/{db}?sslmode={sslmode}", self.pg_port)
    }

    /// A `rediss://` URL for the TLS server at `host`.
    pub fn redis_url(&self, host: &str) -> String {
        format!("rediss://{host}:{}", self.redis_port)
    }
}

impl Drop for TlsServers {
    fn drop(&mut self) {
        let data = self.dir.path().join("pg");
        let _ = command(is_root(), &self.pg_ctl)
            .args(["-D", path_str(&data), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.redis.kill();
        let _ = self.redis.wait();
    }
}

/// A CA, and a server certificate for `localhost` and `127.0.0.1` it signed: (CA PEM, server
/// certificate PEM, server key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Upcheck test CA");
    ca.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let mut leaf =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("leaf params");
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("server certificate");
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
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

fn chown_postgres(path: &Path) {
    let status = Command::new("chown").args(["postgres:postgres", path_str(path)]).status();
    assert!(status.is_ok_and(|s| s.success()), "chown postgres {}", path.display());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn run(as_postgres: bool, program: &Path, args: &[&str]) {
    let out = command(as_postgres, program).args(args).output().unwrap_or_else(|e| {
        panic!("{} did not run ({e}); install the PostgreSQL server or set PG_BINDIR", program.display())
    });
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
