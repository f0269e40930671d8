//! The identity context assembled from configuration: its store, its follower, its gRPC
//! services (public and internal) and its SCIM endpoint. `latchd` chooses whether to run it
//! and wires transports; everything else about running identity is here.

use anyhow::Context as _;
use latch_runtime::LatchConfig;
use latch_runtime::SharedClock;
use latch_runtime::auth::SharedAuthenticator;
use latch_runtime::crypto::SecretBox;
use latch_runtime::server::GrpcRoutes;
use latch_runtime::service_identity::ServiceName;

use crate::grpc::{IdentityGrpc, IdentityInternalGrpc};
use crate::service::{BootstrapOutcome, LocalAuthenticator};
use crate::{IdentityService, IdentityStore};

pub struct IdentityServer {
    pub service: IdentityService,
    /// What the first start did about the bootstrap admin.
    pub bootstrap: BootstrapOutcome,
}

impl IdentityServer {
    /// Opens the database (applying migrations), loads the directory and bootstraps the admin.
    pub async fn open(config: &LatchConfig, clock: SharedClock, secrets: SecretBox) -> anyhow::Result<Self> {
        let db = latch_runtime::database::connect_context(config, "identity", crate::store::MIGRATIONS)
            .await
            .context("identity database")?;
        let service = IdentityService::open(IdentityStore::new(db), clock, secrets, config.identity.clone()).await?;
        let bootstrap = service.bootstrap(&config.bootstrap_token).await?;
        Ok(Self { service, bootstrap })
    }

    /// Identity's public API, and its internal one for the contexts that read people.
    pub fn register(&self, routes: &mut GrpcRoutes) {
        routes.add(IdentityGrpc::new(self.service.clone()).into_server());
        routes.add_internal(
            IdentityInternalGrpc::new(self.service.clone()).into_server(),
            &[ServiceName::Catalog, ServiceName::Flow, ServiceName::Request],
        );
    }

    /// Follows what other replicas write.
    pub fn spawn(&self, config: &LatchConfig) -> Vec<tokio::task::JoinHandle<()>> {
        vec![self.service.spawn_follower(config.follow_every())]
    }

    /// Who a token belongs to, answered from this process's directory.
    pub fn authenticator(&self) -> SharedAuthenticator {
        std::sync::Arc::new(LocalAuthenticator::new(self.service.clone()))
    }

    /// SCIM 2.0 for identity providers, under `/scim/v2`.
    pub fn http(&self, config: &LatchConfig) -> axum::Router {
        axum::Router::new().nest(
            "/scim/v2",
            crate::scim::router(
                self.service.clone(),
                Some(config.public_url.clone()).filter(|u| !u.is_empty()),
            ),
        )
    }
}
