//! The request context's view of flows and targets, answered in this process.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use latch_catalog::CatalogService;
use latch_catalog::domain::principal::Principal;
use latch_connector_sdk::{Config, Connector};
use latch_flow::FlowService;
use latch_flow::domain::duration::Span;
use latch_flow::domain::model::FlowSpec;
use latch_flow::service::queries_public::Asked;
use latch_flow::service::{AutomaticFlow, EvaluationAnswer};
use latch_request::ports::{Flows, ResourceInfo, Targets};
use latch_runtime::{Caller, ServiceResult};

pub struct LocalFlows(pub FlowService);

#[async_trait::async_trait]
impl Flows for LocalFlows {
    async fn evaluate(
        &self,
        caller: &Caller,
        grantee: &str,
        asked: &Asked,
        duration: Option<Span>,
        at: DateTime<Utc>,
        flow: &str,
    ) -> ServiceResult<EvaluationAnswer> {
        self.0
            .evaluate_request(caller, grantee, asked, duration, Some(at), flow)
            .await
    }

    fn spec(&self, flow_id: &str) -> ServiceResult<FlowSpec> {
        Ok(self.0.flow(flow_id)?.spec)
    }

    fn automatic(&self) -> Vec<AutomaticFlow> {
        self.0.automatic_flows()
    }

    async fn automatic_for(&self, user: &str) -> ServiceResult<Vec<String>> {
        self.0.flows_granting(user).await
    }

    async fn automatic_grantees(&self) -> ServiceResult<Vec<(String, Vec<String>)>> {
        self.0.automatic_grantees().await
    }

    async fn grantees_of(&self, flow_id: &str) -> ServiceResult<Vec<String>> {
        self.0.matching_grantees(flow_id).await
    }

    fn generation(&self) -> (i64, i64) {
        let state = self.0.state();
        (state.store_version, state.catalog_version)
    }

    fn all(&self) -> Vec<latch_flow::store::StoredFlow> {
        self.0.state().flows.clone()
    }

    async fn catch_up(&self) -> ServiceResult<()> {
        self.0.catch_up().await
    }
}

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
