//! The gRPC adapter of `CatalogInternal`: what flow and request ask of the catalog. The auth
//! layer admits only the services it was registered for; user tokens never reach these handlers.

use futures::StreamExt;
use futures::stream::BoxStream;
use latch_connector_sdk::convert as wire;
use latch_proto::catalog::v1 as pb;
use latch_proto::catalog::v1::catalog_internal_server::CatalogInternal;
use latch_proto::common::v1::{ListAuditOutboxRequest, ListAuditOutboxResponse};
use latch_proto::connector::v1 as connector_pb;
use latch_runtime::audit::outbox_wire;
use latch_runtime::auth::caller;
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use super::{changes, convert};
use crate::service::{CatalogService, ProxyError};

pub use latch_proto::catalog::v1::catalog_internal_server::CatalogInternalServer;

/// Targets one resolution may name.
pub const MAX_TARGETS: usize = 1_000;

#[derive(Debug, Clone)]
pub struct CatalogInternalGrpc {
    service: CatalogService,
}

impl CatalogInternalGrpc {
    pub fn new(service: CatalogService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> CatalogInternalServer<Self> {
        CatalogInternalServer::new(self)
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

fn ok<T>(value: T) -> GrpcResult<T> {
    Ok(Response::new(value))
}

/// Only another service may call: refuses anything else even if a layer were misconfigured.
fn require_service<T>(request: &Request<T>) -> Result<(), Status> {
    match caller(request)?.service_name() {
        Some(_) => Ok(()),
        None => Err(ServiceError::PermissionDenied("this call is internal to Latch's services".into()).into()),
    }
}

fn proxy_status(error: ProxyError) -> Status {
    match error {
        ProxyError::Catalog(error) => error.into(),
        ProxyError::Connector(error) => error.into(),
    }
}

fn required_id(field: &str, value: &str) -> ServiceResult<()> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "is required"));
    }
    Ok(())
}

#[tonic::async_trait]
impl CatalogInternal for CatalogInternalGrpc {
    type WatchChangesStream = BoxStream<'static, Result<pb::CatalogChange, Status>>;
    type ListGrantsStream = BoxStream<'static, Result<connector_pb::GrantRecord, Status>>;

    async fn watch_changes(
        &self,
        request: Request<pb::WatchCatalogChangesRequest>,
    ) -> GrpcResult<Self::WatchChangesStream> {
        require_service(&request)?;
        let after = request.get_ref().after_sequence;
        if after < 0 {
            return Err(ServiceError::invalid("after_sequence", "must not be negative").into());
        }
        let stream = self
            .service
            .watch_changes(after)
            .map(|change| change.map(changes::change).map_err(Status::from))
            .boxed();
        ok(stream)
    }

