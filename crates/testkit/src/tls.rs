//! Throwaway TLS-only Postgres and Redis servers, the way managed services (Neon, Upstash)
//! serve: a certificate for `localhost`/`127.0.0.1` signed by a test CA made for the run, and no
//! plain-text listener (Postgres' `pg_hba.conf` has only `hostssl` lines; Redis has `--port 0`).
//!
//! The servers are [`crate::local_servers`]' (see there for the binaries they need);
//! `redis-server` must be built with TLS, which `scripts/test.sh` installs when missing.

use crate::local_servers::{PgCluster, RedisServer, free_port, open_to_postgres};
use std::path::{Path, PathBuf};

/// A running TLS-only Postgres and Redis pair, stopped and deleted on drop.
pub struct TlsServers {
    /// The test CA's certificate (PEM file): pass as `DATABASE_CA_CERT` / `REDIS_CA_CERT`.
    pub ca_cert: PathBuf,
    /// Postgres' port on 127.0.0.1 (user `postgres`, trust auth over TLS only).
    pub pg_port: u16,
    /// Redis' TLS port on 127.0.0.1.
    pub redis_port: u16,
    // Dropped in this order: both servers stop before their directory is deleted.
    _pg: PgCluster,
    _redis: RedisServer,
    _dir: tempfile::TempDir,
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
        open_to_postgres(dir.path()).expect("chmod temp dir");
        let (ca_pem, cert_pem, key_pem) = certificates();
        let ca_cert = dir.path().join("ca.crt");
        std::fs::write(&ca_cert, &ca_pem).expect("write CA");

        let pg_port = free_port().expect("free port");
        let pg =
            PgCluster::init(&dir.path().join("pg"), pg_port, "-c ssl=on -c fsync=off -c max_connections=60")
                .expect("initdb");
        pg.write_file(
            "pg_hba.conf",
            b"local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
            0o600,
        )
        .expect("pg_hba.conf");
        pg.write_file("server.crt", cert_pem.as_bytes(), 0o644).expect("server.crt");
        pg.write_file("server.key", key_pem.as_bytes(), 0o600).expect("server.key");
        pg.start().expect("start the TLS Postgres");

        let redis_port = free_port().expect("free port");
        std::fs::write(dir.path().join("redis.crt"), &cert_pem).expect("redis.crt");
        std::fs::write(dir.path().join("redis.key"), &key_pem).expect("redis.key");
        let (tls_port, cert, key) =
            (redis_port.to_string(), dir.path().join("redis.crt"), dir.path().join("redis.key"));
        let redis = RedisServer::start(
            &[
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--tls-port",
                &tls_port,
                "--tls-cert-file",
                path_str(&cert),
                "--tls-key-file",
                path_str(&key),
                "--tls-ca-cert-file",
                path_str(&ca_cert),
                "--tls-auth-clients",
                "no",
                "--dir",
                path_str(dir.path()),
            ],
            redis_port,
            None,
        )
        .expect("start the TLS redis-server");
        Self { ca_cert, pg_port, redis_port, _pg: pg, _redis: redis, _dir: dir }
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

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}
