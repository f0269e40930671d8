//! The catalog context assembled from configuration and its peers: its store, the connectors
//! this build carries, its follower and sync loop, and its gRPC services (public and internal).

use std::sync::Arc;
use std::time::Duration;

use latch_runtime::crypto::SecretBox;
use latch_runtime::peer::Peer;
use latch_runtime::server::GrpcRoutes;
use latch_runtime::service_identity::ServiceName;
use latch_runtime::{LatchConfig, SharedClock};

use crate::CatalogService;
use crate::connectors::ConnectorRegistry;
use crate::grpc::CatalogGrpc;
use crate::grpc::internal::CatalogInternalGrpc;
use crate::peers::identity::IdentityDirectory;

pub struct CatalogServer {
    pub service: CatalogService,
}

impl CatalogServer {
    /// Opens the database (applying migrations) and loads the catalog; people are asked of the
    /// identity service at `identity`.
    pub async fn open(
        config: &LatchConfig,
        connectors: ConnectorRegistry,
        clock: SharedClock,
        secrets: SecretBox,
        identity: Peer,
    ) -> anyhow::Result<Self> {
        let db = latch_runtime::database::connect_context(config, "catalog", crate::store::MIGRATIONS)
            .await
            .map_err(|e| anyhow::anyhow!("catalog database: {e:#}"))?;
        let service = CatalogService::open(
            crate::store::CatalogStore::new(db),
            connectors,
            secrets,
            clock,
            Arc::new(IdentityDirectory::new(identity)),
        )
        .await?;
        Ok(Self { service })
    }

    /// The catalog's public API, and its internal one for flow and request.
    pub fn register(&self, routes: &mut GrpcRoutes) {
        routes.add(CatalogGrpc::new(self.service.clone()).into_server());
        routes.add_internal(
            CatalogInternalGrpc::new(self.service.clone()).into_server(),
            &[ServiceName::Flow, ServiceName::Request],
        );
        // Connector access (and the secrets behind it) is the request service's alone.
        for method in ["DescribeConnector", "Grant", "Extend", "Revoke", "ListGrants"] {
            routes.restrict_method(
                &format!("/latch.catalog.v1.CatalogInternal/{method}"),
                &[ServiceName::Request],
            );
        }
    }

    /// Follows other replicas' writes and re-reads every integration on schedule.
    pub fn spawn(&self, config: &LatchConfig, follow_every: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        let sync_every = Duration::from_secs(config.catalog.sync_interval_secs.max(10));
        self.service.spawn_background(follow_every, sync_every)
    }
}
