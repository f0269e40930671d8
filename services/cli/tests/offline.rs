//! The `latch` binary where no server is needed: usage errors, missing credentials and an
//! unreachable server get the exit codes scripts rely on. (Against a real server: tests/e2e.)

use std::process::{Command, Output};

fn latch(args: &[&str], token: Option<&str>) -> Output {
    let config_dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_latch"));
    command
        .args(args)
        .env("LATCH_CONFIG_DIR", config_dir.path())
        .env("LATCH_SERVER", "http://127.0.0.1:1")
        .env_remove("LATCH_TOKEN")
        .env_remove("LATCH_OUTPUT");
    if let Some(token) = token {
        command.env("LATCH_TOKEN", token);
    }
    command.output().expect("run latch")
}

#[test]
fn help_succeeds_and_unknown_commands_are_usage_errors() {
    assert_eq!(latch(&["--help"], None).status.code(), Some(0));
    assert_eq!(latch(&["frobnicate"], None).status.code(), Some(2));
    assert_eq!(
        latch(&["users", "update", "ada"], Some("t")).status.code(),
        Some(2),
        "an update without changes"
    );
}

#[test]
fn no_token_is_exit_6_with_a_hint_and_no_server_call() {
    let output = latch(&["whoami"], None);
    assert_eq!(output.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&output.stderr).contains("latch login"));
}

#[test]
fn an_unreachable_server_is_exit_7() {
    let output = latch(&["whoami"], Some("latch_some_token_000000000000000000"));
    assert_eq!(output.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach latchd"));
}

#[test]
fn a_malformed_target_spec_is_a_usage_error_showing_the_syntax() {
    let output = latch(
        &["bundles", "create", "analyst", "--target", "prod-pg/table"],
        Some("t"),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("expected INTEGRATION/TYPE:PERM"), "{stderr}");
}

#[test]
fn catalog_commands_need_a_token_and_a_server() {
    let output = latch(&["integrations", "list"], None);
    assert_eq!(output.status.code(), Some(6));
    let output = latch(
        &[
            "targets",
            "resolve",
            "--target",
            "prod-pg/table:read@only:tag=env=prod|staging;name=orders",
        ],
        Some("latch_some_token_000000000000000000"),
    );
    assert_eq!(output.status.code(), Some(7));
}
