//! The [`Catalog`] port over `latch.catalog.v1.CatalogInternal`. [`Catalog::version`] is the
//! last catalog change this process has seen on the catalog's change feed; a follower moves it
//! and recompiles flows, so a resource tagged in the catalog reaches by-tag flows at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use latch_proto::catalog::v1 as pb;
use latch_proto::catalog::v1::catalog_internal_client::CatalogInternalClient;
use latch_runtime::peer::{Peer, PeerChannel};
use latch_runtime::{ServiceError, ServiceResult};

use crate::FlowService;
use crate::domain::evaluate::Item;
use crate::domain::model::{SelectionModeSpec, TargetSpec};
use crate::ports::Catalog;

/// How long the follower waits before reconnecting to a catalog that went away.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

#[derive(Clone, Debug)]
pub struct CatalogPeer {
    peer: Peer,
    /// The sequence of the last catalog change seen.
    version: Arc<AtomicI64>,
    changed: Arc<tokio::sync::watch::Sender<i64>>,
    /// Connections to the feed opened so far; 0 before the first.
    connection: Arc<AtomicU64>,
    /// Whether the feed is open now.
    following: Arc<AtomicBool>,
    /// The connection after whose opening the flows last compiled.
    compiled_for: Arc<AtomicU64>,
    /// Integration ids by id or name, as of one catalog version (every submit names its
    /// integrations; the answer only changes when the catalog moves).
    integration_ids: Arc<std::sync::Mutex<IntegrationIds>>,
}

/// Integration ids found at `version` of the catalog.
#[derive(Debug, Default)]
struct IntegrationIds {
    version: i64,
    ids: std::collections::HashMap<String, String>,
}

/// Names remembered per catalog version, at most.
const MAX_REMEMBERED_INTEGRATIONS: usize = 10_000;

fn target(spec: &TargetSpec) -> pb::Target {
    use pb::target::Kind;
    let kind = match spec {
        TargetSpec::Integration(t) => Kind::Integration(pb::IntegrationTarget {
            integration: t.integration.clone(),
            resource_type: t.resource_type.clone(),
            permissions: t.permissions.clone(),
            selection: Some(pb::Selection {
                mode: match t.mode {
                    SelectionModeSpec::Any => pb::selection::Mode::Any,
                    SelectionModeSpec::Include => pb::selection::Mode::Include,
                    SelectionModeSpec::Exclude => pb::selection::Mode::Exclude,
                } as i32,
                resource_ids: t.resource_ids.clone(),
                resource_names: t.resource_names.clone(),
                tags: t
                    .tags
                    .iter()
                    .map(|s| pb::TagSelector {
                        key: s.key.clone(),
                        values: s.values.clone(),
                    })
                    .collect(),
            }),
        }),
        TargetSpec::Bundle(name) => Kind::Bundle(name.clone()),
        TargetSpec::Scope { scope, permissions } => Kind::Scope(pb::ScopeTarget {
            scope: scope.clone(),
            permissions: permissions.clone(),
        }),
    };
    pb::Target { kind: Some(kind) }
}

impl CatalogPeer {
    pub fn new(peer: Peer) -> Self {
        Self {
            peer,
            version: Arc::new(AtomicI64::new(0)),
            changed: Arc::new(tokio::sync::watch::channel(0).0),
            connection: Arc::new(AtomicU64::new(0)),
            following: Arc::new(AtomicBool::new(false)),
            compiled_for: Arc::new(AtomicU64::new(0)),
            integration_ids: Arc::default(),
        }
    }

    fn remembered_integration(&self, version: i64, integration: &str) -> Option<String> {
        let ids = self.integration_ids.lock().unwrap_or_else(|p| p.into_inner());
        (ids.version == version).then(|| ids.ids.get(integration).cloned())?
    }

    fn remember_integration(&self, version: i64, integration: &str, id: &str) {
        let mut ids = self.integration_ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.version != version || ids.ids.len() >= MAX_REMEMBERED_INTEGRATIONS {
            ids.version = version;
            ids.ids.clear();
        }
        ids.ids.insert(integration.to_string(), id.to_string());
    }

    /// Following the catalog's feed, with the flows compiled since the feed (re)opened: what
    /// flow evaluates from is no older than the feed's position.
    pub fn is_caught_up(&self) -> bool {
        let connection = self.connection.load(Ordering::Acquire);
        self.following.load(Ordering::Acquire)
            && connection > 0
            && self.compiled_for.load(Ordering::Acquire) == connection
    }

    fn client(&self) -> CatalogInternalClient<PeerChannel> {
        CatalogInternalClient::new(self.peer.channel())
    }

