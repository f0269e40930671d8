//! The flow context's view of the catalog, answered in this process.

use latch_catalog::CatalogService;
use latch_catalog::domain::principal::Principal;
use latch_catalog::domain::tags::TagSelector;
use latch_catalog::domain::target::{IntegrationTarget, Selection, SelectionMode, Target};
use latch_directory::DirectoryReplica;
use latch_flow::domain::evaluate::Item;
use latch_flow::domain::model::{SelectionModeSpec, TargetSpec};
use latch_flow::ports::Catalog;
use latch_runtime::{ServiceError, ServiceResult};

pub struct LocalCatalog {
    catalog: CatalogService,
    directory: DirectoryReplica,
}

impl LocalCatalog {
    pub fn new(catalog: CatalogService, directory: DirectoryReplica) -> Self {
        Self { catalog, directory }
    }
}

fn target(spec: &TargetSpec) -> ServiceResult<Target> {
    Ok(match spec {
        TargetSpec::Integration(t) => Target::Integration(IntegrationTarget {
            integration: t.integration.clone(),
            resource_type: t.resource_type.clone(),
            permissions: t.permissions.clone(),
            selection: Selection {
                mode: match t.mode {
                    SelectionModeSpec::Any => SelectionMode::Any,
                    SelectionModeSpec::Include => SelectionMode::Include,
                    SelectionModeSpec::Exclude => SelectionMode::Exclude,
                },
                resource_ids: t.resource_ids.clone(),
                resource_names: t.resource_names.clone(),
                tags: t
                    .tags
                    .iter()
                    .map(|s| TagSelector {
                        key: s.key.clone(),
                        values: s.values.clone(),
                    })
                    .collect(),
            },
        }),
        TargetSpec::Bundle(name) => Target::Bundle(name.clone()),
        TargetSpec::Scope { scope, permissions } => Target::Scope {
            scope: scope.clone(),
            permissions: permissions.clone(),
        },
    })
}

impl LocalCatalog {
    fn group_ids(&self, user_id: &str) -> Vec<String> {
        self.directory
            .facts(user_id)
            .map(|facts| facts.groups.into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default()
    }
}

fn administers(admin: &Principal, user_id: &str, groups: &[String]) -> bool {
    match admin {
        Principal::User(id) => id == user_id,
        Principal::Group(id) => groups.contains(id),
    }
}

#[async_trait::async_trait]
impl Catalog for LocalCatalog {
    async fn resolve(&self, targets: &[TargetSpec], space: Option<&str>) -> ServiceResult<Vec<Item>> {
        let targets = targets.iter().map(target).collect::<ServiceResult<Vec<_>>>()?;
        let items = self.catalog.resolve_targets(&targets, space)?;
        Ok(items
            .into_iter()
            .map(|i| Item {
                integration_id: i.integration_id,
                resource_id: i.resource_id,
                permission: i.permission,
            })
            .collect())
    }

    async fn space_of(&self, target: &TargetSpec) -> ServiceResult<Option<String>> {
        let state = self.catalog.state();
        Ok(match target {
            TargetSpec::Bundle(name) => state.bundle(name).and_then(|b| b.space.clone()),
            TargetSpec::Scope { scope, .. } => state.scope(scope).and_then(|s| s.space.clone()),
            TargetSpec::Integration(_) => None,
        })
    }

    async fn integration_id(&self, integration: &str) -> ServiceResult<Option<String>> {
        Ok(self.catalog.state().integration(integration).map(|i| i.id.clone()))
    }

    async fn space_id(&self, space: &str) -> ServiceResult<Option<String>> {
        Ok(self.catalog.state().space(space).map(|s| s.id.clone()))
    }

    async fn is_space_admin(&self, user_id: &str, space_id: &str) -> ServiceResult<bool> {
        let state = self.catalog.state();
        let space = state
            .spaces
            .get(space_id)
            .ok_or_else(|| ServiceError::NotFound(format!("space {space_id:?}")))?;
        let groups = self.group_ids(user_id);
        Ok(space.admins.iter().any(|admin| administers(admin, user_id, &groups)))
    }

    async fn administers_any_space(&self, user_id: &str) -> ServiceResult<bool> {
        let groups = self.group_ids(user_id);
        Ok(self
            .catalog
            .state()
            .spaces
            .values()
            .any(|space| space.admins.iter().any(|admin| administers(admin, user_id, &groups))))
    }

    fn version(&self) -> i64 {
        self.catalog.state().version
    }
}
