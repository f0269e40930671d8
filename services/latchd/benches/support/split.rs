//! A split deployment for the benches: the four contexts and a gateway, each its own
//! `latchd --services X` process of this build, on loopback and one PostgreSQL database.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ADMIN, Setup};

const NAMES: [&str; 5] = ["identity", "catalog", "flow", "request", "gateway"];

pub struct Deployment {
    grpc: BTreeMap<&'static str, SocketAddr>,
    children: Vec<Child>,
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

impl Deployment {
    pub async fn start(setup: &Setup) -> Self {
        let grpc: BTreeMap<&'static str, SocketAddr> = NAMES.iter().map(|n| (*n, free_port())).collect();
        let config = super::config(setup);
        let audit = super::signed_audit();
        let mut children = Vec::new();
        for name in NAMES {
            let mut command = Command::new(env!("CARGO_BIN_EXE_latchd"));
            command
                .args(["--services", name, "--grpc-addr", &grpc[name].to_string()])
                .args(["--http-addr", &free_port().to_string()])
                .arg("--data-dir")
                .arg(setup.dir.path().join(name))
                .env("LATCH_BOOTSTRAP_TOKEN", ADMIN)
                .env("LATCH_ENCRYPTION_KEY", &config.encryption_key)
                .env("LATCH_AUDIT__SIGNING_KEY", &audit.signing_key)
                .env("LATCH_DATABASE_URL", &setup.database_url)
                .env("LATCH_TELEMETRY__LOG_LEVEL", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            for peer in NAMES.iter().filter(|p| **p != "gateway" && **p != name) {
                command.env(
                    format!("LATCH_PEERS__{}", peer.to_uppercase()),
                    format!("http://{}", grpc[peer]),
                );
            }
            children.push(command.spawn().expect("start latchd"));
            wait_serving(name, grpc[name]).await;
        }
        Self { grpc, children }
    }

    pub fn gateway(&self) -> SocketAddr {
        self.grpc["gateway"]
    }

    pub fn grpc(&self, name: &str) -> SocketAddr {
        self.grpc[name]
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // The gateway first, identity last: no process outlives the peers it calls.
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn wait_serving(name: &str, addr: SocketAddr) {
    let started = Instant::now();
    loop {
        let serving = async {
            let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                .ok()?
                .connect()
                .await
                .ok()?;
            let status = tonic_health::pb::health_client::HealthClient::new(channel)
                .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                .await
                .ok()?
                .into_inner()
                .status;
            Some(status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
        };
        if serving.await == Some(true) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{name} not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
