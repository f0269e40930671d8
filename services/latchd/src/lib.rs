//! Assembles the Latch server from its contexts: one process, any subset of services.
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use latch_identity::grpc::{IdentityGrpc, IdentityInternalGrpc};
use latch_identity::service::{BootstrapOutcome, LocalAuthenticator, parse_import_document};
use latch_identity::{IdentityService, IdentityStore};
use latch_runtime::crypto::SecretBox;
use latch_runtime::server::GrpcRoutes;
use latch_runtime::service_identity::ServiceName;
use latch_runtime::{LatchConfig, SharedClock, SystemClock};
use tokio::net::TcpListener;

mod demo;
pub mod gateway;
#[allow(dead_code)] // Until every context calls its peers through a link.
mod links;

/// Every service this build can run, in start order.
pub const ALL_SERVICES: &[&str] = &["identity", "catalog", "flow", "request"];

const DEMO_DIRECTORY: &str = include_str!("demo.yaml");

/// The connectors built into this server, plus any the embedder adds (a connector with the
/// name of a built-in one replaces it).
fn builtin_connectors(extra: &[SharedConnector]) -> latch_catalog::connectors::ConnectorRegistry {
    let mut registry = latch_catalog::connectors::ConnectorRegistry::new()
        .with(Arc::new(latch_connector_demo::DemoConnector::new()))
        .with(Arc::new(latch_connector_postgres::PostgresConnector::new()));
    for connector in extra {
        registry = registry.with(connector.clone());
    }
    registry
}

pub type SharedConnector = Arc<dyn latch_connector_sdk::Connector>;

#[derive(Default, Clone)]
pub struct AppOptions {
    /// Services to run; empty means all.
    pub services: Vec<String>,
    /// Load the demo directory at start.
    pub demo: bool,
    /// The clock; the system clock when `None` (tests pass a manual one).
    pub clock: Option<SharedClock>,
    /// Connectors to add to the built-in ones (tests pass instrumented ones).
    pub connectors: Vec<SharedConnector>,
    /// Run the request workers (grant, extend, revoke jobs); on by default.
    pub no_workers: bool,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("services", &self.services)
            .field("demo", &self.demo)
            .field(
                "connectors",
                &self.connectors.iter().map(|c| c.describe().name).collect::<Vec<_>>(),
            )
            .field("no_workers", &self.no_workers)
            .finish()
    }
}

/// Opens identity's store, bootstraps the admin and loads the demo directory when asked.
async fn open_identity(
    config: &LatchConfig,
    clock: SharedClock,
    secrets: SecretBox,
    demo: bool,
) -> anyhow::Result<(IdentityService, BootstrapOutcome)> {
    let db = latch_runtime::database::connect_context(config, "identity", latch_identity::store::MIGRATIONS)
        .await
        .context("identity database")?;
    let identity = IdentityService::open(IdentityStore::new(db), clock, secrets, config.identity.clone()).await?;
    let bootstrap = identity.bootstrap(&config.bootstrap_token).await?;
    if demo {
        let document = parse_import_document(DEMO_DIRECTORY)?;
        let report = identity.import_directory("demo", &document, false).await?;
        tracing::info!(
            created = report.created.len(),
            changed = report.changed.len(),
            "demo directory loaded"
        );
    }
    Ok((identity, bootstrap))
}

/// The context a process without identity calls identity as.
fn first_context(services: &[String]) -> anyhow::Result<ServiceName> {
    services
        .iter()
        .find_map(|s| s.parse::<ServiceName>().ok().filter(|n| *n != ServiceName::Identity))
        .ok_or_else(|| anyhow::anyhow!("no service to run"))
}

/// The directory replica built for the contexts that read people.
fn replica(people: &Option<latch_directory::DirectoryReplica>) -> anyhow::Result<latch_directory::DirectoryReplica> {
    people
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no directory replica was built for this context"))
}

/// The key services sign their calls to each other with, derived from the encryption key.
fn secrets_key(config: &LatchConfig) -> anyhow::Result<[u8; 32]> {
    Ok(SecretBox::from_config_or_file(&config.encryption_key, &config.data_dir)?.derive_key("service identity"))
}

pub struct App {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    routes: GrpcRoutes,
    http: axum::Router,
    authenticator: latch_runtime::auth::SharedAuthenticator,
    identity: Option<IdentityService>,
    catalog: Option<latch_catalog::CatalogService>,
    flow: Option<latch_flow::FlowService>,
    request: Option<latch_request::RequestService>,
    bootstrap: BootstrapOutcome,
    background: Background,
    /// Released when the server stops.
    _data_dir_lock: Option<latch_runtime::database::DataDirLock>,
}