    /// Follows the catalog's change feed from the start, reconnecting after failures from the
    /// last change seen, and recompiles `flow` whenever the catalog moved (bursts coalesce).
    /// Stops when the returned task is aborted.
    pub fn follow(&self, flow: FlowService) -> tokio::task::JoinHandle<()> {
        let feed = self.clone().read_feed();
        let this = self.clone();
        let mut changed = self.changed.subscribe();
        let recompile = async move {
            while changed.changed().await.is_ok() {
                let connection = this.connection.load(Ordering::Acquire);
                match flow.catch_up().await {
                    Ok(()) => this.compiled_for.store(connection, Ordering::Release),
                    Err(error) => {
                        tracing::warn!(%error, "flow recompile after a catalog change failed, will retry");
                        tokio::time::sleep(RECONNECT_AFTER).await;
                        changed.mark_changed();
                    }
                }
            }
        };
        tokio::spawn(async move {
            tokio::join!(feed, recompile);
        })
    }

    async fn read_feed(self) {
        loop {
            if let Err(error) = self.read_feed_once().await {
                tracing::warn!(%error, "catalog change feed interrupted, reconnecting");
            }
            self.following.store(false, Ordering::Release);
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    }

    async fn read_feed_once(&self) -> ServiceResult<()> {
        let after = self.version.load(Ordering::Acquire);
        let mut stream = self
            .client()
            .watch_changes(pb::WatchCatalogChangesRequest { after_sequence: after })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        // Open: recompile once now (changes missed while away may be many; one compile covers
        // them), and count as caught up once that compile is done.
        self.connection.fetch_add(1, Ordering::AcqRel);
        self.following.store(true, Ordering::Release);
        self.changed.send_modify(|_| {});
        while let Some(change) = stream.message().await.map_err(|s| self.peer.error(s))? {
            let seen = self.version.load(Ordering::Acquire);
            if change.sequence != seen + 1 {
                return Err(ServiceError::Internal(format!(
                    "the catalog change feed skipped from {seen} to {}",
                    change.sequence
                )));
            }
            self.version.store(change.sequence, Ordering::Release);
            self.changed.send_replace(change.sequence);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Catalog for CatalogPeer {
    async fn resolve(&self, targets: &[TargetSpec], space: Option<&str>) -> ServiceResult<Vec<Item>> {
        let request = pb::ResolveFlowTargetsRequest {
            targets: targets.iter().map(target).collect(),
            space_id: space.unwrap_or_default().to_string(),
        };
        let response = self
            .client()
            .resolve_flow_targets(request)
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(response
            .into_inner()
            .items
            .into_iter()
            .map(|i| Item {
                integration_id: i.integration_id,
                resource_id: i.resource_id,
                permission: i.permission,
            })
            .collect())
    }

    async fn space_of(&self, spec: &TargetSpec) -> ServiceResult<Option<String>> {
        if matches!(spec, TargetSpec::Integration(_)) {
            return Ok(None);
        }
        let response = self
            .client()
            .space_of_target(pb::SpaceOfTargetRequest {
                target: Some(target(spec)),
            })
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(Some(response.into_inner().space_id).filter(|s| !s.is_empty()))
    }

    async fn integration_id(&self, integration: &str) -> ServiceResult<Option<String>> {
        // Only found ids are remembered, and only for the catalog version they were read at
        // (read before asking: a change while asking makes the answer count for nothing).
        let version = self.version.load(Ordering::Acquire);
        if let Some(id) = self.remembered_integration(version, integration) {
            return Ok(Some(id));
        }
        let response = self
            .client()
            .find_integration(pb::FindIntegrationRequest {
                id_or_name: integration.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        if response.found && version > 0 {
            self.remember_integration(version, integration, &response.id);
        }
        Ok(response.found.then_some(response.id))
    }

    async fn space_id(&self, space: &str) -> ServiceResult<Option<String>> {
        let response = self
            .client()
            .find_space(pb::FindSpaceRequest {
                id_or_name: space.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?
            .into_inner();
        Ok(response.found.then_some(response.id))
    }

    async fn is_space_admin(&self, user_id: &str, space_id: &str) -> ServiceResult<bool> {
        let response = self
            .client()
            .is_space_admin(pb::IsSpaceAdminRequest {
                user_id: user_id.to_string(),
                space_id: space_id.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(response.into_inner().admin)
    }

    async fn administers_any_space(&self, user_id: &str) -> ServiceResult<bool> {
        let response = self
            .client()
            .administers_any_space(pb::AdministersAnySpaceRequest {
                user_id: user_id.to_string(),
            })
            .await
            .map_err(|s| self.peer.error(s))?;
        Ok(response.into_inner().admin)
    }

    fn version(&self) -> i64 {
        self.version.load(Ordering::Acquire)
    }
}
