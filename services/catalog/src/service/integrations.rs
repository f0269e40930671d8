//! Integrations: a connector plus its config; validated against the real system and synced.

use crate::domain::change::ChangeKind;
use std::collections::{BTreeMap, HashSet};

use latch_connector_sdk::{Config, ConnectorError, Description};
use latch_runtime::endpoint::canonical_endpoint;
use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::spaces::PrincipalRef;
use super::{Actor, CatalogService, conflict_or, name_key, not_found};
use crate::connectors::service_error;
use crate::domain::records::{Integration, IntegrationStatus, REMOTE, ResourceRecord, StatusState, SyncSummary};
use crate::store::DocTable;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntegrationDraft {
    pub name: String,
    pub connector: String,
    pub endpoint: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub owner: Option<PrincipalRef>,
    pub space: String,
}

/// A change to an integration: config values and secrets to set (empty values remove), a new
/// owner or name, and the version it was read at.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntegrationUpdate {
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub owner: Option<PrincipalRef>,
    pub name: String,
    pub expected_version: Option<i64>,
}

/// Secret values never appear in debug output, only their names.
impl std::fmt::Debug for IntegrationDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationDraft")
            .field("name", &self.name)
            .field("connector", &self.connector)
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("owner", &self.owner)
            .field("space", &self.space)
            .finish()
    }
}

impl std::fmt::Debug for IntegrationUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationUpdate")
            .field("config", &self.config)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("owner", &self.owner)
            .field("name", &self.name)
            .finish()
    }
}

/// The status a ValidateConfig answer gives an integration.
fn status_from(
    answer: latch_connector_sdk::ConnectorResult<Vec<String>>,
    now: chrono::DateTime<chrono::Utc>,
) -> IntegrationStatus {
    match answer {
        Ok(problems) if problems.is_empty() => IntegrationStatus {
            state: StatusState::Ok,
            problems,
            checked_at: Some(now),
        },
        Ok(problems) => IntegrationStatus {
            state: StatusState::Error,
            problems,
            checked_at: Some(now),
        },
        Err(error) => IntegrationStatus {
            state: StatusState::Error,
            problems: vec![error.to_string()],
            checked_at: Some(now),
        },
    }
}

/// Checks config and secrets against what the connector describes.
fn check_config(
    description: &Description,
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, String>,
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    for key in config.keys() {
        match description.config_fields.iter().find(|f| f.name == *key) {
            None => violations.push(FieldViolation::new(
                format!("integration.config.{key}"),
                format!("{} has no such field", description.name),
            )),
            Some(field) if field.secret => violations.push(FieldViolation::new(
                format!("integration.config.{key}"),
                "is a secret field: pass it as a secret so it is encrypted and never shown",
            )),
            Some(field) => {
                // The documented range of a numeric setting (an empty value removes it).
                let value = config[key].trim();
                if let Some(range) = field.range
                    && !value.is_empty()
                    && let Err(rule) = range.check(value)
                {
                    violations.push(FieldViolation::new(format!("integration.config.{key}"), rule));
                }
            }
        }
    }
    for key in secrets.keys() {
        match description.config_fields.iter().find(|f| f.name == *key) {
            Some(field) if field.secret => {}
            _ => violations.push(FieldViolation::new(
                format!("secrets.{key}"),
                format!("{} has no secret field {key:?}", description.name),
            )),
        }
    }
    for field in description.config_fields.iter().filter(|f| f.required) {
        let set = config
            .get(&field.name)
            .or(secrets.get(&field.name))
            .is_some_and(|v| !v.is_empty());
        if !set && field.default_value.is_empty() {
            violations.push(FieldViolation::new(
                format!("integration.config.{}", field.name),
                "is required",
            ));
        }
    }
    violations
}

impl CatalogService {
    pub fn integration(&self, id_or_name: &str) -> ServiceResult<Integration> {
        self.state()
            .integration(id_or_name)
            .cloned()
            .ok_or_else(|| not_found("integration", id_or_name))
    }

