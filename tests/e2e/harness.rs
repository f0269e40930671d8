//! Starts a whole Latch in-process on free ports with a fresh database per test: SQLite in a
//! temporary directory, or a new PostgreSQL database when `LATCH_TEST_DATABASE_URL` is set.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use latch_proto::identity::v1 as pb;
use latch_proto::identity::v1::identity_service_client::IdentityServiceClient;
use latch_runtime::clock::ManualClock;
use latch_runtime::{LatchConfig, SharedClock};
use latchd::{App, AppOptions};
use sea_orm::ConnectionTrait;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const ADMIN_TOKEN: &str = "latch_e2e_bootstrap_admin_token_0123456789";
/// The suite's encryption key (fixed, so replicas and restarts share it).
pub const ENCRYPTION_KEY: &str = "bGF0Y2gtZTJlLXRlc3Qta2V5LTAxMjM0NTY3ODkwMTI=";

#[derive(Clone)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// Sends `token` on every call.
    pub fn token(token: &str) -> Self {
        Self(Some(format!("Bearer {token}").parse().expect("ascii token")))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Client = IdentityServiceClient<InterceptedService<Channel, Bearer>>;
pub type FlowClient =
    latch_proto::flow::v1::flow_service_client::FlowServiceClient<InterceptedService<Channel, Bearer>>;
pub type RequestClient =
    latch_proto::request::v1::request_service_client::RequestServiceClient<InterceptedService<Channel, Bearer>>;
pub type AuditClient =
    latch_proto::request::v1::audit_service_client::AuditServiceClient<InterceptedService<Channel, Bearer>>;
pub type CatalogClient =
    latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient<InterceptedService<Channel, Bearer>>;

pub struct TestServer {
    pub grpc_addr: std::net::SocketAddr,
    pub http_base: String,
    pub clock: Arc<ManualClock>,
    pub data_dir: Arc<tempfile::TempDir>,
    pub database_url: String,
    /// The in-process catalog, for reaching its built-in connectors directly.
    pub catalog: Option<latch_catalog::CatalogService>,
    /// How clients dial it: over TLS (trusting its authority) when it was configured with TLS.
    tls: Option<latch_tls::client::TlsConnector>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow_free::Result>>,
}

mod anyhow_free {
    pub type Result = std::result::Result<(), String>;
}

/// A fixed instant so tests that read the clock are repeatable.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0)
        .single()
        .expect("valid instant")
}

