//! A split deployment on one machine: each context its own `latchd --services X` OS process,
//! a gateway in front, all on loopback, on PostgreSQL (one schema per context) when
//! `LATCH_TEST_DATABASE_URL` is set and otherwise on SQLite (one data directory per process).
//! Processes can be killed with SIGKILL and started again on the same ports and data.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use crate::harness::{ADMIN_TOKEN, AUDIT_SIGNING_KEY, Bearer, fresh_postgres, workspace_binary};

/// The key every process of one deployment shares (secrets at rest and service identities).
pub const ENCRYPTION_KEY: &str = "c3BsaXQtZGVwbG95bWVudC10ZXN0LWtleS0wMTIzNDU=";

/// A key of `context`'s own (base64 of 32 bytes), the same for every run.
pub fn context_key(context: &str) -> String {
    use base64::Engine as _;
    let mut key = [0u8; 32];
    for (i, b) in context.bytes().cycle().take(32).enumerate() {
        key[i] = b.wrapping_add(i as u8);
    }
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The contexts, in start order; the gateway comes last.
pub const CONTEXTS: [&str; 4] = ["identity", "catalog", "flow", "request"];

/// A port no one listens on, outside the kernel's ephemeral range (32768–60999 here): a port
/// the kernel handed out for a listener a moment ago is as likely to be taken next by any
/// outgoing connection (database pools, gRPC clients) of the many processes a split test runs.
/// Random in 20000–32767, checked free, and never handed out twice in this test process: a
/// killed process's port is free until it restarts, and another test must not take it then
/// (its process would answer this test's health checks and calls).
pub fn free_port() -> SocketAddr {
    use rand::Rng as _;
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut rng = rand::rng();
    loop {
        let port = rng.random_range(20_000..32_768u16);
        if !HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            continue;
        }
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr().expect("bound address");
        }
    }
}

