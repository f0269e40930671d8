//! The flow context assembled from configuration and its peers: its store, its in-memory view
//! of people (a directory replica fed by identity's change feed) and of the catalog (resolved
//! over the catalog's contract, re-resolved as its change feed moves), and its gRPC services.

use std::sync::Arc;
use std::time::Duration;

use latch_directory::DirectoryReplica;
use latch_runtime::peer::Peer;
use latch_runtime::server::GrpcRoutes;
use latch_runtime::service_identity::ServiceName;
use latch_runtime::{LatchConfig, SharedClock};

use crate::FlowService;
use crate::grpc::FlowGrpc;
use crate::grpc::internal::FlowInternalGrpc;
use crate::peers::catalog::CatalogPeer;
use crate::peers::identity::IdentityPeople;

pub struct FlowServer {
    pub service: FlowService,
    catalog: CatalogPeer,
}

impl FlowServer {
    /// Opens the database (applying migrations) and compiles the flows against the catalog.
    pub async fn open(
        config: &LatchConfig,
        clock: SharedClock,
        people: DirectoryReplica,
        catalog: Peer,
    ) -> anyhow::Result<Self> {
        let catalog = CatalogPeer::new(catalog);
        let db = latch_runtime::database::connect_context(config, "flow", crate::store::MIGRATIONS)
            .await
            .map_err(|e| anyhow::anyhow!("flow database: {e:#}"))?;
        let service = FlowService::open(
            crate::store::FlowStore::new(db),
            Arc::new(IdentityPeople::new(people)),
            Arc::new(catalog.clone()),
            clock,
        )
        .await?;
        Ok(Self { service, catalog })
    }

    /// Flow's public API, and its internal one for the request service.
    pub fn register(&self, routes: &mut GrpcRoutes) {
        routes.add(FlowGrpc::new(self.service.clone()).into_server());
        routes.add_internal(
            FlowInternalGrpc::new(self.service.clone()).into_server(),
            &[ServiceName::Request],
        );
    }

    /// Follows other replicas' flow writes and the catalog's change feed.
    pub fn spawn(&self, follow_every: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.service.spawn_follower(follow_every),
            self.catalog.follow(self.service.clone()),
        ]
    }
}
