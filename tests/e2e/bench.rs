//! `latch bench` against a real `latchd` process on the system clock: every phase runs its
//! calls, the requests reach ACTIVE, and the figures and the server's CPU and memory are
//! reported as JSON.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{ADMIN_TOKEN, workspace_binary};
use crate::split_harness::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_runs_every_phase_against_a_separate_latchd() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("latchd.log")).unwrap();
    let database_url = crate::harness::fresh_postgres().await.unwrap_or_default();
    let mut latchd = Command::new(workspace_binary("latchd"));
    if !database_url.is_empty() {
        latchd
            .arg("--database-url")
            .arg(&database_url)
            .env("LATCH_ENCRYPTION_KEY", crate::harness::ENCRYPTION_KEY)
            .env("LATCH_AUDIT__SIGNING_KEY", crate::harness::AUDIT_SIGNING_KEY);
    }
    let mut latchd = latchd
        .args(["--grpc-addr", &grpc.to_string(), "--http-addr", &http.to_string()])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("LATCH_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
        .env("LATCH_TELEMETRY__LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start latchd");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(grpc).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "latchd not listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = tokio::process::Command::new(workspace_binary("latch"))
        .args([
            "bench",
            "--users",
            "60",
            "--groups",
            "3",
            "--requesters",
            "12",
            "--resources",
            "50",
            "--count",
            "30",
            "--concurrency",
            "4",
            "--max-seconds",
            "60",
            "--run",
            "e2e",
            "-o",
            "json",
        ])
        .arg("--server-pid")
        .arg(latchd.id().to_string())
        .env("LATCH_SERVER", format!("http://{grpc}"))
        .env("LATCH_TOKEN", ADMIN_TOKEN)
        .env("LATCH_CONFIG_DIR", dir.path())
        .output()
        .await
        .expect("run latch bench");
    let _ = latchd.kill();
    let _ = latchd.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON document");
    let phases = report["phases"].as_array().expect("phases");
    let names: Vec<&str> = phases.iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "submit automatic",
            "automatic → ACTIVE",
            "submit pending",
            "ListApprovals, 30 pending",
            "approve",
            "approved → ACTIVE",
            "extend",
            "revoke",
            "read GetRequest",
            "read ListApprovals",
            "read ListRequestable",
        ]
    );
    for phase in phases {
        assert_eq!(phase["errors"], 0, "{phase}");
        assert_eq!(phase["calls"], 30, "every call of {phase}");
        assert!(phase["per_second"].as_f64().unwrap() > 0.0, "{phase}");
        assert!(
            phase["p99_ms"].as_f64().unwrap() >= phase["p50_ms"].as_f64().unwrap(),
            "{phase}"
        );
        assert!(phase["server"]["rss_mib"].as_f64().unwrap() > 1.0, "{phase}");
    }
}

#[tokio::test]
async fn the_load_generator_refuses_a_world_it_cannot_build() {
    let output = tokio::process::Command::new(workspace_binary("latch"))
        .args(["bench", "--users", "10", "--groups", "5", "--requesters", "6"])
        .env("LATCH_SERVER", "http://127.0.0.1:1")
        .env("LATCH_TOKEN", ADMIN_TOKEN)
        .output()
        .await
        .expect("run latch bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--users must be at least --groups"), "{stderr}");
}
