//! The flow context assembled from configuration and its peers: its store, its in-memory view
//! of people (a directory replica fed by identity's change feed) and of the catalog (resolved
//! over the catalog's contract, re-resolved as its change feed moves), and its gRPC services.

use std::sync::Arc;
use std::time::Duration;

use latch_directory::DirectoryReplica;
use latch_runtime::peer::Peer;
use latch_runtime::readiness::{Gated, ReadyCheck};
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
    people: DirectoryReplica,
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
            Arc::new(IdentityPeople::new(people.clone())),
            Arc::new(catalog.clone()),
            clock,
        )
        .await?;
        Ok(Self {
            service,
            catalog,
            people,
        })
    }

    /// Flow's public API, and its internal one for the request service. Both answer
    /// UNAVAILABLE until the flows have compiled against the catalog with the directory loaded;
    /// health reports NOT_SERVING while either feed is not caught up.
    pub fn register(&self, routes: &mut GrpcRoutes) {
        let answerable: ReadyCheck = {
            let (service, people) = (self.service.clone(), self.people.clone());
            Arc::new(move || service.is_compiled() && people.is_loaded())
        };
        const WAITING_FOR: &str = "the flows to compile against the catalog and the directory to load";
        routes.add(Gated::new(
            FlowGrpc::new(self.service.clone()).into_server(),
            answerable.clone(),
            WAITING_FOR,
        ));
        routes.add_internal(
            Gated::new(
                FlowInternalGrpc::new(self.service.clone()).into_server(),
                answerable,
                WAITING_FOR,
            ),
            &[ServiceName::Request],
        );
        let (catalog, people) = (self.catalog.clone(), self.people.clone());
        routes.add_readiness(Arc::new(move || catalog.is_caught_up() && people.is_caught_up()));
    }

    /// Follows other replicas' flow writes and the catalog's change feed.
    pub fn spawn(&self, follow_every: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.service.spawn_follower(follow_every),
            self.catalog.follow(self.service.clone()),
        ]
    }
}