    /// The full config a connector call needs: defaults, values, then secrets.
    pub async fn connector_config(&self, integration: &Integration) -> ServiceResult<Config> {
        let mut config: Config = self
            .state()
            .descriptions
            .get(&integration.id)
            .map(|d| {
                d.config_fields
                    .iter()
                    .filter(|f| !f.default_value.is_empty())
                    .map(|f| (f.name.clone(), f.default_value.clone()))
                    .collect()
            })
            .unwrap_or_default();
        config.extend(integration.config.clone());
        if let Some(sealed) = self.store().sealed_secrets(&integration.id).await? {
            let opened = self
                .inner
                .secrets
                .open_bound(&sealed, integration.id.as_bytes())
                .map_err(|_| {
                    ServiceError::Internal("integration secrets cannot be decrypted with the configured key".into())
                })?;
            let secrets: BTreeMap<String, String> =
                serde_json::from_slice(&opened).map_err(|e| ServiceError::Internal(format!("sealed secrets: {e}")))?;
            config.extend(secrets);
        }
        Ok(config)
    }

    fn seal_secrets(&self, integration_id: &str, secrets: &BTreeMap<String, String>) -> ServiceResult<String> {
        let json = serde_json::to_vec(secrets).map_err(ServiceError::internal)?;
        Ok(self.inner.secrets.seal_bound(&json, integration_id.as_bytes()))
    }

