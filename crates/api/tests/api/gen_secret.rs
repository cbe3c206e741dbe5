//! `upcheck-api gen-secret`: a random secret written once, mode 0600, never overwritten.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use upcheck_api::gen_secret::{Format, SecretFile, random_secret, write_secret_file};

/// A fresh directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("upcheck-gen-secret-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn gen_secret_writes_a_random_hex_secret_readable_only_by_its_owner() {
    let dir = Scratch::new();
    let path = dir.0.join("run/upcheck/jwt_secret");

    assert_eq!(write_secret_file(&path, Format::Hex).unwrap(), SecretFile::Created);

    let text = std::fs::read_to_string(&path).unwrap();
    let secret = text.strip_suffix('\n').expect("one line");
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{secret}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700, "created directory: {dir_mode:o}");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    // The API takes what it wrote.
    let mut env = std::collections::HashMap::new();
    env.insert("DATABASE_URL".to_string(), "postgres://u@db/upcheck".to_string());
    env.insert("JWT_SECRET_FILE".to_string(), path.to_str().unwrap().to_string());
    let settings = upcheck_config::Settings::from_env_map(env).unwrap();
    assert!(settings.require_jwt_secret().is_ok());
}

#[test]
fn gen_secret_never_overwrites_an_existing_file() {
    let dir = Scratch::new();
    let path = dir.0.join("jwt_secret");
    assert_eq!(write_secret_file(&path, Format::Hex).unwrap(), SecretFile::Created);
    let first = std::fs::read_to_string(&path).unwrap();

    assert_eq!(write_secret_file(&path, Format::Hex).unwrap(), SecretFile::Kept);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first, "a second run keeps the secret");

    let own = dir.0.join("own");
    std::fs::write(&own, "an operator's own secret\n").unwrap();
    assert_eq!(write_secret_file(&own, Format::Hex).unwrap(), SecretFile::Kept);
    assert_eq!(std::fs::read_to_string(&own).unwrap(), "an operator's own secret\n");
}

#[test]
fn secrets_differ_every_time() {
    let a = random_secret();
    let b = random_secret();
    assert_ne!(a, b);
    assert_eq!((a.len(), b.len()), (64, 64));
}

#[test]
fn gen_secret_base64_writes_a_key_that_secrets_key_file_takes() {
    let dir = Scratch::new();
    let path = dir.0.join("secrets_key");

    assert_eq!(write_secret_file(&path, Format::Base64).unwrap(), SecretFile::Created);

    let mut env = std::collections::HashMap::new();
    env.insert("DATABASE_URL".to_string(), "postgres://u@db/upcheck".to_string());
    env.insert("SECRETS_KEY_FILE".to_string(), path.to_str().unwrap().to_string());
    let settings = upcheck_config::Settings::from_env_map(env).unwrap();
    assert_eq!(settings.require_keyring("upcheck-api").unwrap().current_id(), "k1");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}
