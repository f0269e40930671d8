//! Spaces: the global account level and named spaces with their own admins.

use crate::domain::change::ChangeKind;
use latch_runtime::{FieldViolation, ServiceError, ServiceResult};

use super::{Actor, CatalogService, name_key, not_found};
use crate::directory::PrincipalKind;
use crate::domain::principal::Principal;
use crate::domain::records::Space;
use crate::store::DocTable;

/// A principal named on input: `kind` and an id or name.
pub type PrincipalRef = (PrincipalKind, String);

impl CatalogService {
    /// Resolves principals named by id or name to stored ids; unknown ones are field errors.
    pub(super) async fn resolve_principals(&self, field: &str, refs: &[PrincipalRef]) -> ServiceResult<Vec<Principal>> {
        let mut resolved = Vec::new();
        let mut violations = Vec::new();
        for (index, (kind, id)) in refs.iter().enumerate() {
            match self.inner.directory.resolve(*kind, id).await? {
                Some(principal) => resolved.push(principal),
                None => violations.push(FieldViolation::new(
                    format!("{field}[{index}]"),
                    format!(
                        "no {} {id:?}",
                        if *kind == PrincipalKind::User { "user" } else { "group" }
                    ),
                )),
            }
        }
        if violations.is_empty() {
            Ok(resolved)
        } else {
            Err(ServiceError::InvalidArgument(violations))
        }
    }

    pub async fn create_space(&self, actor: &Actor, name: &str, admins: &[PrincipalRef]) -> ServiceResult<Space> {
        self.require_manager(actor, None).await?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ServiceError::invalid(
                "space.display_name",
                "must be 1–64 letters, digits, '-' or '_'",
            ));
        }
        let admins = self.resolve_principals("space.admins", admins).await?;
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        if self.state().space(name).is_some() {
            return Err(ServiceError::AlreadyExists(format!("space {name:?}")));
        }
        let space = Space {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.into(),
            admins,
            created_at: self.now(),
        };
        tx.put(DocTable::Spaces, &space.id, &name_key(name), &space)
            .await
            .map_err(|e| super::conflict_or(e, format!("space {name:?}")))?;
        tx.record(ChangeKind::SpaceCreated, format!("spaces/{}", space.id));
        tx.audit(super::audit_record(
            actor,
            "space.created",
            format!("spaces/{}", space.id),
            serde_json::Value::Null,
            serde_json::json!({ "name": space.name }),
            format!("space {}", space.name),
        ));
        tx.commit().await?;
        self.after_write(None).await?;
        Ok(space)
    }

    pub async fn delete_space(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        self.require_manager(actor, None).await?;
        let state = self.state();
        let space = state.space(id).ok_or_else(|| not_found("space", id))?.clone();
        let in_use = state
            .integrations
            .values()
            .any(|i| i.space.as_deref() == Some(&space.id))
            || state.bundles.values().any(|b| b.space.as_deref() == Some(&space.id))
            || state.scopes.values().any(|s| s.space.as_deref() == Some(&space.id));
        if in_use {
            return Err(ServiceError::FailedPrecondition(format!(
                "space {} still holds integrations, bundles or access scopes; delete or move them first",
                space.name
            )));
        }
        let mut tx = self.store().begin(&actor.feed_name(), self.now()).await?;
        tx.delete(DocTable::Spaces, &space.id).await?;
        tx.record(ChangeKind::SpaceDeleted, format!("spaces/{}", space.id));
        tx.audit(super::audit_record(
            actor,
            "space.deleted",
            format!("spaces/{}", space.id),
            serde_json::json!({ "name": space.name }),
            serde_json::Value::Null,
            format!("space {}", space.name),
        ));
        tx.commit().await?;
        self.after_write(None).await
    }

    /// A space named on input (id or name) as its id; `None` for the global level.
    pub(super) fn space_id(&self, field: &str, space: &str) -> ServiceResult<Option<String>> {
        if space.trim().is_empty() {
            return Ok(None);
        }
        self.state()
            .space(space)
            .map(|s| Some(s.id.clone()))
            .ok_or_else(|| ServiceError::invalid(field, format!("no space {space:?}")))
    }
}
