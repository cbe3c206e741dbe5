//! Checks a built binary's command line the way an operator meets it: run with an empty
//! environment (no `DATABASE_URL`, no `JWT_SECRET`), `--help` lists the subcommands and says
//! where settings come from, `--version` prints the version, an unknown subcommand exits 2.

use std::process::{Command, Output};

/// Runs the binary at `path` with `args` and an empty environment, and waits for it.
///
/// # Panics
/// When the binary cannot be started.
pub fn run_without_environment(path: &str, args: &[&str]) -> Output {
    Command::new(path).args(args).env_clear().output().unwrap_or_else(|e| panic!("cannot run {path}: {e}"))
}

/// Asserts that the binary at `path` (from `env!("CARGO_BIN_EXE_<name>")`), given no
/// environment at all: answers `--help` with exit 0, naming each of `subcommands` and
/// `UPCHECK_CONFIG`; answers `--version` with `<name> <version>` and exit 0; and exits 2 with
/// clap's message for an unknown subcommand.
///
/// # Panics
/// On the first of these that does not hold.
pub fn assert_command_line(path: &str, name: &str, version: &str, subcommands: &[&str]) {
    let help = run_without_environment(path, &["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0), "{name} --help: {}", String::from_utf8_lossy(&help.stderr));
    for sub in subcommands {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(&format!("{sub} "))),
            "{name} --help does not list {sub}:\n{text}"
        );
    }
    assert!(text.contains("UPCHECK_CONFIG"), "{name} --help does not say where settings come from:\n{text}");

    let ver = run_without_environment(path, &["--version"]);
    assert_eq!(ver.status.code(), Some(0), "{name} --version: {}", String::from_utf8_lossy(&ver.stderr));
    assert_eq!(String::from_utf8_lossy(&ver.stdout).trim_end(), format!("{name} {version}"));

    let unknown = run_without_environment(path, &["frobnicate"]);
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(unknown.status.code(), Some(2), "{name} frobnicate: {err}");
    assert!(err.contains("unrecognized subcommand 'frobnicate'"), "{name} frobnicate: {err}");
}
