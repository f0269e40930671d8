//! gRPC server bootstrap: health, reflection, trace context, authentication and graceful
//! shutdown, the same for every service.

use std::future::Future;

use latch_tls::server::{Incoming, Security};
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;

use crate::auth::{AuthLayer, ServiceGate, SharedAuthenticator};
use crate::input_guard::InputGuardLayer;
use crate::peer::{MemoryConnector, memory_transport};
use crate::service_identity::{ServiceKey, ServiceName};
use crate::telemetry::TraceContextLayer;

/// The services one process serves, plus the health reporter that marks them serving.
pub struct GrpcRoutes {
    routes: tonic::service::RoutesBuilder,
    service_names: Vec<&'static str>,
    internal: Vec<(&'static str, Vec<ServiceName>)>,
    restricted: Vec<(String, Vec<ServiceName>)>,
    service_key: Option<ServiceKey>,
    readiness: Vec<crate::readiness::ReadyCheck>,
}

impl Default for GrpcRoutes {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcRoutes {
    pub fn new() -> Self {
        Self {
            routes: Routes::builder(),
            service_names: Vec::new(),
            internal: Vec::new(),
            restricted: Vec::new(),
            service_key: None,
            readiness: Vec::new(),
        }
    }

    /// The key that proves Latch services to each other; without it internal RPCs refuse all.
    pub fn set_service_key(&mut self, key: ServiceKey) -> &mut Self {
        self.service_key = Some(key);
        self
    }

    /// Adds an internal service (its proto name ends in `Internal`) that only `callers` may call.
    pub fn add_internal<S>(&mut self, service: S, callers: &[ServiceName]) -> &mut Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Error = std::convert::Infallible,
                Response = http::Response<tonic::body::Body>,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        debug_assert!(S::NAME.ends_with("Internal"), "{} is not named as internal", S::NAME);
        self.internal.push((S::NAME, callers.to_vec()));
        self.add(service)
    }

    /// Narrows one method of an internal service to fewer callers than the service admits
    /// (`/latch.catalog.v1.CatalogInternal/Grant`: only request may ask for connector access).
    pub fn restrict_method(&mut self, path: &str, callers: &[ServiceName]) -> &mut Self {
        self.restricted.push((path.to_string(), callers.to_vec()));
        self
    }

    /// Health reports NOT_SERVING while any of `checks` fails (e.g. while a feed the context
    /// evaluates from has not caught up), SERVING while all hold.
    pub fn add_readiness(&mut self, check: crate::readiness::ReadyCheck) -> &mut Self {
        self.readiness.push(check);
        self
    }

    fn gate(&self) -> Option<std::sync::Arc<ServiceGate>> {
        self.service_key.clone().map(|key| {
            let mut gate = ServiceGate::new(key);
            for (name, callers) in &self.internal {
                gate.allow(name, callers);
            }
            for (path, callers) in &self.restricted {
                gate.restrict(path, callers);
            }
            std::sync::Arc::new(gate)
        })
    }

    /// Serves the services added so far to the other services of this process, over memory,
    /// through the same layers as TCP, until the returned task is aborted. Call it once a
    /// context is added and before the contexts that call it are built; connect
    /// [`crate::peer::Peer::in_process`] clients to the connector.
    pub fn spawn_in_process(
        &self,
        authenticator: SharedAuthenticator,
    ) -> (MemoryConnector, tokio::task::JoinHandle<()>) {
        let (connector, listener) = memory_transport();
        let server = Server::builder()
            .layer(TraceContextLayer)
            .layer(AuthLayer::new(authenticator).with_gate(self.gate()))
            .layer(InputGuardLayer)
            .add_routes(self.routes.clone().routes());
        let task = tokio::spawn(async move {
            if let Err(error) = server.serve_with_incoming(listener.into_stream()).await {
                tracing::error!(%error, "the in-process transport stopped");
            }
        });
        (connector, task)
    }

    pub fn add<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Error = std::convert::Infallible,
                Response = http::Response<tonic::body::Body>,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Serves until `shutdown` resolves, then stops accepting and drains in-flight calls.
    /// Under TLS, the service identity in a client's certificate is who it is on internal RPCs.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        security: Security,
        authenticator: SharedAuthenticator,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (health, health_service) = tonic_health::server::health_reporter();
        let names = self.service_names.clone();
        // The empty name is the whole server, what `grpc_health_probe` asks by default. Each
        // status follows the readiness checks: NOT_SERVING while a feed has not caught up.
        let checks = std::mem::take(&mut self.readiness);
        let set_all = {
            let health = health.clone();
            let names = names.clone();
            move |status: tonic_health::ServingStatus| {
                let health = health.clone();
                let names = names.clone();
                async move {
                    for name in names.iter().copied().chain([""]) {
                        health.set_service_status(name, status).await;
                    }
                }
            }
        };
        let mut serving = crate::readiness::all(&checks);
        set_all(status_of(serving)).await;
        let readiness = (!checks.is_empty()).then(|| {
            let set_all = set_all.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(crate::readiness::RECHECK_EVERY);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    let now = crate::readiness::all(&checks);
                    if now != serving {
                        tracing::info!(ready = now, "readiness changed");
                        serving = now;
                        set_all(status_of(now)).await;
                    }
                }
            })
        });
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(latch_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        self.routes.add_service(health_service).add_service(reflection);
        // Probes see NOT_SERVING as soon as the drain starts, so traffic moves elsewhere.
        let readiness_task = readiness.as_ref().map(|task| task.abort_handle());
        let shutdown = async move {
            shutdown.await;
            if let Some(readiness) = readiness {
                readiness.abort();
            }
            for name in names.iter().copied().chain([""]) {
                health
                    .set_service_status(name, tonic_health::ServingStatus::NotServing)
                    .await;
            }
        };
        let gate = self.gate();
        let incoming = Incoming::new(listener, security, &[b"h2"])?;
        let served = Server::builder()
            .layer(TraceContextLayer)
            .layer(AuthLayer::new(authenticator).with_gate(gate))
            .layer(InputGuardLayer)
            .add_routes(self.routes.routes())
            .serve_with_incoming_shutdown(incoming.into_stream(), shutdown)
            .await;
        if let Some(readiness) = readiness_task {
            readiness.abort();
        }
        served?;
        Ok(())
    }
}

fn status_of(ready: bool) -> tonic_health::ServingStatus {
    if ready {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    }
}
