//! The request context's view of targets, answered in this process (flows and people it asks
//! over their contracts).

use std::sync::Arc;

use latch_catalog::CatalogService;
use latch_catalog::domain::principal::Principal;
use latch_connector_sdk::{Config, Connector};
use latch_request::ports::{ResourceInfo, Targets};
use latch_runtime::ServiceResult;

pub struct LocalTargets(pub CatalogService);

#[async_trait::async_trait]
impl Targets for LocalTargets {
    async fn resource(&self, integration_id: &str, resource_id: &str) -> ServiceResult<ResourceInfo> {
        let record = self.0.get_resource(integration_id, resource_id)?;
        let integration = self.0.integration(integration_id)?;
        Ok(ResourceInfo {
            integration_name: integration.name,
            resource_type: record.resource_type.clone(),
            name: record.name.clone(),
            owners: record
                .owners
                .iter()
                .map(|owner| match owner {
                    Principal::User(id) | Principal::Group(id) => id.clone(),
                })
                .collect(),
        })
    }

    fn integration(&self, id_or_name: &str) -> ServiceResult<(String, String)> {
        let integration = self.0.integration(id_or_name)?;
        Ok((integration.id, integration.name))
    }

    async fn connector(&self, integration_id: &str) -> ServiceResult<(Arc<dyn Connector>, Config)> {
        let integration = self.0.integration(integration_id)?;
        let connector = self.0.connectors().for_integration(&integration).await?;
        let config = self.0.connector_config(&integration).await?;
        Ok((connector, config))
    }
}
