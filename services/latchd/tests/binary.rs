//! The `latchd` binary itself (building this test also builds the binary that the end-to-end
//! crash test and data-directory test start): a bad configuration stops it at start, naming the
//! key, before anything is opened.

use std::process::{Command, Output};

fn latchd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchd"));
    command.args(args).stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run latchd")
}

#[test]
fn a_misspelt_setting_stops_latchd_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("latch.toml");
    std::fs::write(&config, "[request]\nrepair_drfit = true\n").unwrap();
    let data_dir = dir.path().join("data");
    let output = latchd(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("repair_drfit"), "{said}");
    assert!(
        !data_dir.exists(),
        "nothing is created for a configuration that is refused"
    );
}

#[test]
fn a_setting_out_of_its_range_stops_latchd_naming_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let output = latchd(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ],
        &[("LATCH_REQUEST__POLL_MS", "0")],
    );
    assert!(!output.status.success(), "{output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("request.poll_ms: 0 is outside the allowed range 10–60000"),
        "{said}"
    );
}
