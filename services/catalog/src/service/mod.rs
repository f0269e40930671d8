//! The catalog service: every use case, with no transport types.

mod authz;
mod bundles;
mod feed;
mod integrations;
mod internal;
mod resolve;
mod resources;
mod spaces;

use latch_runtime::audit::AuditRecord;
use latch_runtime::audit::outbox::OutboxEntry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use latch_connector_sdk::Description;
use latch_runtime::crypto::SecretBox;
use latch_runtime::{ServiceError, ServiceResult, SharedClock};

use crate::connectors::ConnectorRegistry;
use crate::directory::PrincipalDirectory;
use crate::domain::index::ResourceIndex;
use crate::domain::records::{AccessScope, Bundle, Integration, ResourceRecord, Space};
use crate::store::{CatalogStore, DocTable};

pub use authz::Actor;
pub use integrations::{IntegrationDraft, IntegrationUpdate};
pub use internal::{ProxyError, ProxyResult};
pub use resolve::resolve;
pub use resources::{ResourceFilter, ResourceUpdate};

/// What a write did to resources, applied to the index in memory.
#[derive(Debug, Clone)]
pub(crate) enum ResourceChange {
    /// An integration's resources are now exactly these.
    ReplaceIntegration(String, Vec<ResourceRecord>),
    RemoveIntegration(String),
    Upsert(Box<ResourceRecord>),
}

impl ResourceChange {
    fn apply<'a>(self, current: impl Iterator<Item = &'a Arc<ResourceRecord>>) -> Vec<ResourceRecord> {
        match self {
            ResourceChange::ReplaceIntegration(id, records) => {
                let mut all: Vec<ResourceRecord> = current
                    .filter(|r| r.integration_id != id)
                    .map(|r| (**r).clone())
                    .collect();
                all.extend(records);
                all
            }
            ResourceChange::RemoveIntegration(id) => current
                .filter(|r| r.integration_id != id)
                .map(|r| (**r).clone())
                .collect(),
            ResourceChange::Upsert(record) => {
                let mut all: Vec<ResourceRecord> = current
                    .filter(|r| !(r.integration_id == record.integration_id && r.id == record.id))
                    .map(|r| (**r).clone())
                    .collect();
                all.push(*record);
                all
            }
        }
    }
}

/// Everything the catalog serves reads from, swapped whole on change.
#[derive(Debug, Default)]
pub struct CatalogState {
    pub version: i64,
    /// The change feed's last sequence this snapshot includes.
    pub last_change: i64,
    pub spaces: BTreeMap<String, Space>,
    pub integrations: BTreeMap<String, Integration>,
    pub bundles: BTreeMap<String, Bundle>,
    pub scopes: BTreeMap<String, AccessScope>,
    pub descriptions: HashMap<String, Description>,
    pub index: Arc<ResourceIndex>,
}

impl CatalogState {
    fn by_name<'a, T>(map: &'a BTreeMap<String, T>, id_or_name: &str, name: impl Fn(&T) -> &str) -> Option<&'a T> {
        map.get(id_or_name)
            .or_else(|| map.values().find(|v| name(v).eq_ignore_ascii_case(id_or_name.trim())))
    }

    pub fn integration(&self, id_or_name: &str) -> Option<&Integration> {
        Self::by_name(&self.integrations, id_or_name, |i| &i.name)
    }

    pub fn space(&self, id_or_name: &str) -> Option<&Space> {
        Self::by_name(&self.spaces, id_or_name, |s| &s.name)
    }

    pub fn bundle(&self, id_or_name: &str) -> Option<&Bundle> {
        Self::by_name(&self.bundles, id_or_name, |b| &b.name)
    }

    pub fn scope(&self, id_or_name: &str) -> Option<&AccessScope> {
        Self::by_name(&self.scopes, id_or_name, |s| &s.name)
    }
}

#[derive(Clone)]
pub struct CatalogService {
    inner: Arc<Inner>,
}

struct Inner {
    store: CatalogStore,
    state: RwLock<Arc<CatalogState>>,
    connectors: ConnectorRegistry,
    secrets: SecretBox,
    clock: SharedClock,
    directory: Arc<dyn PrincipalDirectory>,
    reload: tokio::sync::Mutex<()>,
    /// The feed's last sequence in the installed snapshot; wakes change watchers.
    applied: tokio::sync::watch::Sender<i64>,
    /// Set when the server stops: change watchers end so the drain does not wait on them.
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for CatalogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogService").finish_non_exhaustive()
    }
}

pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl CatalogService {
    pub async fn open(
        store: CatalogStore,
        connectors: ConnectorRegistry,
        secrets: SecretBox,
        clock: SharedClock,
        directory: Arc<dyn PrincipalDirectory>,
    ) -> ServiceResult<Self> {
        let service = Self {
            inner: Arc::new(Inner {
                store,
                state: RwLock::new(Arc::new(CatalogState::default())),
                connectors,
                secrets,
                clock,
                directory,
                reload: tokio::sync::Mutex::new(()),
                applied: tokio::sync::watch::channel(0).0,
                closing: tokio::sync::watch::channel(false).0,
            }),
        };
        service.reload().await?;
        Ok(service)
    }

    /// The audit outbox after `upto`, once the entries up to it are deleted (the audit log,
    /// which asks, holds them).
    pub async fn audit_outbox(&self, upto: i64, limit: u32) -> ServiceResult<Vec<OutboxEntry>> {
        Ok(self.inner.store.audit_outbox(upto, limit).await?)
    }

    /// A consistent snapshot of the catalog.
    pub fn state(&self) -> Arc<CatalogState> {
        self.inner.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub fn connectors(&self) -> &ConnectorRegistry {
        &self.inner.connectors
    }

    fn store(&self) -> &CatalogStore {
        &self.inner.store
    }

    /// Reads everything from the store and swaps the snapshot.
    pub async fn reload(&self) -> ServiceResult<()> {
        let _one_at_a_time = self.inner.reload.lock().await;
        let resources = self.store().all_resources().await?;
        let state = self.load_docs(Arc::new(ResourceIndex::build(resources))).await?;
        self.install(state);
        Ok(())
    }

    /// Swaps the snapshot and wakes change watchers.
    fn install(&self, state: CatalogState) {
        let last_change = state.last_change;
        *self.inner.state.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
        self.inner.applied.send_replace(last_change);
    }

    /// Reads the small tables (everything but resources) around a given index.
    async fn load_docs(&self, index: Arc<ResourceIndex>) -> ServiceResult<CatalogState> {
        let store = self.store();
        let version = store.version().await?;
        let last_change = store.last_change().await?;
        let spaces: Vec<Space> = store.all(DocTable::Spaces).await?;
        let integrations: Vec<Integration> = store.all(DocTable::Integrations).await?;
        let bundles: Vec<Bundle> = store.all(DocTable::Bundles).await?;
        let scopes: Vec<AccessScope> = store.all(DocTable::AccessScopes).await?;
        let previous = self.state();
        let mut descriptions = HashMap::new();
        for integration in &integrations {
            match previous.descriptions.get(&integration.id) {
                Some(known) => {
                    descriptions.insert(integration.id.clone(), known.clone());
                }
                None => match self.inner.connectors.for_integration(integration).await {
                    Ok(connector) => {
                        descriptions.insert(integration.id.clone(), connector.describe());
                    }
                    Err(error) => tracing::warn!(integration = %integration.name, %error, "connector unavailable"),
                },
            }
        }
        Ok(CatalogState {
            version,
            last_change,
            spaces: spaces.into_iter().map(|s| (s.id.clone(), s)).collect(),
            integrations: integrations.into_iter().map(|i| (i.id.clone(), i)).collect(),
            bundles: bundles.into_iter().map(|b| (b.id.clone(), b)).collect(),
            scopes: scopes.into_iter().map(|s| (s.id.clone(), s)).collect(),
            descriptions,
            index,
        })
    }

    /// Brings the snapshot up to date after this replica wrote. When nothing else was written
    /// since the snapshot, resources are not read back: the write's own change is applied to the
    /// current index (under the reload lock, so two local writers never undo each other);
    /// otherwise everything is reloaded.
    async fn after_write(&self, change: Option<ResourceChange>) -> ServiceResult<()> {
        let _one_at_a_time = self.inner.reload.lock().await;
        let current = self.state();
        let only_ours = self.store().version().await? == current.version + 1;
        let index = match change {
            _ if !only_ours => Arc::new(ResourceIndex::build(self.store().all_resources().await?)),
            None => current.index.clone(),
            Some(change) => Arc::new(ResourceIndex::build(change.apply(current.index.records()))),
        };
        let state = self.load_docs(index).await?;
        self.install(state);
        Ok(())
    }

    /// Reloads when another replica changed the catalog.
    pub async fn catch_up(&self) -> ServiceResult<()> {
        let state = self.state();
        // Also retry connectors that could not describe themselves at the last load.
        let missing_descriptions = state.integrations.len() > state.descriptions.len();
        if missing_descriptions || self.store().version().await? != state.version {
            self.reload().await?;
        }
        Ok(())
    }

    /// Follows other replicas' writes and re-syncs every integration every `sync_every`.
    pub fn spawn_background(
        &self,
        follow_every: std::time::Duration,
        sync_every: std::time::Duration,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let follower = {
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(follow_every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    if let Err(error) = (CatalogService { inner }).catch_up().await {
                        tracing::warn!(%error, "catalog catch-up failed, will retry");
                    }
                }
            })
        };
        let syncer = {
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(sync_every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                interval.tick().await;
                loop {
                    interval.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    let service = CatalogService { inner };
                    // Another replica may have just synced: skip integrations synced within half the
                    // interval, so replicas do not all sync the same integration every tick.
                    let recent = service.now() - chrono::TimeDelta::from_std(sync_every / 2).unwrap_or_default();
                    let ids: Vec<String> = service
                        .state()
                        .integrations
                        .values()
                        .filter(|i| i.last_sync.synced_at.is_none_or(|at| at < recent))
                        .map(|i| i.id.clone())
                        .collect();
                    for id in ids {
                        if let Err(error) = service.sync_integration(&Actor::system("scheduled-sync"), &id).await {
                            tracing::warn!(integration_id = %id, %error, "scheduled sync failed");
                        }
                    }
                }
            })
        };
        vec![follower, syncer]
    }
}

fn not_found(what: &str, id: &str) -> ServiceError {
    ServiceError::NotFound(format!("{what} {id:?}"))
}

/// Maps a unique-constraint race (lost to a concurrent writer) to ALREADY_EXISTS.
fn conflict_or(error: sea_orm::DbErr, what: impl Into<String>) -> ServiceError {
    let text = error.to_string().to_lowercase();
    if text.contains("unique") || text.contains("duplicate key") {
        ServiceError::AlreadyExists(what.into())
    } else {
        error.into()
    }
}

/// The audit record of a catalog change (names and non-secret facts only), written in the
/// transaction of the change.
pub(crate) fn audit_record(
    actor: &Actor,
    action: &str,
    subject: String,
    before: serde_json::Value,
    after: serde_json::Value,
    detail: String,
) -> AuditRecord {
    AuditRecord {
        actor: format!("users/{}", actor.user_id),
        action: action.to_string(),
        subject,
        before,
        after,
        detail,
        ..AuditRecord::default()
    }
}
