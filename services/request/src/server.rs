//! The request context assembled from configuration and its peers: its store, its workers
//! (grants, extensions, revocations, the reconciler, drift checks), the audit log, and its gRPC
//! services. Flows, people and targets are asked of their contexts over their contracts.

use std::sync::Arc;
use std::time::Duration;

use latch_directory::DirectoryReplica;
use latch_runtime::crypto::SecretBox;
use latch_runtime::peer::Peer;
use latch_runtime::readiness::{Gated, ReadyCheck};
use latch_runtime::server::GrpcRoutes;
use latch_runtime::{LatchConfig, SharedClock};

use crate::RequestService;
use crate::audit_grpc::AuditGrpc;
use crate::grpc::RequestGrpc;
use crate::peers::catalog::CatalogPeer;
use crate::peers::flow::FlowPeer;
use crate::peers::identity::IdentityPeople;
use crate::ports::{AuditSource, Ports};

/// Where the request context finds the others.
pub struct RequestPeers {
    /// What identity knows of people, kept in memory.
    pub people: DirectoryReplica,
    pub identity: Peer,
    pub flow: Peer,
    pub catalog: Peer,
}

pub struct RequestServer {
    pub service: RequestService,
    people: DirectoryReplica,
}

impl RequestServer {
    /// Opens the database (applying migrations) with the configured timeouts, notifications and
    /// audit signing key.
    pub async fn open(
        config: &LatchConfig,
        clock: SharedClock,
        secrets: SecretBox,
        peers: RequestPeers,
    ) -> anyhow::Result<Self> {
        let db = latch_runtime::database::connect_context(config, "request", crate::store::MIGRATIONS)
            .await
            .map_err(|e| anyhow::anyhow!("request database: {e:#}"))?;
        let people = peers.people.clone();
        let flows = Arc::new(FlowPeer::new(peers.flow));
        let identity = Arc::new(IdentityPeople::new(peers.people, peers.identity));
        let targets = Arc::new(CatalogPeer::new(peers.catalog));
        let ports = Ports {
            audit_sources: vec![
                AuditSource {
                    name: "identity",
                    outbox: identity.clone(),
                },
                AuditSource {
                    name: "catalog",
                    outbox: targets.clone(),
                },
                AuditSource {
                    name: "flow",
                    outbox: flows.clone(),
                },
            ],
            flows,
            people: identity,
            targets,
        };
        let settings = crate::RequestConfig {
            approval_timeout: chrono::TimeDelta::hours(config.request.approval_timeout_hours.max(1) as i64),
            poll: Duration::from_millis(config.request.poll_ms.max(10)),
            webhooks: config.notifications.webhooks.clone(),
            expiry_lead: chrono::TimeDelta::minutes(config.notifications.expiry_lead_minutes as i64),
            audit_key: Some(
                crate::service::audit_key::load(&config.audit.signing_key, &config.data_dir)
                    .map_err(anyhow::Error::msg)?,
            ),
            checkpoint_every_events: config.audit.checkpoint_every_events as i64,
            checkpoint_every: chrono::TimeDelta::minutes(config.audit.checkpoint_every_minutes as i64),
            ..crate::RequestConfig::default()
        };
        let service = RequestService::open(db, ports, clock, secrets, settings);
        // Requests that began waiting for approval before the approver index existed.
        let indexed = service
            .index_unindexed_pending()
            .await
            .map_err(|e| anyhow::anyhow!("request database: indexing pending approvals: {e}"))?;
        if indexed > 0 {
            tracing::info!(requests = indexed, "pending requests added to the approver index");
        }
        Ok(Self { service, people })
    }

    /// The request and audit APIs: UNAVAILABLE until the directory replica has loaded (who
    /// may approve, who manages whom), NOT_SERVING while it is not following identity's feed.
    pub fn register(&self, routes: &mut GrpcRoutes) {
        let loaded: ReadyCheck = {
            let people = self.people.clone();
            Arc::new(move || people.is_loaded())
        };
        const WAITING_FOR: &str = "the directory replica to load from the identity service";
        routes.add(Gated::new(
            AuditGrpc::new(self.service.clone()).into_server(),
            loaded.clone(),
            WAITING_FOR,
        ));
        routes.add(Gated::new(
            RequestGrpc::new(self.service.clone()).into_server(),
            loaded,
            WAITING_FOR,
        ));
        let people = self.people.clone();
        routes.add_readiness(Arc::new(move || people.is_caught_up()));
    }

    /// The workers (unless `workers` is false, for tests that drive jobs by hand) and the audit
    /// log, which is sealed and fed with directory changes and the other contexts' audit
    /// outboxes either way.
    pub fn spawn(&self, config: &LatchConfig, workers: bool) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        if workers {
            tasks.push(self.service.spawn_workers());
            tasks.push(self.service.spawn_indexer());
            tasks.push(
                self.service
                    .spawn_reconciler(Duration::from_secs(config.request.reconcile_interval_secs.max(10))),
            );
            if config.request.drift_check_minutes > 0 {
                tasks.push(self.service.spawn_drift_checks(
                    Duration::from_secs(config.request.drift_check_minutes * 60),
                    config.request.repair_drift,
                ));
            }
        }
        tasks.push(self.service.spawn_audit(Duration::from_millis(200)));
        tasks.extend(self.service.spawn_outbox_followers(config.follow_every()));
        tasks
    }
}
