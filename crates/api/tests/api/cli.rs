//! `upcheck-api`'s command line, run as a built binary with an empty environment.

use upcheck_testkit::cli::{assert_command_line, run_without_environment};

const BIN: &str = env!("CARGO_BIN_EXE_upcheck-api");

#[test]
fn help_version_and_unknown_subcommands_need_no_environment() {
    assert_command_line(
        BIN,
        "upcheck-api",
        env!("CARGO_PKG_VERSION"),
        &["serve", "migrate", "rotate-secrets", "healthcheck", "gen-secret"],
    );
}

#[test]
fn gen_secret_writes_its_file_with_no_environment_and_keeps_it_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets/jwt_secret");
    let out = path.to_str().unwrap();

    let first = run_without_environment(BIN, &["gen-secret", "--out", out]);
    let written = std::fs::read_to_string(&path).unwrap();
    let second = run_without_environment(BIN, &["gen-secret", &format!("--out={out}")]);

    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(written.trim_end().len(), 64);
    assert_eq!(second.status.code(), Some(0), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stderr).contains("kept it"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

#[test]
fn gen_secret_without_out_is_a_usage_error() {
    let out = run_without_environment(BIN, &["gen-secret"]);

    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out <PATH>"));
}
