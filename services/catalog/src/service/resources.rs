//! Resources: listing, and the tags and owners admins add.

use crate::domain::change::ChangeKind;
use std::collections::BTreeMap;
use std::sync::Arc;

use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::spaces::PrincipalRef;
use super::{Actor, CatalogService, not_found};
use crate::domain::records::ResourceRecord;
use crate::domain::tags::{TagSelector, is_valid_tag_key, is_valid_tag_value};

#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub integration: String,
    pub resource_type: String,
    pub tags: Vec<String>,
    pub query: String,
    pub include_missing: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ResourceUpdate {
    pub set_tags: BTreeMap<String, String>,
    pub remove_tags: Vec<String>,
    pub owners: Option<Vec<PrincipalRef>>,
}

impl CatalogService {
    /// Resources matching the filter, ordered by integration and id.
    pub fn list_resources(&self, filter: &ResourceFilter) -> ServiceResult<Vec<Arc<ResourceRecord>>> {
        let state = self.state();
        let integration = match filter.integration.trim() {
            "" => None,
            name => Some(
                state
                    .integration(name)
                    .ok_or_else(|| ServiceError::invalid("integration", format!("no integration {name:?}")))?
                    .id
                    .clone(),
            ),
        };
        let selectors = filter
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| TagSelector::parse(t).map_err(|e| ServiceError::invalid(format!("tags[{i}]"), e)))
            .collect::<ServiceResult<Vec<_>>>()?;
        let query = filter.query.trim().to_lowercase();
        let index = &state.index;
        let matches = |record: &ResourceRecord| {
            (filter.resource_type.is_empty() || record.resource_type == filter.resource_type)
                && (query.is_empty()
                    || record.name.to_lowercase().contains(&query)
                    || record.path.to_lowercase().contains(&query))
                && {
                    let tags = record.tags();
                    selectors.iter().all(|s| s.matches(&tags))
                }
        };
        let found: Vec<Arc<ResourceRecord>> = if filter.include_missing {
            index
                .records()
                .filter(|r| integration.as_ref().is_none_or(|i| *i == r.integration_id))
                .filter(|r| matches(r))
                .cloned()
                .collect()
        } else {
            index
                .present(integration.as_deref())
                .iter()
                .map(|p| index.record(*p))
                .filter(|r| matches(r))
                .cloned()
                .collect()
        };
        Ok(found)
    }

    pub fn get_resource(&self, integration: &str, id: &str) -> ServiceResult<Arc<ResourceRecord>> {
        let state = self.state();
        let integration = state
            .integration(integration)
            .ok_or_else(|| not_found("integration", integration))?;
        state
            .index
            .get(&integration.id, id)
            .cloned()
            .ok_or_else(|| not_found("resource", id))
    }

    /// Sets and removes admin tags and replaces owners. Kept across syncs.
    pub async fn update_resource(
        &self,
        actor: &Actor,
        integration: &str,
        id: &str,
        update: ResourceUpdate,
    ) -> ServiceResult<Arc<ResourceRecord>> {
        let current = self.get_resource(integration, id)?;
        let space = self.integration(&current.integration_id)?.space;
        self.require_manager(actor, space.as_deref()).await?;
        let mut violations = Vec::new();
        for (key, value) in &update.set_tags {
            if !is_valid_tag_key(key) {
                violations.push(FieldViolation::new(
                    format!("set_tags.{key}"),
                    "key must be 1–128 letters, digits, '_', '-', '.', '/' or ':'",
                ));
            }
            if !is_valid_tag_value(value) || value.is_empty() {
                violations.push(FieldViolation::new(
                    format!("set_tags.{key}"),
                    "value must be 1–256 characters without control characters",
                ));
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let owners = match &update.owners {
            Some(refs) => Some(self.resolve_principals("owners", refs).await?),
            None => None,
        };
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        // The stored row, not the snapshot: another replica may have changed it.
        let mut record = self
            .store()
            .resource(&current.integration_id, &current.id)
            .await?
            .ok_or_else(|| not_found("resource", id))?;
        for key in &update.remove_tags {
            record.admin_tags.remove(key);
        }
        record.admin_tags.extend(update.set_tags.clone());
        if let Some(owners) = owners {
            record.owners = owners;
        }
        tx.put_resource(&record).await?;
        tx.record(
            ChangeKind::ResourceUpdated,
            format!("integrations/{}/resources/{}", record.integration_id, record.id),
        );
        tx.audit(super::audit_record(
            actor,
            "resource.updated",
            format!("integrations/{}/resources/{}", record.integration_id, record.id),
            serde_json::json!({ "tags": current.admin_tags, "owners": current.owners.len() }),
            serde_json::json!({ "tags": record.admin_tags, "owners": record.owners.len() }),
            format!("resource {}", record.name),
        ));
        tx.commit().await?;
        self.after_write(Some(super::ResourceChange::Upsert(Box::new(record.clone()))))
            .await?;
        self.get_resource(&record.integration_id, &record.id)
    }
}
