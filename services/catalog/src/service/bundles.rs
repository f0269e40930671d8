//! Bundles (named sets of integration targets) and access scopes (saved resource queries).

use crate::domain::change::ChangeKind;
use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::{Actor, CatalogService, CatalogState, conflict_or, name_key, not_found};
use crate::domain::records::{AccessScope, Bundle};
use crate::domain::target::{AccessScopeQuery, IntegrationTarget, SelectionMode};
use crate::store::DocTable;

fn check_name(field: &str, name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 128 {
        return Err(ServiceError::invalid(field, "must be 1–128 characters"));
    }
    Ok(name.to_string())
}

impl CatalogService {
    /// Checks an integration target and returns it with the integration named by id. A target in
    /// a space may use global integrations and those of its own space.
    pub(crate) fn check_target(
        state: &CatalogState,
        field: &str,
        target: &IntegrationTarget,
        space: Option<&str>,
    ) -> Result<IntegrationTarget, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let Some(integration) = state.integration(&target.integration) else {
            return Err(vec![FieldViolation::new(
                format!("{field}.integration"),
                format!("no integration {:?}", target.integration),
            )]);
        };
        // A space's objects use only that space's integrations, and global ones only global
        // integrations: a space admin never reaches resources outside the space.
        if integration.space.as_deref() != space {
            let rule = match (&integration.space, space) {
                (None, Some(_)) => format!(
                    "integration {} is global; a space's bundles use the space's integrations",
                    integration.name
                ),
                _ => format!("integration {} belongs to another space", integration.name),
            };
            violations.push(FieldViolation::new(format!("{field}.integration"), rule));
        }
        match state
            .descriptions
            .get(&integration.id)
            .and_then(|d| d.resource_type(&target.resource_type))
        {
            None => violations.push(FieldViolation::new(
                format!("{field}.resource_type"),
                format!(
                    "integration {} has no resource type {:?}",
                    integration.name, target.resource_type
                ),
            )),
            Some(kind) => {
                if target.permissions.is_empty() {
                    violations.push(FieldViolation::new(
                        format!("{field}.permissions"),
                        "name at least one permission",
                    ));
                }
                for (i, permission) in target.permissions.iter().enumerate() {
                    if !kind.has_permission(permission) {
                        let known: Vec<_> = kind.permissions.iter().map(|p| p.name.as_str()).collect();
                        violations.push(FieldViolation::new(
                            format!("{field}.permissions[{i}]"),
                            format!(
                                "{} has no permission {permission:?}; it has {}",
                                kind.name,
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        if target.selection.mode != SelectionMode::Any && target.selection.is_empty() {
            violations.push(FieldViolation::new(
                format!("{field}.selection"),
                "include and exclude need at least one id, name or tag",
            ));
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(IntegrationTarget {
            integration: integration.id.clone(),
            ..target.clone()
        })
    }

    pub async fn create_bundle(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
        space: &str,
        targets: Vec<IntegrationTarget>,
        request_id: &str,
    ) -> ServiceResult<Bundle> {
        let space = self.space_id("bundle.space", space)?;
        self.require_manager(actor, space.as_deref()).await?;
        let name = check_name("bundle.display_name", name)?;
        if targets.is_empty() {
            return Err(ServiceError::invalid(
                "bundle.targets",
                "a bundle needs at least one target",
            ));
        }
        let state = self.state();
        let mut violations = Vec::new();
        let mut checked = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            match Self::check_target(&state, &format!("bundle.targets[{i}]"), target, space.as_deref()) {
                Ok(target) => checked.push(target),
                Err(v) => violations.extend(v),
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let key = if request_id.trim().is_empty() {
            String::new()
        } else {
            format!("{}|bundles|{request_id}", actor.user_id)
        };
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        if let Some(existing) = self.store().idempotent_resource(&key).await? {
            drop(tx);
            return self.bundle(existing.trim_start_matches("bundles/"));
        }
        let bundle = Bundle {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.clone(),
            description: description.trim().to_string(),
            space,
            targets: checked,
            created_at: self.now(),
        };
        tx.put(DocTable::Bundles, &bundle.id, &name_key(&name), &bundle)
            .await
            .map_err(|e| conflict_or(e, format!("bundle {name:?}")))?;
        tx.remember_request(&key, &format!("bundles/{}", bundle.id)).await?;
        tx.record(ChangeKind::BundleCreated, format!("bundles/{}", bundle.id));
        tx.audit(super::audit_record(
            actor,
            "bundle.created",
            format!("bundles/{}", bundle.id),
            serde_json::Value::Null,
            serde_json::json!({ "name": bundle.name, "targets": bundle.targets.len() }),
            format!("bundle {}", bundle.name),
        ));
        tx.commit().await?;
        self.after_write(None).await?;
        self.bundle(&bundle.id)
    }

    pub fn bundle(&self, id_or_name: &str) -> ServiceResult<Bundle> {
        self.state()
            .bundle(id_or_name)
            .cloned()
            .ok_or_else(|| not_found("bundle", id_or_name))
    }

    pub async fn delete_bundle(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let bundle = self.bundle(id)?;
        self.require_manager(actor, bundle.space.as_deref()).await?;
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        tx.delete(DocTable::Bundles, &bundle.id).await?;
        tx.record(ChangeKind::BundleDeleted, format!("bundles/{}", bundle.id));
        tx.audit(super::audit_record(
            actor,
            "bundle.deleted",
            format!("bundles/{}", bundle.id),
            serde_json::json!({ "name": bundle.name }),
            serde_json::Value::Null,
            format!("bundle {}", bundle.name),
        ));
        tx.commit().await?;
        self.after_write(None).await
    }

    /// Checks a query and names its integrations by id.
    pub(crate) fn check_query(
        state: &CatalogState,
        field: &str,
        query: &AccessScopeQuery,
        space: Option<&str>,
    ) -> ServiceResult<AccessScopeQuery> {
        let mut violations = Vec::new();
        let mut integrations = Vec::new();
        for (i, name) in query.integrations.iter().enumerate() {
            match state.integration(name) {
                Some(integration) if integration.space.as_deref() != space => violations.push(FieldViolation::new(
                    format!("{field}.integrations[{i}]"),
                    format!("integration {} is not of this scope's space", integration.name),
                )),
                Some(integration) => integrations.push(integration.id.clone()),
                None => violations.push(FieldViolation::new(
                    format!("{field}.integrations[{i}]"),
                    format!("no integration {name:?}"),
                )),
            }
        }
        for (i, pattern) in query.name_patterns.iter().enumerate() {
            if pattern.trim().is_empty() {
                violations.push(FieldViolation::new(
                    format!("{field}.name_patterns[{i}]"),
                    "must not be empty",
                ));
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        Ok(AccessScopeQuery {
            integrations,
            ..query.clone()
        })
    }

    pub async fn create_scope(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
        space: &str,
        query: AccessScopeQuery,
        request_id: &str,
    ) -> ServiceResult<AccessScope> {
        let space = self.space_id("scope.space", space)?;
        self.require_manager(actor, space.as_deref()).await?;
        let name = check_name("scope.display_name", name)?;
        let query = Self::check_query(&self.state(), "scope.query", &query, space.as_deref())?;
        let key = if request_id.trim().is_empty() {
            String::new()
        } else {
            format!("{}|scopes|{request_id}", actor.user_id)
        };
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        if let Some(existing) = self.store().idempotent_resource(&key).await? {
            drop(tx);
            return self.scope(existing.trim_start_matches("accessScopes/"));
        }
        let scope = AccessScope {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.clone(),
            description: description.trim().to_string(),
            space,
            query,
            created_at: self.now(),
        };
        tx.put(DocTable::AccessScopes, &scope.id, &name_key(&name), &scope)
            .await
            .map_err(|e| conflict_or(e, format!("access scope {name:?}")))?;
        tx.remember_request(&key, &format!("accessScopes/{}", scope.id)).await?;
        tx.record(ChangeKind::ScopeCreated, format!("accessScopes/{}", scope.id));
        tx.audit(super::audit_record(
            actor,
            "access_scope.created",
            format!("accessScopes/{}", scope.id),
            serde_json::Value::Null,
            serde_json::json!({ "name": scope.name }),
            format!("access scope {}", scope.name),
        ));
        tx.commit().await?;
        self.after_write(None).await?;
        self.scope(&scope.id)
    }

    pub fn scope(&self, id_or_name: &str) -> ServiceResult<AccessScope> {
        self.state()
            .scope(id_or_name)
            .cloned()
            .ok_or_else(|| not_found("access scope", id_or_name))
    }

    pub async fn delete_scope(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let scope = self.scope(id)?;
        self.require_manager(actor, scope.space.as_deref()).await?;
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        tx.delete(DocTable::AccessScopes, &scope.id).await?;
        tx.record(ChangeKind::ScopeDeleted, format!("accessScopes/{}", scope.id));
        tx.audit(super::audit_record(
            actor,
            "access_scope.deleted",
            format!("accessScopes/{}", scope.id),
            serde_json::json!({ "name": scope.name }),
            serde_json::Value::Null,
            format!("access scope {}", scope.name),
        ));
        tx.commit().await?;
        self.after_write(None).await
    }
}