    pub async fn create_integration(
        &self,
        actor: &Actor,
        draft: IntegrationDraft,
        request_id: &str,
    ) -> ServiceResult<Integration> {
        let space = self.space_id("integration.space", &draft.space)?;
        self.require_manager(actor, space.as_deref()).await?;
        let name = draft.name.trim().to_string();
        if name.is_empty() || name.len() > 128 {
            return Err(ServiceError::invalid(
                "integration.display_name",
                "must be 1–128 characters",
            ));
        }
        // Remote connectors receive secrets with every call: the endpoint is checked, and
        // stored and dialled, in its canonical form.
        let endpoint = if draft.connector == REMOTE {
            canonical_endpoint(&draft.endpoint)
                .map_err(|rule| ServiceError::invalid("integration.endpoint", rule.to_string()))?
        } else {
            draft.endpoint.clone()
        };
        let connector = self.inner.connectors.resolve(&draft.connector, &endpoint).await?;
        let description = connector.describe();
        let violations = check_config(&description, &draft.config, &draft.secrets);
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let owner = match &draft.owner {
            Some(owner) => self
                .resolve_principals("integration.owner", std::slice::from_ref(owner))
                .await?
                .pop(),
            None => None,
        };
        let key = if request_id.trim().is_empty() {
            String::new()
        } else {
            format!("{}|integrations|{request_id}", actor.user_id)
        };
        // Check it against the real system before taking the write lock; a failing check is
        // recorded, not fatal.
        let now = self.now();
        let mut config: Config = description
            .config_fields
            .iter()
            .filter(|f| !f.default_value.is_empty())
            .map(|f| (f.name.clone(), f.default_value.clone()))
            .collect();
        config.extend(draft.config.clone());
        config.extend(draft.secrets.clone());
        let status = status_from(connector.validate_config(&config).await, now);
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        if let Some(existing) = self.store().idempotent_resource(&key).await? {
            drop(tx);
            self.after_write(None).await?;
            return self.integration(existing.trim_start_matches("integrations/"));
        }
        if self
            .state()
            .integration(&name)
            .is_some_and(|i| name_key(&i.name) == name_key(&name))
        {
            return Err(ServiceError::AlreadyExists(format!("integration {name:?}")));
        }
        let mut integration = Integration {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.clone(),
            connector: draft.connector.clone(),
            endpoint,
            config: draft.config.clone(),
            secrets_set: draft
                .secrets
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, _)| k.clone())
                .collect(),
            owner,
            space,
            status: IntegrationStatus {
                state: StatusState::Unknown,
                problems: Vec::new(),
                checked_at: None,
            },
            last_sync: SyncSummary::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        integration.status = status;
        let sealed = self.seal_secrets(&integration.id, &draft.secrets)?;
        tx.put_integration(&integration.id, &name_key(&name), &integration, &sealed)
            .await
            .map_err(|e| conflict_or(e, format!("integration {name:?}")))?;
        tx.remember_request(&key, &format!("integrations/{}", integration.id))
            .await?;
        tx.record(
            ChangeKind::IntegrationCreated,
            format!("integrations/{}", integration.id),
        );
        tx.audit(super::audit_record(
            actor,
            "integration.created",
            format!("integrations/{}", integration.id),
            serde_json::Value::Null,
            serde_json::json!({ "name": integration.name, "connector": integration.connector }),
            format!("integration {} (secrets not recorded)", integration.name),
        ));
        tx.commit().await?;
        tracing::info!(integration = %integration.name, connector = %integration.connector, "integration created");
        self.after_write(None).await?;
        self.integration(&integration.id)
    }

    /// Sets config values and secrets (empty values remove), owner and name.
    pub async fn update_integration(
        &self,
        actor: &Actor,
        id: &str,
        update: IntegrationUpdate,
    ) -> ServiceResult<Integration> {
        let IntegrationUpdate {
            config,
            secrets,
            owner,
            name,
            expected_version,
        } = update;
        let current = self.integration(id)?;
        self.require_manager(actor, current.space.as_deref()).await?;
        let description = self
            .state()
            .descriptions
            .get(&current.id)
            .cloned()
            .ok_or_else(|| ServiceError::Unavailable(format!("connector of {} unavailable", current.name)))?;
        let set_config: BTreeMap<_, _> = config
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let set_secrets: BTreeMap<_, _> = secrets
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let violations: Vec<_> = check_config(&description, &set_config, &set_secrets)
            .into_iter()
            .filter(|v| !v.rule.ends_with("is required"))
            .collect();
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        let owner = match &owner {
            Some(owner) => self
                .resolve_principals("owner", std::slice::from_ref(owner))
                .await?
                .pop(),
            None => current.owner.clone(),
        };
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        let current: Integration = self
            .store()
            .doc(DocTable::Integrations, &current.id)
            .await?
            .ok_or_else(|| not_found("integration", id))?;
        if let Some(expected) = expected_version
            && expected != current.version
        {
            return Err(ServiceError::Aborted(format!(
                "etag: the integration changed (version {})",
                current.version
            )));
        }
        let mut stored_secrets: BTreeMap<String, String> = match self.store().sealed_secrets(&current.id).await? {
            Some(sealed) => serde_json::from_slice(
                &self
                    .inner
                    .secrets
                    .open_bound(&sealed, current.id.as_bytes())
                    .map_err(|_| ServiceError::Internal("integration secrets cannot be decrypted".into()))?,
            )
            .map_err(ServiceError::internal)?,
            None => BTreeMap::new(),
        };
        let mut updated = current.clone();
        for (key, value) in config {
            if value.is_empty() {
                updated.config.remove(&key);
            } else {
                updated.config.insert(key, value);
            }
        }
        for (key, value) in secrets {
            if value.is_empty() {
                stored_secrets.remove(&key);
            } else {
                stored_secrets.insert(key, value);
            }
        }
        let missing: Vec<_> = description
            .config_fields
            .iter()
            .filter(|f| f.required && f.default_value.is_empty())
            .filter(|f| !updated.config.contains_key(&f.name) && !stored_secrets.contains_key(&f.name))
            .map(|f| FieldViolation::new(format!("config.{}", f.name), "is required"))
            .collect();
        if !missing.is_empty() {
            return Err(ServiceError::InvalidArgument(missing));
        }
        updated.secrets_set = stored_secrets.keys().cloned().collect();
        updated.owner = owner;
        if !name.trim().is_empty() {
            if name.trim().len() > 128 {
                return Err(ServiceError::invalid(
                    "integration.display_name",
                    "must be 1–128 characters",
                ));
            }
            updated.name = name.trim().into();
        }
        updated.version += 1;
        updated.updated_at = self.now();
        updated.status = IntegrationStatus {
            state: StatusState::Unknown,
            problems: Vec::new(),
            checked_at: None,
        };
        let sealed = self.seal_secrets(&updated.id, &stored_secrets)?;
        tx.put_integration(&updated.id, &name_key(&updated.name), &updated, &sealed)
            .await
            .map_err(|e| conflict_or(e, format!("integration {:?}", updated.name)))?;
        tx.record(ChangeKind::IntegrationUpdated, format!("integrations/{}", updated.id));
        tx.audit(super::audit_record(
            actor,
            "integration.updated",
            format!("integrations/{}", updated.id),
            serde_json::Value::Null,
            serde_json::json!({ "name": updated.name, "connector": updated.connector, "version": updated.version }),
            format!("integration {} (secrets not recorded)", updated.name),
        ));
        tx.commit().await?;
        self.after_write(None).await?;
        self.integration(&updated.id)
    }

    /// Deletes an integration and its resources. Refused while the target system holds grants
    /// made through it, or while bundles use it.
    pub async fn delete_integration(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let integration = self.integration(id)?;
        self.require_manager(actor, integration.space.as_deref()).await?;
        let state = self.state();
        let users: Vec<String> = state
            .bundles
            .values()
            .filter(|b| b.targets.iter().any(|t| t.integration == integration.id))
            .map(|b| format!("bundle {}", b.name))
            .chain(
                state
                    .scopes
                    .values()
                    .filter(|s| s.query.integrations.contains(&integration.id))
                    .map(|s| format!("access scope {}", s.name)),
            )
            .collect();
        if !users.is_empty() {
            return Err(ServiceError::FailedPrecondition(format!(
                "integration {} is used by {}; change them first",
                integration.name,
                users.join(", ")
            )));
        }
        let connector = self.inner.connectors.for_integration(&integration).await?;
        let config = self.connector_config(&integration).await?;
        let grants = connector.list_grants(&config).await.map_err(service_error)?;
        if !grants.is_empty() {
            return Err(ServiceError::FailedPrecondition(format!(
                "integration {} has {} active grants; revoke them before deleting it",
                integration.name,
                grants.len()
            )));
        }
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        tx.delete_resources_of(&integration.id).await?;
        tx.delete(DocTable::Integrations, &integration.id).await?;
        tx.record(
            ChangeKind::IntegrationDeleted,
            format!("integrations/{}", integration.id),
        );
        tx.audit(super::audit_record(
            actor,
            "integration.deleted",
            format!("integrations/{}", integration.id),
            serde_json::json!({ "name": integration.name, "connector": integration.connector }),
            serde_json::Value::Null,
            format!("integration {}", integration.name),
        ));
        tx.commit().await?;
        tracing::info!(integration = %integration.name, "integration deleted");
        self.after_write(Some(super::ResourceChange::RemoveIntegration(integration.id.clone())))
            .await
    }

    pub async fn validate_integration(&self, actor: &Actor, id: &str) -> ServiceResult<Integration> {
        let integration = self.integration(id)?;
        self.require_manager(actor, integration.space.as_deref()).await?;
        let connector = self.inner.connectors.for_integration(&integration).await?;
        let config = self.connector_config(&integration).await?;
        let now = self.now();
        let status = status_from(connector.validate_config(&config).await, now);
        self.save_integration(actor, &integration.id, |i| i.status = status)
            .await
    }

    /// Writes a change to an integration's document (status, sync summary).
    async fn save_integration(
        &self,
        actor: &Actor,
        id: &str,
        change: impl FnOnce(&mut Integration),
    ) -> ServiceResult<Integration> {
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        let id = self.integration(id)?.id;
        let mut integration: Integration = self
            .store()
            .doc(DocTable::Integrations, &id)
            .await?
            .ok_or_else(|| not_found("integration", &id))?;
        change(&mut integration);
        let sealed = self.store().sealed_secrets(&integration.id).await?.unwrap_or_default();
        tx.put_integration(&integration.id, &name_key(&integration.name), &integration, &sealed)
            .await?;
        tx.record(
            ChangeKind::IntegrationStatusChanged,
            format!("integrations/{}", integration.id),
        );
        tx.commit().await?;
        self.after_write(None).await?;
        self.integration(&integration.id)
    }

    /// Records a failed listing on the integration (its last sync, and its status when the
    /// stored config is what is wrong), and says why to the caller.
    async fn record_sync_failure(
        &self,
        actor: &Actor,
        integration: &Integration,
        error: ConnectorError,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ServiceError {
        let summary = SyncSummary {
            synced_at: Some(now),
            error: error.to_string(),
            ..integration.last_sync.clone()
        };
        let config_problem = matches!(error, ConnectorError::InvalidArgument { .. });
        let saved = self
            .save_integration(actor, &integration.id, |i| {
                i.last_sync = summary;
                if config_problem {
                    i.status = IntegrationStatus {
                        state: StatusState::Error,
                        problems: vec![error.to_string()],
                        checked_at: Some(now),
                    };
                }
            })
            .await;
        if let Err(save_error) = saved {
            tracing::warn!(integration = %integration.name, error = %save_error, "could not record the failed sync");
        }
        match error {
            // The caller's request is fine; the integration's stored config is not.
            ConnectorError::InvalidArgument { field, rule } => ServiceError::FailedPrecondition(format!(
                "integration {}: {field}: {rule}; update the integration",
                integration.name
            )),
            other => service_error(other),
        }
    }

    /// Reads the connector's resources. New ones are added, gone ones marked missing, and admin
    /// tags and owners are kept.
    pub async fn sync_integration(&self, actor: &Actor, id: &str) -> ServiceResult<SyncSummary> {
        let integration = self.integration(id)?;
        self.require_manager(actor, integration.space.as_deref()).await?;
        let connector = self.inner.connectors.for_integration(&integration).await?;
        let config = self.connector_config(&integration).await?;
        let now = self.now();
        let listed = match connector.list_resources(&config).await {
            Ok(listed) => listed,
            Err(error) => return Err(self.record_sync_failure(actor, &integration, error, now).await),
        };
        let description = connector.describe();
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        // The stored rows, not the snapshot, so admin tags and owners set meanwhile (here or on
        // another replica) are kept.
        let mut known: std::collections::HashMap<String, ResourceRecord> = self
            .store()
            .resources_of(&integration.id)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut summary = SyncSummary {
            synced_at: Some(now),
            ..SyncSummary::default()
        };
        let mut seen = HashSet::new();
        let mut records = Vec::with_capacity(listed.len());
        for resource in listed {
            if description.resource_type(&resource.resource_type).is_none() || !seen.insert(resource.id.clone()) {
                tracing::warn!(integration = %integration.name, resource = %resource.id, "skipped a resource of an undescribed type or a duplicate id");
                continue;
            }
            let previous = known.remove(&resource.id);
            if previous.as_ref().is_none_or(|p| !p.present) {
                summary.added += 1;
            }
            let record = ResourceRecord {
                integration_id: integration.id.clone(),
                id: resource.id,
                name: resource.name,
                path: resource.path,
                parent_id: resource.parent_id,
                resource_type: resource.resource_type,
                system_tags: resource.tags,
                admin_tags: previous.as_ref().map(|p| p.admin_tags.clone()).unwrap_or_default(),
                owners: previous.as_ref().map(|p| p.owners.clone()).unwrap_or_default(),
                owner_hint: resource.owner_hint,
                present: true,
                synced_at: now,
            };
            // Unchanged resources are not rewritten (only the sync time would differ).
            let changed = previous.as_ref().is_none_or(|p| {
                ResourceRecord {
                    synced_at: now,
                    ..p.clone()
                } != record
            });
            if changed {
                tx.put_resource(&record).await?;
            }
            records.push(record);
        }
        for (_, mut gone) in known {
            if gone.present {
                summary.removed += 1;
                gone.present = false;
                tx.put_resource(&gone).await?;
            }
            records.push(gone);
        }
        summary.resources = records.iter().filter(|r| r.present).count() as i64;
        // Only the sync summary changes: the stored document may have moved during the listing.
        let mut updated: Integration = self
            .store()
            .doc(DocTable::Integrations, &integration.id)
            .await?
            .ok_or_else(|| not_found("integration", &integration.id))?;
        updated.last_sync = summary.clone();
        let sealed = self.store().sealed_secrets(&integration.id).await?.unwrap_or_default();
        tx.put_integration(&updated.id, &name_key(&updated.name), &updated, &sealed)
            .await?;
        tx.record(ChangeKind::IntegrationSynced, format!("integrations/{}", updated.id));
        tx.commit().await?;
        tracing::info!(integration = %integration.name, resources = summary.resources, added = summary.added, removed = summary.removed, "integration synced");
        self.after_write(Some(super::ResourceChange::ReplaceIntegration(
            integration.id.clone(),
            records,
        )))
        .await?;
        Ok(summary)
    }
}
