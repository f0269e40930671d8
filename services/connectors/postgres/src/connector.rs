//! [`PostgresConnector`]: the [`Connector`] trait over the modules that do the work.

use chrono::{DateTime, Utc};
use latch_connector_sdk::{
    Config, Connector, ConnectorResult, Description, GrantOutcome, GrantRecord, GrantRequest, Resource,
};

use crate::config::PostgresConfig;
use crate::conflict_retry::retrying_conflicts;
use crate::connection::{close, connect};
use crate::{describe, grant, resources, revoke, roles, validate};

/// Grants time-bound PostgreSQL access as one login role per grant. Holds no state: every call
/// connects with the config it carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresConnector;

impl PostgresConnector {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait::async_trait]
impl Connector for PostgresConnector {
    fn describe(&self) -> Description {
        describe::description()
    }

    async fn validate_config(&self, config: &Config) -> ConnectorResult<Vec<String>> {
        validate::validate_config(config).await
    }

    async fn list_resources(&self, config: &Config) -> ConnectorResult<Vec<Resource>> {
        resources::list_resources(&PostgresConfig::from_config(config)?).await
    }

    async fn grant(&self, config: &Config, request: &GrantRequest) -> ConnectorResult<GrantOutcome> {
        // The permission is checked before the config so a bad request is named as such.
        latch_connector_sdk::check_permission(&describe::description(), &request.resource_type, &request.permission)?;
        let config = PostgresConfig::from_config(config)?;
        retrying_conflicts("grant", || grant::grant(&config, request)).await
    }

    async fn extend(&self, config: &Config, grant_id: &str, expires_at: Option<DateTime<Utc>>) -> ConnectorResult<()> {
        let config = PostgresConfig::from_config(config)?;
        retrying_conflicts("extend", || grant::extend(&config, grant_id, expires_at)).await
    }

    async fn revoke(&self, config: &Config, grant_id: &str) -> ConnectorResult<()> {
        let config = PostgresConfig::from_config(config)?;
        retrying_conflicts("revoke", || revoke::revoke(&config, grant_id)).await
    }

    async fn list_grants(&self, config: &Config) -> ConnectorResult<Vec<GrantRecord>> {
        let config = PostgresConfig::from_config(config)?;
        let mut maintenance = connect(&config, &config.maintenance_database).await?;
        let held = roles::latch_roles(&mut maintenance).await;
        close(maintenance).await;
        Ok(held?
            .into_iter()
            .filter(|(_, metadata)| config.manages(&metadata.database))
            .map(|(role, metadata)| metadata.to_record(&role))
            .collect())
    }
}
