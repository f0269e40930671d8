//! Assembles the Latch server from its contexts: one process, any subset of services.
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use latch_identity::IdentityService;
use latch_identity::service::{BootstrapOutcome, parse_import_document};
use latch_runtime::crypto::SecretBox;
use latch_runtime::server::GrpcRoutes;
use latch_runtime::service_identity::ServiceName;
use latch_runtime::{LatchConfig, SharedClock, SystemClock};
use tokio::net::TcpListener;

mod demo;
pub mod gateway;
mod keys;
mod links;

pub use keys::reseal_all;

/// Every service this build can run, in start order.
pub const ALL_SERVICES: &[ServiceName] = &[
    ServiceName::Identity,
    ServiceName::Catalog,
    ServiceName::Flow,
    ServiceName::Request,
];

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

/// The contexts to run: all of them by default.
pub fn contexts(requested: &[String]) -> anyhow::Result<Vec<ServiceName>> {
    if requested.is_empty() {
        return Ok(ALL_SERVICES.to_vec());
    }
    let mut contexts = Vec::new();
    for name in requested {
        let service: ServiceName = name.trim().parse().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            service != ServiceName::Gateway,
            "the gateway runs alone (--services gateway); it has no context of its own"
        );
        if !contexts.contains(&service) {
            contexts.push(service);
        }
    }
    // Start order: a context's in-process peers are served before it opens.
    contexts.sort();
    Ok(contexts)
}

/// The contexts each one calls.
fn needs(context: ServiceName) -> &'static [ServiceName] {
    match context {
        ServiceName::Identity | ServiceName::Gateway => &[],
        ServiceName::Catalog => &[ServiceName::Identity],
        ServiceName::Flow => &[ServiceName::Identity, ServiceName::Catalog],
        ServiceName::Request => &[ServiceName::Identity, ServiceName::Catalog, ServiceName::Flow],
    }
}

/// The directory replica built for the contexts that read people.
fn replica(people: &Option<latch_directory::DirectoryReplica>) -> anyhow::Result<latch_directory::DirectoryReplica> {
    people
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no directory replica was built for this context"))
}