/// Background tasks, aborted when the server stops or is dropped (an aborted server must not
/// leave workers running).
#[derive(Default)]
struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Background {
    /// Aborts every task and waits until none runs any more.
    async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.0);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl App {
    /// Connects databases, applies migrations, bootstraps the admin and binds both listeners
    /// (port 0 picks a free port; read it back with [`App::grpc_addr`]).
    pub async fn build(config: LatchConfig, options: AppOptions) -> anyhow::Result<Self> {
        let services = if options.services.is_empty() {
            ALL_SERVICES.iter().map(|s| s.to_string()).collect()
        } else {
            options.services.clone()
        };
        for service in &services {
            if !ALL_SERVICES.contains(&service.as_str()) {
                anyhow::bail!(
                    "unknown service {service:?}; this build runs: {}",
                    ALL_SERVICES.join(", ")
                );
            }
        }

        config.check().map_err(|rule| anyhow::anyhow!(rule))?;
        let data_dir_lock = if config.is_postgres() {
            None
        } else {
            Some(latch_runtime::database::lock_data_dir(&config.data_dir)?)
        };
        // Replicas on one PostgreSQL must share the key that seals secrets; a key generated per
        // pod would make each unable to read the others' secrets.
        anyhow::ensure!(
            !config.is_postgres() || !config.encryption_key.is_empty(),
            "LATCH_ENCRYPTION_KEY (base64 of 32 bytes, e.g. `openssl rand -base64 32`) is required with PostgreSQL"
        );
        // Likewise the key that signs audit checkpoints: it must be the same on every replica.
        anyhow::ensure!(
            !config.is_postgres() || !config.audit.signing_key.is_empty(),
            "LATCH_AUDIT__SIGNING_KEY (base64 of a 32-byte Ed25519 seed, e.g. `openssl rand -base64 32`) is required with PostgreSQL"
        );
        let clock = options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        let secrets = SecretBox::from_config_or_file(&config.encryption_key, &config.data_dir)
            .context("encryption key (LATCH_ENCRYPTION_KEY)")?;
        // Replicas sharing the encryption key accept each other's page tokens.
        latch_runtime::pagination::set_token_key(secrets.derive_key("page tokens"));
        // A process without identity neither opens its database nor bootstraps it.
        let (identity, bootstrap) = if services.iter().any(|s| s == "identity") {
            let (identity, bootstrap) = open_identity(&config, clock, secrets, options.demo).await?;
            (Some(identity), bootstrap)
        } else {
            (None, BootstrapOutcome::AlreadyBootstrapped)
        };
        let follow_every = if config.is_postgres() {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(2)
        };
        let mut background = Vec::new();
        // Services prove themselves to each other with a key every process derives alike.
        let service_key = latch_runtime::service_identity::ServiceKey::new(secrets_key(&config)?);
        let mut links = links::Links::new(service_key.clone(), config.peers.clone());
        let authenticator: latch_runtime::auth::SharedAuthenticator = match &identity {
            Some(identity) => Arc::new(LocalAuthenticator::new(identity.clone())),
            // Asked of the identity service, as the first context this process runs.
            None => Arc::new(latch_runtime::remote_auth::RemoteAuthenticator::new(
                links.peer(ServiceName::Identity, first_context(&services)?)?,
            )),
        };
        let mut routes = GrpcRoutes::new();
        routes.set_service_key(service_key);
        if let Some(identity) = &identity {
            background.push(identity.spawn_follower(follow_every));
            routes.add(IdentityGrpc::new(identity.clone()).into_server());
            routes.add_internal(
                IdentityInternalGrpc::new(identity.clone()).into_server(),
                &[
                    ServiceName::Catalog,
                    ServiceName::Flow,
                    ServiceName::Request,
                    ServiceName::Gateway,
                ],
            );
            background.push(links.serve(ServiceName::Identity, &routes, authenticator.clone()));
        }
        let catalog = if services.iter().any(|s| s == "catalog") {
            let db = latch_runtime::database::connect_context(&config, "catalog", latch_catalog::store::MIGRATIONS)
                .await
                .context("catalog database")?;
            let catalog = latch_catalog::CatalogService::open(
                latch_catalog::store::CatalogStore::new(db),
                builtin_connectors(&options.connectors),
                SecretBox::from_config_or_file(&config.encryption_key, &config.data_dir)?,
                options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
                Arc::new(latch_catalog::peers::identity::IdentityDirectory::new(
                    links.peer(ServiceName::Identity, ServiceName::Catalog)?,
                )),
            )
            .await?;
            let sync_every = Duration::from_secs(config.catalog.sync_interval_secs.max(10));
            background.extend(catalog.spawn_background(follow_every, sync_every));
            routes.add(latch_catalog::grpc::CatalogGrpc::new(catalog.clone()).into_server());
            routes.add_internal(
                latch_catalog::grpc::internal::CatalogInternalGrpc::new(catalog.clone()).into_server(),
                &[ServiceName::Flow, ServiceName::Request],
            );
            background.push(links.serve(ServiceName::Catalog, &routes, authenticator.clone()));
            Some(catalog)
        } else {
            None
        };
        // What identity knows of people, in memory for flow and request (one replica for both).
        let people = match ["flow", "request"]
            .into_iter()
            .find(|c| services.iter().any(|s| s == c))
        {
            Some(reader) => {
                let reader = if reader == "flow" {
                    ServiceName::Flow
                } else {
                    ServiceName::Request
                };
                let replica = latch_directory::DirectoryReplica::new(links.peer(ServiceName::Identity, reader)?);
                background.push(replica.spawn());
                Some(replica)
            }
            None => None,
        };
        let flow = match (&catalog, services.iter().any(|s| s == "flow")) {
            (Some(_), true) => {
                let catalog =
                    latch_flow::peers::catalog::CatalogPeer::new(links.peer(ServiceName::Catalog, ServiceName::Flow)?);
                let db = latch_runtime::database::connect_context(&config, "flow", latch_flow::store::MIGRATIONS)
                    .await
                    .context("flow database")?;
                let flow = latch_flow::FlowService::open(
                    latch_flow::store::FlowStore::new(db),
                    Arc::new(latch_flow::peers::identity::IdentityPeople::new(replica(&people)?)),
                    Arc::new(catalog.clone()),
                    options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
                )
                .await?;
                background.push(flow.spawn_follower(follow_every));
                background.push(catalog.follow(flow.clone()));
                routes.add(latch_flow::grpc::FlowGrpc::new(flow.clone()).into_server());
                routes.add_internal(
                    latch_flow::grpc::internal::FlowInternalGrpc::new(flow.clone()).into_server(),
                    &[ServiceName::Request],
                );
                background.push(links.serve(ServiceName::Flow, &routes, authenticator.clone()));
                Some(flow)
            }
            (None, true) => {
                anyhow::bail!("the flow service needs the catalog in the same process (--services …,catalog,flow)")
            }
            _ => None,
        };
        let request = match (&catalog, &flow, services.iter().any(|s| s == "request")) {
            (Some(catalog), Some(flow), true) => {
                let db = latch_runtime::database::connect_context(&config, "request", latch_request::store::MIGRATIONS)
                    .await
                    .context("request database")?;
                let request = latch_request::RequestService::open(
                    db,
                    latch_request::ports::Ports {
                        flows: Arc::new(latch_request::peers::flow::FlowPeer::new(
                            links.peer(ServiceName::Flow, ServiceName::Request)?,
                        )),
                        people: Arc::new(latch_request::peers::identity::IdentityPeople::new(
                            replica(&people)?,
                            links.peer(ServiceName::Identity, ServiceName::Request)?,
                        )),
                        targets: Arc::new(latch_request::peers::catalog::CatalogPeer::new(
                            links.peer(ServiceName::Catalog, ServiceName::Request)?,
                        )),
                    },
                    options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
                    SecretBox::from_config_or_file(&config.encryption_key, &config.data_dir)?,
                    latch_request::RequestConfig {
                        approval_timeout: chrono::TimeDelta::hours(config.request.approval_timeout_hours.max(1) as i64),
                        poll: Duration::from_millis(config.request.poll_ms.max(10)),
                        webhooks: config.notifications.webhooks.clone(),
                        expiry_lead: chrono::TimeDelta::minutes(config.notifications.expiry_lead_minutes as i64),
                        audit_key: Some(
                            latch_request::service::audit_key::load(&config.audit.signing_key, &config.data_dir)
                                .map_err(anyhow::Error::msg)?,
                        ),
                        checkpoint_every_events: config.audit.checkpoint_every_events as i64,
                        checkpoint_every: chrono::TimeDelta::minutes(config.audit.checkpoint_every_minutes as i64),
                        ..latch_request::RequestConfig::default()
                    },
                );
                if !options.no_workers {
                    background.push(request.spawn_workers());
                    background.push(
                        request.spawn_reconciler(Duration::from_secs(config.request.reconcile_interval_secs.max(10))),
                    );
                    if config.request.drift_check_minutes > 0 {
                        background.push(request.spawn_drift_checks(
                            Duration::from_secs(config.request.drift_check_minutes * 60),
                            config.request.repair_drift,
                        ));
                    }
                }
                // The audit log is sealed and fed with directory changes even without workers.
                background.push(request.spawn_audit(Duration::from_millis(200)));
                let sink: Arc<dyn latch_runtime::audit::AuditSink> =
                    Arc::new(latch_request::service::RequestAuditSink::new(&request));
                if let Some(identity) = &identity {
                    identity.audit().connect(sink.clone());
                }
                catalog.audit().connect(sink.clone());
                flow.audit().connect(sink);
                routes.add(latch_request::audit_grpc::AuditGrpc::new(request.clone()).into_server());
                routes.add(latch_request::grpc::RequestGrpc::new(request.clone()).into_server());
                Some(request)
            }
            (_, _, true) => {
                anyhow::bail!(
                    "the request service needs the catalog and flow in the same process (--services …,catalog,flow,request)"
                )
            }
            _ => None,
        };
        let mut http = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
        if let Some(identity) = &identity {
            http = http.nest(
                "/scim/v2",
                latch_identity::scim::router(
                    identity.clone(),
                    Some(config.public_url.clone()).filter(|u| !u.is_empty()),
                ),
            );
        }

        if options.demo
            && let (Some(identity), Some(catalog), Some(flow)) = (&identity, &catalog, &flow)
        {
            demo::load_catalog_and_flow(identity, catalog, flow).await?;
        }

        let grpc_listener = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("cannot listen for gRPC on {}", config.grpc_addr))?;
        let http_listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", config.http_addr))?;
        Ok(Self {
            grpc_listener,
            http_listener,
            routes,
            http,
            authenticator,
            identity,
            catalog,
            flow,
            request,
            bootstrap,
            background: Background(background),
            _data_dir_lock: data_dir_lock,
        })
    }

    /// The flow service, when this process runs it.
    pub fn flow(&self) -> Option<&latch_flow::FlowService> {
        self.flow.as_ref()
    }

    /// The request service, when this process runs it.
    pub fn request(&self) -> Option<&latch_request::RequestService> {
        self.request.as_ref()
    }

    /// The catalog service, when this process runs it.
    pub fn catalog(&self) -> Option<&latch_catalog::CatalogService> {
        self.catalog.as_ref()
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The identity service, when this process runs it.
    pub fn identity(&self) -> Option<&IdentityService> {
        self.identity.as_ref()
    }

    pub fn bootstrap(&self) -> &BootstrapOutcome {
        &self.bootstrap
    }

    /// The one-time message for the operator when a random admin token was created.
    pub fn bootstrap_message(&self) -> Option<String> {
        match &self.bootstrap {
            BootstrapOutcome::Created { user_name, secret } => Some(format!(
                "\nLatch created the bootstrap admin `{user_name}`. Its API token, shown only this once:\n\n    {secret}\n\n\
                 Try it:  export LATCH_TOKEN={secret} && latch whoami\n"
            )),
            _ => None,
        }
    }

    /// Serves gRPC and HTTP until `shutdown` resolves, then drains both.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut receiver: tokio::sync::watch::Receiver<bool>| async move {
            let _ = receiver.wait_for(|stop| *stop).await;
        };
        tracing::info!(grpc = %self.grpc_addr(), http = %self.http_addr(), "latchd ready");
        let grpc = self
            .routes
            .serve(self.grpc_listener, self.authenticator, wait(stopped.clone()));
        let http = axum::serve(self.http_listener, self.http)
            .with_graceful_shutdown(wait(stopped))
            .into_future();
        let identity = self.identity.clone();
        let catalog = self.catalog.clone();
        let signal = async move {
            shutdown.await;
            // Long-lived streams would hold the graceful drain open forever.
            if let Some(identity) = &identity {
                identity.close_streams();
            }
            if let Some(catalog) = catalog {
                catalog.close_streams();
            }
            let _ = stop.send(true);
        };
        let (grpc, http, ()) = tokio::join!(grpc, http, signal);
        self.background.stop().await;
        // Jobs cut short by the stop go back to the queue now, not when their leases run out
        // (another replica, or this one restarted, takes them at once).
        if let Some(request) = &self.request
            && let Err(error) = request.release_own_leases().await
        {
            tracing::warn!(%error, "could not hand back the jobs this process held");
        }
        grpc.context("gRPC server")?;
        http.context("HTTP server")?;
        tracing::info!("latchd stopped");
        Ok(())
    }
}
