//! The trait every connector implements.

use chrono::{DateTime, Utc};

use crate::error::ConnectorError;
use crate::model::{Config, Description, GrantOutcome, GrantRecord, GrantRequest, Resource};

pub type ConnectorResult<T> = Result<T, ConnectorError>;

/// A connector: stateless towards Latch; every call carries the integration's config.
///
/// Contract (checked by [`crate::conformance`]): `grant` twice with one `grant_id` equals one
/// grant and returns the same account; `revoke` of an unknown or revoked grant succeeds;
/// `list_grants` reflects grants and revokes; a permission not in `describe` is refused with
/// `InvalidArgument` on `permission`; `extend` of a grant the system does not hold answers
/// `NotFound` (Latch then gives it again under the same grant id).
#[async_trait::async_trait]
pub trait Connector: Send + Sync + 'static {
    fn describe(&self) -> Description;

    /// Problems with the config, one line each; empty when it works against the real system.
    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>>;

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>>;

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome>;

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()>;

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()>;

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>>;
}

/// Refuses a request whose resource type or permission the connector does not describe.
pub fn check_permission(description: &Description, resource_type: &str, permission: &str) -> ConnectorResult<()> {
    let Some(kind) = description.resource_type(resource_type) else {
        let known: Vec<_> = description.resource_types.iter().map(|t| t.name.as_str()).collect();
        return Err(ConnectorError::invalid(
            "resource_type",
            format!(
                "{resource_type:?} is not a resource type of {}; known: {}",
                description.name,
                known.join(", ")
            ),
        ));
    };
    if !kind.has_permission(permission) {
        let known: Vec<_> = kind.permissions.iter().map(|p| p.name.as_str()).collect();
        return Err(ConnectorError::invalid(
            "permission",
            format!(
                "{resource_type} has no permission {permission:?}; known: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}