pub struct App {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    /// How each port serves: TLS when `tls.*` is configured.
    grpc_security: latch_tls::server::Security,
    http_security: latch_tls::server::Security,
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
        let contexts = contexts(&options.services)?;
        // Processes of a split deployment must share the keys: services sign their calls with
        // one derived from the encryption key, and any of them may read another's page tokens.
        let split = contexts.len() < ALL_SERVICES.len();
        anyhow::ensure!(
            !split || !config.encryption_key.is_empty(),
            "LATCH_ENCRYPTION_KEY (base64 of 32 bytes, e.g. `openssl rand -base64 32`) is required when services run in separate processes: every process must share it"
        );
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
        let clock: SharedClock = options.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        let secrets = SecretBox::from_config_or_file(&config.encryption_key, &config.data_dir)
            .context("encryption key (LATCH_ENCRYPTION_KEY)")?;
        // Replicas sharing the encryption key accept each other's page tokens.
        latch_runtime::pagination::set_token_key(secrets.derive_key("page tokens"));
        // Services prove themselves to each other with a key every process derives alike.
        let service_key = latch_runtime::service_identity::ServiceKey::new(secrets.derive_key("service identity"));
        // One certificate for every listener and every client of this process, followed as it
        // rotates.
        if split {
            latch_runtime::key_rings::refuse_foreign_rings(&config, &contexts)?;
        }
        let tls = config.tls.load()?;
        if let Some(tls) = &tls {
            latch_runtime::tls_config::check_own_identity(tls, &contexts)?;
        }
        let dialer = latch_tls::client::TlsConnector::new(tls.as_ref());
        let mut links = links::Links::new(service_key.clone(), config.peers.clone(), dialer.clone());
        // Every peer a requested context needs is here or configured, before anything opens.
        for context in &contexts {
            for needed in needs(*context) {
                if !contexts.contains(needed) && config.peers.of(*needed).is_none() {
                    anyhow::bail!(
                        "the {context} service needs the {needed} service: run it in this process (--services …,{needed}) \
                         or set peers.{needed} (LATCH_PEERS__{}) to its gRPC address",
                        needed.as_str().to_uppercase()
                    );
                }
            }
        }
        let follow_every = config.follow_every();
        let mut background = Vec::new();
        if let Some(tls) = &tls {
            background.push(tls.spawn_reloader(config.tls.reload_every()));
        }
        let mut routes = GrpcRoutes::new();
        routes.set_service_key(service_key);
        let mut http = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));

        // A process without identity neither opens its database nor bootstraps it, and asks
        // the identity service who each caller is.
        let (identity, bootstrap, authenticator) = if contexts.contains(&ServiceName::Identity) {
            let sealing = latch_runtime::key_rings::context_secrets(&config, &secrets, ServiceName::Identity, split)?;
            let server = latch_identity::server::IdentityServer::open(&config, clock.clone(), sealing).await?;
            if options.demo {
                let document = parse_import_document(DEMO_DIRECTORY)?;
                let report = server.service.import_directory("demo", &document, false).await?;
                tracing::info!(
                    created = report.created.len(),
                    changed = report.changed.len(),
                    "demo directory loaded"
                );
            }
            let authenticator = server.authenticator();
            server.register(&mut routes);
            background.extend(server.spawn(&config));
            http = http.merge(server.http(&config));
            background.push(links.serve(ServiceName::Identity, &routes, authenticator.clone()));
            (Some(server.service), server.bootstrap, authenticator)
        } else {
            let me = contexts[0];
            let authenticator: latch_runtime::auth::SharedAuthenticator = Arc::new(
                latch_runtime::remote_auth::RemoteAuthenticator::new(links.peer(ServiceName::Identity, me)?),
            );
            (None, BootstrapOutcome::AlreadyBootstrapped, authenticator)
        };

        let catalog = if contexts.contains(&ServiceName::Catalog) {
            let server = latch_catalog::server::CatalogServer::open(
                &config,
                builtin_connectors(&options.connectors).with_dialer(dialer.clone()),
                clock.clone(),
                latch_runtime::key_rings::context_secrets(&config, &secrets, ServiceName::Catalog, split)?,
                links.peer(ServiceName::Identity, ServiceName::Catalog)?,
            )
            .await?;
            server.register(&mut routes);
            background.extend(server.spawn(&config, follow_every));
            background.push(links.serve(ServiceName::Catalog, &routes, authenticator.clone()));
            Some(server.service)
        } else {
            None
        };

        // What identity knows of people, in memory for flow and request (one replica for both
        // when both run here; each registers its readiness on it).
        let people = match [ServiceName::Flow, ServiceName::Request]
            .into_iter()
            .find(|c| contexts.contains(c))
        {
            Some(reader) => {
                let replica = latch_directory::DirectoryReplica::new(links.peer(ServiceName::Identity, reader)?);
                background.push(replica.spawn());
                Some(replica)
            }
            None => None,
        };

        let flow = if contexts.contains(&ServiceName::Flow) {
            let server = latch_flow::server::FlowServer::open(
                &config,
                clock.clone(),
                replica(&people)?,
                links.peer(ServiceName::Catalog, ServiceName::Flow)?,
            )
            .await?;
            server.register(&mut routes);
            background.extend(server.spawn(follow_every));
            background.push(links.serve(ServiceName::Flow, &routes, authenticator.clone()));
            Some(server.service)
        } else {
            None
        };

        let request = if contexts.contains(&ServiceName::Request) {
            let server = latch_request::server::RequestServer::open(
                &config,
                clock.clone(),
                latch_runtime::key_rings::context_secrets(&config, &secrets, ServiceName::Request, split)?,
                latch_request::server::RequestPeers {
                    people: replica(&people)?,
                    identity: links.peer(ServiceName::Identity, ServiceName::Request)?,
                    flow: links.peer(ServiceName::Flow, ServiceName::Request)?,
                    catalog: links.peer(ServiceName::Catalog, ServiceName::Request)?,
                },
            )
            .await?;
            background.extend(server.spawn(&config, !options.no_workers));
            server.register(&mut routes);
            Some(server.service)
        } else {
            None
        };

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
            grpc_security: latch_runtime::tls_config::grpc_security(&config.tls, &tls),
            http_security: latch_runtime::tls_config::http_security(&tls),
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
        let grpc = self.routes.serve(
            self.grpc_listener,
            self.grpc_security,
            self.authenticator,
            wait(stopped.clone()),
        );
        let http_incoming =
            latch_tls::server::Incoming::new(self.http_listener, self.http_security, &[b"h2", b"http/1.1"])?;
        let http = axum::serve(http_incoming, self.http)
            .with_graceful_shutdown(wait(stopped))
            .into_future();
        let identity = self.identity.clone();
        let catalog = self.catalog.clone();
        let request = self.request.clone();
        let signal = async move {
            shutdown.await;
            // Long-lived streams would hold the graceful drain open forever.
            if let Some(identity) = &identity {
                identity.close_streams();
            }
            if let Some(catalog) = catalog {
                catalog.close_streams();
            }
            if let Some(request) = request {
                request.close_streams();
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