    async fn resolve_flow_targets(
        &self,
        request: Request<pb::ResolveFlowTargetsRequest>,
    ) -> GrpcResult<pb::ResolveTargetsResponse> {
        require_service(&request)?;
        let request = request.get_ref();
        if request.targets.len() > MAX_TARGETS {
            return Err(ServiceError::invalid("targets", format!("at most {MAX_TARGETS} targets")).into());
        }
        let targets = request
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| convert::target(&format!("targets[{i}]"), t))
            .collect::<ServiceResult<Vec<_>>>()?;
        let space = Some(request.space_id.trim()).filter(|s| !s.is_empty());
        let items = self.service.resolve_targets(&targets, space)?;
        ok(pb::ResolveTargetsResponse {
            items: items.iter().map(convert::item).collect(),
        })
    }

    async fn space_of_target(
        &self,
        request: Request<pb::SpaceOfTargetRequest>,
    ) -> GrpcResult<pb::SpaceOfTargetResponse> {
        require_service(&request)?;
        let target = request
            .get_ref()
            .target
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("target", "is required"))?;
        let target = convert::target("target", target)?;
        ok(pb::SpaceOfTargetResponse {
            space_id: self.service.space_of_target(&target).unwrap_or_default(),
        })
    }

    async fn find_integration(
        &self,
        request: Request<pb::FindIntegrationRequest>,
    ) -> GrpcResult<pb::FindIntegrationResponse> {
        require_service(&request)?;
        let state = self.service.state();
        let found = state.integration(&request.get_ref().id_or_name);
        ok(pb::FindIntegrationResponse {
            found: found.is_some(),
            id: found.map(|i| i.id.clone()).unwrap_or_default(),
            display_name: found.map(|i| i.name.clone()).unwrap_or_default(),
        })
    }

    async fn find_space(&self, request: Request<pb::FindSpaceRequest>) -> GrpcResult<pb::FindSpaceResponse> {
        require_service(&request)?;
        let state = self.service.state();
        let found = state.space(&request.get_ref().id_or_name);
        ok(pb::FindSpaceResponse {
            found: found.is_some(),
            id: found.map(|s| s.id.clone()).unwrap_or_default(),
            display_name: found.map(|s| s.name.clone()).unwrap_or_default(),
        })
    }

    async fn is_space_admin(&self, request: Request<pb::IsSpaceAdminRequest>) -> GrpcResult<pb::IsSpaceAdminResponse> {
        require_service(&request)?;
        let request = request.get_ref();
        required_id("user_id", &request.user_id)?;
        let admin = self.service.is_space_admin(&request.user_id, &request.space_id).await?;
        ok(pb::IsSpaceAdminResponse { admin })
    }

    async fn administers_any_space(
        &self,
        request: Request<pb::AdministersAnySpaceRequest>,
    ) -> GrpcResult<pb::AdministersAnySpaceResponse> {
        require_service(&request)?;
        let user_id = &request.get_ref().user_id;
        required_id("user_id", user_id)?;
        ok(pb::AdministersAnySpaceResponse {
            admin: self.service.administers_any_space(user_id).await?,
        })
    }

    async fn get_resource_info(&self, request: Request<pb::GetResourceInfoRequest>) -> GrpcResult<pb::ResourceInfo> {
        require_service(&request)?;
        let request = request.get_ref();
        let (integration, record) = self
            .service
            .resource_with_integration(&request.integration_id, &request.resource_id)?;
        ok(pb::ResourceInfo {
            integration_name: integration.name,
            resource_type: record.resource_type.clone(),
            display_name: record.name.clone(),
            owners: record.owners.iter().map(|o| o.id().to_string()).collect(),
        })
    }

    async fn describe_connector(
        &self,
        request: Request<pb::IntegrationConnectorRequest>,
    ) -> GrpcResult<connector_pb::DescribeResponse> {
        require_service(&request)?;
        let description = self
            .service
            .connector_description(&request.get_ref().integration_id)
            .await?;
        ok(wire::description_to_proto(&description))
    }

    async fn grant(&self, request: Request<pb::ProxyGrantRequest>) -> GrpcResult<connector_pb::GrantResponse> {
        require_service(&request)?;
        let request = request.into_inner();
        let grant = request
            .grant
            .ok_or_else(|| ServiceError::invalid("grant", "is required"))?;
        if !grant.config.is_empty() {
            return Err(ServiceError::invalid(
                "grant.config",
                "must be empty: the catalog supplies the integration's config",
            )
            .into());
        }
        let (_, grant) = wire::grant_request(grant).map_err(Status::from)?;
        let outcome = self
            .service
            .proxy_grant(&request.integration_id, &grant)
            .await
            .map_err(proxy_status)?;
        ok(wire::outcome_to_proto(outcome))
    }

    async fn extend(&self, request: Request<pb::ProxyExtendRequest>) -> GrpcResult<connector_pb::ExtendResponse> {
        require_service(&request)?;
        let request = request.get_ref();
        let expires_at = wire::instant("expires_at", request.expires_at.as_ref()).map_err(Status::from)?;
        self.service
            .proxy_extend(&request.integration_id, &request.grant_id, expires_at)
            .await
            .map_err(proxy_status)?;
        ok(connector_pb::ExtendResponse {})
    }

    async fn revoke(&self, request: Request<pb::ProxyRevokeRequest>) -> GrpcResult<connector_pb::RevokeResponse> {
        require_service(&request)?;
        let request = request.get_ref();
        self.service
            .proxy_revoke(&request.integration_id, &request.grant_id)
            .await
            .map_err(proxy_status)?;
        ok(connector_pb::RevokeResponse {})
    }

    async fn list_grants(
        &self,
        request: Request<pb::IntegrationConnectorRequest>,
    ) -> GrpcResult<Self::ListGrantsStream> {
        require_service(&request)?;
        let records = self
            .service
            .proxy_list_grants(&request.get_ref().integration_id)
            .await
            .map_err(proxy_status)?;
        let stream = futures::stream::iter(records.into_iter().map(|r| Ok(wire::record_to_proto(r)))).boxed();
        ok(stream)
    }
    async fn list_audit_outbox(&self, request: Request<ListAuditOutboxRequest>) -> GrpcResult<ListAuditOutboxResponse> {
        outbox_wire::require_audit_log(&request)?;
        let (after, limit) = outbox_wire::page(request.get_ref())?;
        let entries = self.service.audit_outbox(after, limit).await?;
        ok(outbox_wire::response(after, &entries))
    }
}