/// One `latchd --services NAME` process.
pub struct Process {
    pub name: &'static str,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    data_dir: tempfile::TempDir,
    log: std::path::PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Process {
    fn new(name: &'static str, env: Vec<(String, String)>) -> Self {
        let data_dir = tempfile::tempdir().expect("data dir");
        let log = data_dir.path().join(format!("{name}.log"));
        Self {
            name,
            grpc: free_port(),
            http: free_port(),
            data_dir,
            log,
            env,
            child: None,
        }
    }

    /// A channel to this process's gRPC port, as a test client.
    pub fn channel(&self) -> Channel {
        channel(self.grpc)
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = Command::new(workspace_binary("latchd"));
        command
            .arg("--services")
            .arg(self.name)
            .arg("--grpc-addr")
            .arg(self.grpc.to_string())
            .arg("--http-addr")
            .arg(self.http.to_string())
            .arg("--data-dir")
            .arg(self.data_dir.path().join("data"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(command.spawn().expect("start latchd"));
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Everything the process has logged, across its restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until the process answers its health check with SERVING.
    pub async fn wait_ready(&mut self, within: Duration) {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("{} exited with {status}:\n{}", self.name, self.log_tail());
            }
            let mut health = tonic_health::pb::health_client::HealthClient::new(self.channel());
            let serving = health
                .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
                .await
                .is_ok_and(|r| {
                    r.into_inner().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                });
            if serving {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{} not ready within {within:?}:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A channel to a process of a split deployment, over TLS with the test client's certificate
/// ("tests": from the deployment's authority, naming no Latch service).
pub fn channel(addr: SocketAddr) -> Channel {
    crate::test_pki::channel_as("tests", addr)
}

/// Every context in its own process, and a gateway.
pub struct SplitDeployment {
    pub processes: BTreeMap<&'static str, Process>,
    /// Empty on SQLite.
    pub database_url: String,
}

impl SplitDeployment {
    /// Starts the contexts and the gateway, with mutual TLS on every hop, and waits until each
    /// is ready.
    pub async fn start() -> Self {
        Self::start_logging("warn").await
    }

    /// [`SplitDeployment::start`] with every process logging at `level`. Each process has a
    /// certificate naming its service; the contexts take only clients with a certificate from
    /// the test authority, and call each other over `https://`.
    pub async fn start_logging(level: &str) -> Self {
        let database_url = fresh_postgres().await.unwrap_or_default();
        let names: Vec<&'static str> = CONTEXTS.iter().copied().chain(["gateway"]).collect();
        let ports: BTreeMap<&str, SocketAddr> = names.iter().map(|n| (*n, free_port())).collect();
        let mut processes = BTreeMap::new();
        for name in &names {
            let mut env: Vec<(String, String)> = vec![
                ("LATCH_BOOTSTRAP_TOKEN".into(), ADMIN_TOKEN.into()),
                ("LATCH_ENCRYPTION_KEY".into(), ENCRYPTION_KEY.into()),
                ("LATCH_AUDIT__SIGNING_KEY".into(), AUDIT_SIGNING_KEY.into()),
                ("LATCH_REQUEST__POLL_MS".into(), "20".into()),
                ("LATCH_TELEMETRY__LOG_LEVEL".into(), level.into()),
            ];
            if !database_url.is_empty() {
                env.push(("LATCH_DATABASE_URL".into(), database_url.clone()));
            }
            env.extend(crate::test_pki::env(name));
            // Each context that seals secrets has keys of its own, which no other process holds.
            if matches!(*name, "identity" | "catalog" | "request") {
                env.push((
                    format!("LATCH_{}__ENCRYPTION_KEYS", name.to_uppercase()),
                    format!("{name}1:{}", context_key(name)),
                ));
            }
            if *name != "gateway" {
                env.push(("LATCH_TLS__REQUIRE_CLIENT_CERT".into(), "true".into()));
            }
            for peer in CONTEXTS {
                if peer != *name {
                    env.push((
                        format!("LATCH_PEERS__{}", peer.to_uppercase()),
                        format!("https://localhost:{}", ports[peer].port()),
                    ));
                }
            }
            let mut process = Process::new(name, env);
            process.grpc = ports[name];
            processes.insert(*name, process);
        }
        let mut deployment = Self {
            processes,
            database_url,
        };
        for name in names {
            deployment.start_process(name).await;
        }
        deployment
    }

    pub async fn start_process(&mut self, name: &str) {
        let process = self.processes.get_mut(name).expect("known process");
        process.start();
        process.wait_ready(Duration::from_secs(60)).await;
    }

    pub fn kill(&mut self, name: &str) {
        self.processes.get_mut(name).expect("known process").kill();
    }

    pub fn process(&self, name: &str) -> &Process {
        &self.processes[name]
    }

    /// The one address clients use.
    pub fn gateway(&self) -> SocketAddr {
        self.processes["gateway"].grpc
    }

    /// Every process's last log lines, for a failing assertion.
    pub fn logs(&self) -> String {
        self.processes
            .values()
            .map(|p| format!("--- {} ---\n{}", p.name, p.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl SplitDeployment {
    /// The data directory of one process (its SQLite files live under `data`).
    pub fn data_path(&self, name: &str) -> std::path::PathBuf {
        self.processes[name].data_dir.path().join("data")
    }

    /// A handle that prints every process's log tail if the test panics while it lives (it
    /// reads the log files, so it needs no borrow of the deployment).
    pub fn logs_on_panic(&self) -> LogsOnPanic {
        LogsOnPanic(self.processes.values().map(|p| (p.name, p.log.clone())).collect())
    }

    fn gateway_channel(&self) -> Channel {
        self.process("gateway").channel()
    }

    pub fn identity(&self, token: &str) -> crate::harness::Client {
        latch_proto::identity::v1::identity_service_client::IdentityServiceClient::with_interceptor(
            self.gateway_channel(),
            Bearer::token(token),
        )
    }

    pub fn catalog(&self, token: &str) -> crate::harness::CatalogClient {
        latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient::with_interceptor(
            self.gateway_channel(),
            Bearer::token(token),
        )
    }

    pub fn flows(&self, token: &str) -> crate::harness::FlowClient {
        latch_proto::flow::v1::flow_service_client::FlowServiceClient::with_interceptor(
            self.gateway_channel(),
            Bearer::token(token),
        )
    }

    pub fn requests(&self, token: &str) -> crate::harness::RequestClient {
        latch_proto::request::v1::request_service_client::RequestServiceClient::with_interceptor(
            self.gateway_channel(),
            Bearer::token(token),
        )
    }

    pub fn audit(&self, token: &str) -> crate::harness::AuditClient {
        latch_proto::request::v1::audit_service_client::AuditServiceClient::with_interceptor(
            self.gateway_channel(),
            Bearer::token(token),
        )
    }

    /// Each context keeps its own store: on PostgreSQL a schema of its own in the one database
    /// (and nothing in `public`), on SQLite its own file in its own process's data directory.
    pub async fn assert_each_context_has_its_own_store(&self) {
        if self.database_url.is_empty() {
            for name in CONTEXTS {
                let files: Vec<String> = std::fs::read_dir(self.data_path(name))
                    .expect("data dir")
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| f.ends_with(".db"))
                    .collect();
                assert_eq!(files, vec![format!("{name}.db")], "{name}'s data directory");
            }
            assert!(
                !self.data_path("gateway").join("identity.db").exists(),
                "the gateway keeps no context's store"
            );
            return;
        }
        use sea_orm::{ConnectionTrait, Statement};
        let database = sea_orm::Database::connect(self.database_url.as_str())
            .await
            .expect("the deployment's database");
        let rows = database
            .query_all_raw(Statement::from_string(
                database.get_database_backend(),
                "SELECT DISTINCT table_schema::text AS s FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
            ))
            .await
            .expect("list schemas");
        let schemas: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "s").expect("schema name"))
            .collect();
        database.close().await.ok();
        let mut expected: Vec<String> = CONTEXTS.iter().map(|c| c.to_string()).collect();
        expected.sort();
        assert_eq!(schemas, expected, "one schema per context, nothing shared");
    }
}

/// Prints the deployment's log tails when dropped during a panic.
pub struct LogsOnPanic(Vec<(&'static str, std::path::PathBuf)>);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (name, path) in &self.0 {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<_> = text.lines().collect();
            eprintln!("--- {name} ---\n{}", lines[lines.len().saturating_sub(40)..].join("\n"));
        }
    }
}

/// The PostgreSQL connector as its own OS process (`latch-connector-postgres --listen`).
pub struct ConnectorProcess {
    pub addr: SocketAddr,
    child: Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ConnectorProcess {
    pub async fn start_postgres() -> Self {
        let dir = tempfile::tempdir().expect("connector dir");
        let log = dir.path().join("connector.log");
        let addr = free_port();
        let child = Self::spawn(addr, &log);
        let mut process = Self {
            addr,
            child,
            log,
            _dir: dir,
        };
        process.wait_listening().await;
        process
    }

    fn spawn(addr: SocketAddr, log: &std::path::Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let tls = crate::test_pki::files("connector");
        Command::new(workspace_binary("latch-connector-postgres"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--tls-cert-file")
            .arg(&tls.cert_file)
            .arg("--tls-key-file")
            .arg(&tls.key_file)
            .arg("--tls-ca-file")
            .arg(&tls.ca_file)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start latch-connector-postgres")
    }

    async fn wait_listening(&mut self) {
        let started = Instant::now();
        while tokio::net::TcpStream::connect(self.addr).await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("connector exited with {status}: {}", self.log_tail());
            }
            assert!(started.elapsed() < Duration::from_secs(20), "connector not listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: calls in flight end with the connection.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Started again on the same address after [`ConnectorProcess::kill`].
    pub async fn restart(&mut self) {
        self.child = Self::spawn(self.addr, &self.log);
        self.wait_listening().await;
    }

    /// Over mutual TLS: the connector admits the catalog's certificate only.
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// A remote integration named `target` on this connector, managing `database` on the local
    /// PostgreSQL (trust authentication there: `password` is sent, never checked).
    pub fn integration(
        &self,
        database: &str,
        password: &str,
        request_id: &str,
    ) -> latch_proto::catalog::v1::CreateIntegrationRequest {
        let (host, port, user) = crate::postgres_catalog::url_parts(&crate::postgres_catalog::server_url());
        latch_proto::catalog::v1::CreateIntegrationRequest {
            integration: Some(latch_proto::catalog::v1::Integration {
                display_name: "target".into(),
                connector: "remote".into(),
                endpoint: self.endpoint(),
                config: [
                    ("host".to_string(), host),
                    ("port".to_string(), port),
                    ("user".to_string(), user),
                    ("databases".to_string(), database.to_string()),
                ]
                .into(),
                ..Default::default()
            }),
            secrets: [("password".to_string(), password.to_string())].into(),
            request_id: request_id.into(),
        }
    }

    pub fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ConnectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
