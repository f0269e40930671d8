//! What the flow and request contexts ask of the catalog: who administers a space, what a
//! resource is, and connector calls made with the config and secrets only the catalog holds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use latch_connector_sdk::{ConnectorError, Description, GrantOutcome, GrantRecord, GrantRequest};
use latch_runtime::{ServiceError, ServiceResult};

use super::CatalogService;
use crate::connectors::SharedConnector;
use crate::domain::principal::Principal;
use crate::domain::records::{Integration, ResourceRecord};
use crate::domain::target::Target;

/// A proxied connector call failed: in the catalog (no such integration, secrets unreadable)
/// or at the connector, whose error keeps its kind so the caller knows whether to retry.
#[derive(Debug)]
pub enum ProxyError {
    Catalog(ServiceError),
    Connector(ConnectorError),
}

impl From<ServiceError> for ProxyError {
    fn from(error: ServiceError) -> Self {
        ProxyError::Catalog(error)
    }
}

impl From<ConnectorError> for ProxyError {
    fn from(error: ConnectorError) -> Self {
        ProxyError::Connector(error)
    }
}

pub type ProxyResult<T> = Result<T, ProxyError>;

/// Whether `admins` name the user, directly or through one of their groups.
fn administers(admins: &[Principal], user_id: &str, groups: &[String]) -> bool {
    admins.iter().any(|admin| match admin {
        Principal::User(id) => id == user_id,
        Principal::Group(id) => groups.contains(id),
    })
}

impl CatalogService {
    /// The space of a bundle or scope target (`None`: global, unknown, or an integration target).
    pub fn space_of_target(&self, target: &Target) -> Option<String> {
        let state = self.state();
        match target {
            Target::Bundle(name) => state.bundle(name).and_then(|b| b.space.clone()),
            Target::Scope { scope, .. } => state.scope(scope).and_then(|s| s.space.clone()),
            Target::Integration(_) => None,
        }
    }

    /// Whether the user administers the space; NOT_FOUND when there is no such space.
    pub async fn is_space_admin(&self, user_id: &str, space_id: &str) -> ServiceResult<bool> {
        let state = self.state();
        let space = state
            .spaces
            .get(space_id)
            .ok_or_else(|| ServiceError::NotFound(format!("space {space_id:?}")))?;
        if administers(&space.admins, user_id, &[]) {
            return Ok(true);
        }
        let groups = self.inner.directory.groups_of(user_id).await?;
        Ok(administers(&space.admins, user_id, &groups))
    }

    /// Whether the user administers at least one space (and so may manage some flows).
    pub async fn administers_any_space(&self, user_id: &str) -> ServiceResult<bool> {
        let state = self.state();
        if state.spaces.is_empty() {
            return Ok(false);
        }
        let groups = self.inner.directory.groups_of(user_id).await?;
        Ok(state
            .spaces
            .values()
            .any(|space| administers(&space.admins, user_id, &groups)))
    }

    /// A resource and the integration it belongs to.
    pub fn resource_with_integration(
        &self,
        integration_id: &str,
        resource_id: &str,
    ) -> ServiceResult<(Integration, Arc<ResourceRecord>)> {
        let record = self.get_resource(integration_id, resource_id)?;
        let integration = self.integration(integration_id)?;
        Ok((integration, record))
    }

    /// How the connector serving an integration describes itself.
    pub async fn connector_description(&self, integration_id: &str) -> ServiceResult<Description> {
        let integration = self.integration(integration_id)?;
        if let Some(known) = self.state().descriptions.get(&integration.id) {
            return Ok(known.clone());
        }
        Ok(self.connectors().for_integration(&integration).await?.describe())
    }

    async fn connector_with_config(
        &self,
        integration_id: &str,
    ) -> ServiceResult<(SharedConnector, latch_connector_sdk::Config)> {
        let integration = self.integration(integration_id)?;
        let connector = self.connectors().for_integration(&integration).await?;
        let config = self.connector_config(&integration).await?;
        Ok((connector, config))
    }

    pub async fn proxy_grant(&self, integration_id: &str, request: &GrantRequest) -> ProxyResult<GrantOutcome> {
        let (connector, config) = self.connector_with_config(integration_id).await?;
        Ok(connector.grant(&config, request).await?)
    }

    pub async fn proxy_extend(
        &self,
        integration_id: &str,
        grant_id: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> ProxyResult<()> {
        let (connector, config) = self.connector_with_config(integration_id).await?;
        Ok(connector.extend(&config, grant_id, expires_at).await?)
    }

    pub async fn proxy_revoke(&self, integration_id: &str, grant_id: &str) -> ProxyResult<()> {
        let (connector, config) = self.connector_with_config(integration_id).await?;
        Ok(connector.revoke(&config, grant_id).await?)
    }

    pub async fn proxy_list_grants(&self, integration_id: &str) -> ProxyResult<Vec<GrantRecord>> {
        let (connector, config) = self.connector_with_config(integration_id).await?;
        Ok(connector.list_grants(&config).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_admin_is_named_directly_or_through_a_group() {
        let admins = vec![Principal::User("u1".into()), Principal::Group("g1".into())];
        assert!(administers(&admins, "u1", &[]));
        assert!(administers(&admins, "u2", &["g1".into()]));
        assert!(!administers(&admins, "u2", &["g2".into()]));
    }
}
