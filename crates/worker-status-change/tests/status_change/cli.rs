//! `upcheck-worker-status-change`'s command line, run as a built binary with an empty environment.

#[test]
fn help_version_and_unknown_subcommands_need_no_environment() {
    upcheck_testkit::cli::assert_command_line(
        env!("CARGO_BIN_EXE_upcheck-worker-status-change"),
        "upcheck-worker-status-change",
        env!("CARGO_PKG_VERSION"),
        &["run", "healthcheck"],
    );
}