/// A fresh PostgreSQL database for one test, or `None` to use SQLite.
pub async fn fresh_postgres() -> Option<String> {
    let base = std::env::var("LATCH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("latch_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(base.as_str())
        .await
        .expect("connect to LATCH_TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    let query = base.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Some(format!("{prefix}/{name}{query}"))
}

/// The audit signing key the suite configures on PostgreSQL (base64 of a 32-byte seed).
pub const AUDIT_SIGNING_KEY: &str = "bGF0Y2gtZTJlLWF1ZGl0LXNpZ25pbmcta2V5LTAxMjM=";

impl TestServer {
    pub async fn start() -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = fresh_postgres().await.unwrap_or_default();
        Self::start_on(data_dir, database_url, ManualClock::new(epoch())).await
    }

    /// Starts on an existing data directory and database (to test restarts).
    pub async fn start_on(data_dir: Arc<tempfile::TempDir>, database_url: String, clock: Arc<ManualClock>) -> Self {
        Self::start_with(data_dir, database_url, clock, Vec::new()).await
    }

    /// A fresh server with connectors of the test's own (kept across restarts by the test).
    /// A fresh server with connectors and configuration of the test's own.
    pub async fn start_fresh(
        connectors: Vec<latchd::SharedConnector>,
        configure: impl FnOnce(&mut LatchConfig),
    ) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = fresh_postgres().await.unwrap_or_default();
        Self::start_configured(
            data_dir,
            database_url,
            ManualClock::new(epoch()),
            connectors,
            AppOptions::default(),
            configure,
        )
        .await
    }

    /// A fresh server with server options of the test's own.
    pub async fn start_fresh_with(connectors: Vec<latchd::SharedConnector>, options: AppOptions) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = fresh_postgres().await.unwrap_or_default();
        Self::start_with_options(data_dir, database_url, ManualClock::new(epoch()), connectors, options).await
    }

    pub async fn start_with_connectors(connectors: Vec<latchd::SharedConnector>) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = fresh_postgres().await.unwrap_or_default();
        Self::start_with(data_dir, database_url, ManualClock::new(epoch()), connectors).await
    }

    /// Starts on a data directory and database with extra connectors.
    pub async fn start_with(
        data_dir: Arc<tempfile::TempDir>,
        database_url: String,
        clock: Arc<ManualClock>,
        connectors: Vec<latchd::SharedConnector>,
    ) -> Self {
        Self::start_with_options(data_dir, database_url, clock, connectors, AppOptions::default()).await
    }

    /// Starts with server options of the test's own (the clock and connectors given win).
    pub async fn start_with_options(
        data_dir: Arc<tempfile::TempDir>,
        database_url: String,
        clock: Arc<ManualClock>,
        connectors: Vec<latchd::SharedConnector>,
        options: AppOptions,
    ) -> Self {
        Self::start_configured(data_dir, database_url, clock, connectors, options, |_| {}).await
    }

    /// Starts with configuration of the test's own on top of the suite's.
    pub async fn start_configured(
        data_dir: Arc<tempfile::TempDir>,
        database_url: String,
        clock: Arc<ManualClock>,
        connectors: Vec<latchd::SharedConnector>,
        options: AppOptions,
        configure: impl FnOnce(&mut LatchConfig),
    ) -> Self {
        Self::try_start_configured(data_dir, database_url, clock, connectors, options, configure)
            .await
            .unwrap_or_else(|error| panic!("latch starts: {error}"))
    }

    /// Like [`Self::start_configured`], the refusal to start as the error.
    pub async fn try_start_configured(
        data_dir: Arc<tempfile::TempDir>,
        database_url: String,
        clock: Arc<ManualClock>,
        connectors: Vec<latchd::SharedConnector>,
        options: AppOptions,
        configure: impl FnOnce(&mut LatchConfig),
    ) -> Result<Self, String> {
        let mut config = LatchConfig {
            data_dir: data_dir.path().to_path_buf(),
            database_url: database_url.clone(),
            grpc_addr: "127.0.0.1:0".parse().expect("addr"),
            http_addr: "127.0.0.1:0".parse().expect("addr"),
            bootstrap_token: ADMIN_TOKEN.into(),
            // Fixed for the suite, so replicas and restarts share it (required with PostgreSQL).
            encryption_key: ENCRYPTION_KEY.into(),
            ..LatchConfig::default()
        };
        if !database_url.is_empty() {
            // Required with PostgreSQL; on SQLite the server generates one into the data dir.
            config.audit.signing_key = AUDIT_SIGNING_KEY.into();
        }
        configure(&mut config);
        let tls = config
            .tls
            .load()
            .map_err(|error| format!("{error:#}"))?
            .map(|source| latch_tls::client::TlsConnector::anonymous(&source));
        let shared: SharedClock = clock.clone();
        let app = App::build(
            config,
            AppOptions {
                clock: Some(shared),
                connectors,
                ..options
            },
        )
        .await
        .map_err(|error| format!("{error:#}"))?;
        let grpc_addr = app.grpc_addr();
        let catalog = app.catalog().cloned();
        let http_base = format!("http://{}", app.http_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until_stopped(async move {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| format!("{e:#}"))
        });
        Ok(Self {
            grpc_addr,
            http_base,
            clock,
            data_dir,
            database_url,
            catalog,
            tls,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) -> (Arc<tempfile::TempDir>, String, Arc<ManualClock>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
        (self.data_dir.clone(), self.database_url.clone(), self.clock.clone())
    }

    /// Stops the server abruptly, as a crash would: no drain, workers aborted mid-job.
    pub async fn kill(mut self) -> (Arc<tempfile::TempDir>, String, Arc<ManualClock>) {
        let stop = self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        drop(stop);
        (self.data_dir.clone(), self.database_url.clone(), self.clock.clone())
    }

    pub async fn requests_with(&self, token: Option<&str>) -> RequestClient {
        let (channel, bearer) = self.channel(token).await;
        latch_proto::request::v1::request_service_client::RequestServiceClient::with_interceptor(channel, bearer)
    }

    pub async fn audit_with(&self, token: Option<&str>) -> AuditClient {
        let (channel, bearer) = self.channel(token).await;
        latch_proto::request::v1::audit_service_client::AuditServiceClient::with_interceptor(channel, bearer)
    }

    /// The request context's database, as the server opened it (to tamper with in tests).
    pub async fn request_database(&self) -> sea_orm::DatabaseConnection {
        let config = LatchConfig {
            data_dir: self.data_dir.path().to_path_buf(),
            database_url: self.database_url.clone(),
            ..LatchConfig::default()
        };
        latch_runtime::database::connect_context(&config, "request", latch_request::store::MIGRATIONS)
            .await
            .expect("request database")
    }

    /// A fresh channel to the server and the interceptor that sends `token` as a Bearer credential.
    async fn channel(&self, token: Option<&str>) -> (Channel, Bearer) {
        let channel = match &self.tls {
            None => Channel::from_shared(format!("http://{}", self.grpc_addr))
                .expect("uri")
                .connect()
                .await
                .expect("connect over gRPC"),
            Some(dialer) => dialer
                .connect(Channel::from_shared(format!("https://localhost:{}", self.grpc_addr.port())).expect("uri"))
                .await
                .expect("connect over gRPC with TLS"),
        };
        let header = token.map(|t| format!("Bearer {t}").parse().expect("ascii token"));
        (channel, Bearer(header))
    }

    pub async fn client_with(&self, token: Option<&str>) -> Client {
        let (channel, bearer) = self.channel(token).await;
        IdentityServiceClient::with_interceptor(channel, bearer)
    }

    pub async fn catalog_with(&self, token: Option<&str>) -> CatalogClient {
        let (channel, bearer) = self.channel(token).await;
        latch_proto::catalog::v1::catalog_service_client::CatalogServiceClient::with_interceptor(channel, bearer)
    }

    pub async fn flows_with(&self, token: Option<&str>) -> FlowClient {
        let (channel, bearer) = self.channel(token).await;
        latch_proto::flow::v1::flow_service_client::FlowServiceClient::with_interceptor(channel, bearer)
    }

    pub async fn catalog_admin(&self) -> CatalogClient {
        self.catalog_with(Some(ADMIN_TOKEN)).await
    }

    pub async fn admin(&self) -> Client {
        self.client_with(Some(ADMIN_TOKEN)).await
    }

    /// Creates a user through the API and returns it with the secret of an API token of its own.
    pub async fn user_secret(&self, user_name: &str) -> (pb::User, String) {
        let mut admin = self.admin().await;
        let user = admin
            .create_user(pb::CreateUserRequest {
                user: Some(pb::User {
                    user_name: user_name.into(),
                    active: true,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("create user")
            .into_inner();
        let secret = admin
            .create_token(pb::CreateTokenRequest {
                user_id: user.id.clone(),
                description: "test".into(),
                ..Default::default()
            })
            .await
            .expect("create token")
            .into_inner()
            .secret;
        (user, secret)
    }

    /// Creates a user through the API and returns it with an identity client using its token.
    pub async fn user_with_token(&self, user_name: &str) -> (pb::User, Client) {
        let (user, secret) = self.user_secret(user_name).await;
        (user, self.client_with(Some(&secret)).await)
    }

    /// A SCIM-scoped token for the HTTP tests.
    pub async fn scim_token(&self) -> String {
        let mut admin = self.admin().await;
        admin
            .create_token(pb::CreateTokenRequest {
                description: "idp".into(),
                scope: pb::api_token::Scope::Scim as i32,
                ..Default::default()
            })
            .await
            .expect("create scim token")
            .into_inner()
            .secret
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn create_user(
    client: &mut Client,
    user_name: &str,
    attributes: &[(&str, &str)],
    manager_id: &str,
) -> pb::User {
    client
        .create_user(pb::CreateUserRequest {
            user: Some(pb::User {
                user_name: user_name.into(),
                email: format!("{user_name}@example.com"),
                active: true,
                manager_id: manager_id.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| latch_proto::common::v1::Attribute {
                        key: (*k).into(),
                        values: vec![(*v).into()],
                    })
                    .collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create user")
        .into_inner()
}

pub async fn create_group(client: &mut Client, name: &str, users: &[&str], groups: &[&str]) -> pb::Group {
    let members = users
        .iter()
        .map(|id| pb::GroupMember {
            kind: pb::group_member::Kind::User as i32,
            id: (*id).into(),
            display: String::new(),
        })
        .chain(groups.iter().map(|id| pb::GroupMember {
            kind: pb::group_member::Kind::Group as i32,
            id: (*id).into(),
            display: String::new(),
        }))
        .collect();
    client
        .create_group(pb::CreateGroupRequest {
            group: Some(pb::Group {
                display_name: name.into(),
                members,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create group")
        .into_inner()
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A binary of the workspace (`latch`, `latchd`) that `cargo test --workspace` builds beside
/// this test binary, or in `CARGO_TARGET_DIR` when the build directory is separate.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target directory");
    let mut binary = dir.join(name);
    if !binary.exists()
        && let Some(target) = std::env::var_os("CARGO_TARGET_DIR")
    {
        binary = std::path::Path::new(&target).join("debug").join(name);
    }
    assert!(
        binary.exists(),
        "{} is missing: run the suite with `cargo test --workspace`",
        binary.display()
    );
    binary
}
