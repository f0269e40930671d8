//! Resolving targets into the concrete items a grant is made for.

use std::sync::Arc;

use latch_runtime::{ServiceError, ServiceResult};

use super::{CatalogService, CatalogState};
use crate::domain::records::ResourceRecord;
use crate::domain::target::{AccessScopeQuery, ResolvedItem, Target};

impl CatalogService {
    /// The resources a query (of a scope in `space`, or global) matches now.
    pub fn preview(&self, query: &AccessScopeQuery, space: Option<&str>) -> ServiceResult<Vec<Arc<ResourceRecord>>> {
        let state = self.state();
        let query = Self::check_query(&state, "query", query, space)?;
        Ok(state
            .index
            .query(&query)
            .into_iter()
            .map(|p| state.index.record(p).clone())
            .filter(|r| {
                state
                    .integrations
                    .get(&r.integration_id)
                    .and_then(|i| i.space.as_deref())
                    == space
            })
            .collect())
    }

    /// Targets → items, sorted and without duplicates. `space` is the asking flow's space: it may
    /// use only bundles and scopes of that space (global flows: global ones).
    pub fn resolve_targets(&self, targets: &[Target], space: Option<&str>) -> ServiceResult<Vec<ResolvedItem>> {
        resolve(&self.state(), targets, space)
    }
}

/// The resolution itself, over one snapshot (the bench calls this directly).
pub fn resolve<'a>(
    state: &'a CatalogState,
    targets: &'a [Target],
    space: Option<&str>,
) -> ServiceResult<Vec<ResolvedItem>> {
    let index = &state.index;
    // Positions in the index follow (integration, resource id) order, so sorting cheap
    // (position, permission) pairs sorts the items; strings are built once per item at the end.
    let mut picked: Vec<(u32, &str)> = Vec::new();
    let mut add = |position: u32, permission: &'a str| picked.push((position, permission));
    for (i, target) in targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        match target {
            Target::Integration(target) => {
                let checked = CatalogService::check_target(state, &field, target, space)
                    .map_err(ServiceError::InvalidArgument)?;
                for position in index.select(&checked) {
                    for permission in &target.permissions {
                        add(position, permission);
                    }
                }
            }
            Target::Bundle(name) => {
                let bundle = state
                    .bundle(name)
                    .ok_or_else(|| ServiceError::invalid(&field, format!("no bundle {name:?}")))?;
                if bundle.space.as_deref() != space {
                    return Err(ServiceError::invalid(
                        &field,
                        format!("bundle {} belongs to another space than the flow", bundle.name),
                    ));
                }
                for target in &bundle.targets {
                    for position in index.select(target) {
                        for permission in &target.permissions {
                            add(position, permission);
                        }
                    }
                }
            }
            Target::Scope { scope, permissions } => {
                let scope = state
                    .scope(scope)
                    .ok_or_else(|| ServiceError::invalid(&field, format!("no access scope {scope:?}")))?;
                if scope.space.as_deref() != space {
                    return Err(ServiceError::invalid(
                        &field,
                        format!("access scope {} belongs to another space than the flow", scope.name),
                    ));
                }
                if permissions.is_empty() {
                    return Err(ServiceError::invalid(
                        format!("{field}.permissions"),
                        "name at least one permission",
                    ));
                }
                for position in index.query(&scope.query) {
                    let record = index.record(position);
                    // A scope sees only resources of integrations in its own space.
                    let integration_space = state
                        .integrations
                        .get(&record.integration_id)
                        .and_then(|i| i.space.as_deref());
                    if integration_space != scope.space.as_deref() {
                        continue;
                    }
                    let kind = state
                        .descriptions
                        .get(&record.integration_id)
                        .and_then(|d| d.resource_type(&record.resource_type));
                    for permission in permissions {
                        if kind.is_some_and(|k| k.has_permission(permission)) {
                            add(position, permission);
                        }
                    }
                }
            }
        }
    }
    picked.sort_unstable();
    picked.dedup();
    Ok(picked
        .into_iter()
        .map(|(position, permission)| {
            let record = index.record(position);
            ResolvedItem {
                integration_id: record.integration_id.clone(),
                resource_id: record.id.clone(),
                permission: permission.to_string(),
                resource_type: record.resource_type.clone(),
                resource_path: record.path.clone(),
            }
        })
        .collect())
}
