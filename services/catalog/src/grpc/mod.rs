//! The gRPC adapter of the catalog.

mod changes;
mod convert;
pub mod internal;

use latch_connector_sdk::convert::description_to_proto;
use latch_proto::catalog::v1 as pb;
use latch_proto::catalog::v1::catalog_service_server::CatalogService as CatalogApi;
use latch_runtime::auth::caller;
use latch_runtime::pagination::{Page, PageScope};
use latch_runtime::{ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use crate::service::{Actor, CatalogService, IntegrationDraft, IntegrationUpdate, ResourceFilter, ResourceUpdate};

pub use latch_proto::catalog::v1::catalog_service_server::CatalogServiceServer;

#[derive(Debug, Clone)]
pub struct CatalogGrpc {
    service: CatalogService,
}

impl CatalogGrpc {
    pub fn new(service: CatalogService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> CatalogServiceServer<Self> {
        CatalogServiceServer::new(self)
    }
}

type GrpcResult<T> = Result<Response<T>, Status>;

fn ok<T>(value: T) -> GrpcResult<T> {
    Ok(Response::new(value))
}

fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    Ok(Actor::from_caller(&caller(request)?))
}

#[tonic::async_trait]
impl CatalogApi for CatalogGrpc {
    async fn create_space(&self, request: Request<pb::CreateSpaceRequest>) -> GrpcResult<pb::Space> {
        let actor = actor(&request)?;
        let space = request
            .get_ref()
            .space
            .clone()
            .ok_or_else(|| ServiceError::invalid("space", "is required"))?;
        let admins = space
            .admins
            .iter()
            .enumerate()
            .map(|(i, p)| convert::principal_ref(&format!("space.admins[{i}]"), p))
            .collect::<ServiceResult<Vec<_>>>()?;
        ok(convert::space(
            &self.service.create_space(&actor, &space.display_name, &admins).await?,
        ))
    }

    async fn list_spaces(&self, request: Request<pb::ListSpacesRequest>) -> GrpcResult<pb::ListSpacesResponse> {
        caller(&request)?;
        ok(pb::ListSpacesResponse {
            spaces: self.service.state().spaces.values().map(convert::space).collect(),
        })
    }

    async fn delete_space(&self, request: Request<pb::DeleteSpaceRequest>) -> GrpcResult<pb::DeleteSpaceResponse> {
        let actor = actor(&request)?;
        self.service.delete_space(&actor, &request.get_ref().id).await?;
        ok(pb::DeleteSpaceResponse {})
    }

    async fn list_connectors(
        &self,
        request: Request<pb::ListConnectorsRequest>,
    ) -> GrpcResult<pb::ListConnectorsResponse> {
        caller(&request)?;
        let connectors = self
            .service
            .connectors()
            .builtin_descriptions()
            .iter()
            .map(description_to_proto)
            .collect();
        ok(pb::ListConnectorsResponse { connectors })
    }

    async fn create_integration(&self, request: Request<pb::CreateIntegrationRequest>) -> GrpcResult<pb::Integration> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let integration = request
            .integration
            .ok_or_else(|| ServiceError::invalid("integration", "is required"))?;
        let draft = IntegrationDraft {
            name: integration.display_name,
            connector: integration.connector,
            endpoint: integration.endpoint,
            config: integration.config.into_iter().collect(),
            secrets: request.secrets.into_iter().collect(),
            owner: integration
                .owner
                .as_ref()
                .map(|o| convert::principal_ref("integration.owner", o))
                .transpose()?,
            space: integration.space,
        };
        let created = self
            .service
            .create_integration(&actor, draft, &request.request_id)
            .await?;
        ok(convert::integration(&created, &self.service.state()))
    }

    async fn get_integration(&self, request: Request<pb::GetIntegrationRequest>) -> GrpcResult<pb::Integration> {
        caller(&request)?;
        let integration = self.service.integration(&request.get_ref().id)?;
        ok(convert::integration(&integration, &self.service.state()))
    }

    async fn list_integrations(
        &self,
        request: Request<pb::ListIntegrationsRequest>,
    ) -> GrpcResult<pb::ListIntegrationsResponse> {
        caller(&request)?;
        let state = self.service.state();
        let space = request.get_ref().space.trim();
        let space = if space.is_empty() {
            None
        } else {
            Some(
                state
                    .space(space)
                    .map(|s| s.id.clone())
                    .unwrap_or_else(|| space.to_string()),
            )
        };
        let integrations = state
            .integrations
            .values()
            .filter(|i| space.is_none() || i.space == space)
            .map(|i| convert::integration(i, &state))
            .collect();
        ok(pb::ListIntegrationsResponse { integrations })
    }

    async fn update_integration(&self, request: Request<pb::UpdateIntegrationRequest>) -> GrpcResult<pb::Integration> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let owner = request
            .owner
            .as_ref()
            .map(|o| convert::principal_ref("owner", o))
            .transpose()?;
        let update = IntegrationUpdate {
            config: request.config.into_iter().collect(),
            secrets: request.secrets.into_iter().collect(),
            owner,
            name: request.display_name,
            expected_version: latch_runtime::wire::etag_version("etag", &request.etag)?,
        };
        let updated = self.service.update_integration(&actor, &request.id, update).await?;
        ok(convert::integration(&updated, &self.service.state()))
    }

    async fn delete_integration(
        &self,
        request: Request<pb::DeleteIntegrationRequest>,
    ) -> GrpcResult<pb::DeleteIntegrationResponse> {
        let actor = actor(&request)?;
        self.service.delete_integration(&actor, &request.get_ref().id).await?;
        ok(pb::DeleteIntegrationResponse {})
    }

    async fn validate_integration(
        &self,
        request: Request<pb::ValidateIntegrationRequest>,
    ) -> GrpcResult<pb::Integration> {
        let actor = actor(&request)?;
        let integration = self.service.validate_integration(&actor, &request.get_ref().id).await?;
        ok(convert::integration(&integration, &self.service.state()))
    }

    async fn sync_integration(
        &self,
        request: Request<pb::SyncIntegrationRequest>,
    ) -> GrpcResult<pb::SyncIntegrationResponse> {
        let actor = actor(&request)?;
        let summary = self.service.sync_integration(&actor, &request.get_ref().id).await?;
        ok(convert::sync(&summary))
    }

    async fn list_resources(
        &self,
        request: Request<pb::ListResourcesRequest>,
    ) -> GrpcResult<pb::ListResourcesResponse> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let scope = PageScope::new(
            "catalog.resources",
            &caller.user_id,
            (
                &request.integration,
                &request.r#type,
                &request.tags,
                &request.query,
                request.include_missing,
            ),
        );
        let page = Page::parse(request.page_size, &request.page_token, &scope)?;
        let filter = ResourceFilter {
            integration: request.integration.clone(),
            resource_type: request.r#type.clone(),
            tags: request.tags.clone(),
            query: request.query.clone(),
            include_missing: request.include_missing,
        };
        let found = self.service.list_resources(&filter)?;
        let (resources, next_page_token) = page.fill(&found, &scope, |r| convert::resource(r));
        ok(pb::ListResourcesResponse {
            resources,
            next_page_token,
            total_size: found.len() as i64,
        })
    }

    async fn get_resource(&self, request: Request<pb::GetResourceRequest>) -> GrpcResult<pb::Resource> {
        caller(&request)?;
        let request = request.get_ref();
        ok(convert::resource(
            &*self.service.get_resource(&request.integration, &request.id)?,
        ))
    }

    async fn update_resource(&self, request: Request<pb::UpdateResourceRequest>) -> GrpcResult<pb::Resource> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let owners = if request.update_owners {
            Some(
                request
                    .owners
                    .iter()
                    .enumerate()
                    .map(|(i, p)| convert::principal_ref(&format!("owners[{i}]"), p))
                    .collect::<ServiceResult<Vec<_>>>()?,
            )
        } else {
            None
        };
        let update = ResourceUpdate {
            set_tags: request.set_tags.into_iter().collect(),
            remove_tags: request.remove_tags,
            owners,
        };
        ok(convert::resource(
            &*self
                .service
                .update_resource(&actor, &request.integration, &request.id, update)
                .await?,
        ))
    }

    async fn create_bundle(&self, request: Request<pb::CreateBundleRequest>) -> GrpcResult<pb::Bundle> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let bundle = request
            .bundle
            .ok_or_else(|| ServiceError::invalid("bundle", "is required"))?;
        let targets = bundle
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| convert::integration_target(&format!("bundle.targets[{i}]"), t))
            .collect::<ServiceResult<Vec<_>>>()?;
        let created = self
            .service
            .create_bundle(
                &actor,
                &bundle.display_name,
                &bundle.description,
                &bundle.space,
                targets,
                &request.request_id,
            )
            .await?;
        ok(convert::bundle(&created))
    }

    async fn get_bundle(&self, request: Request<pb::GetBundleRequest>) -> GrpcResult<pb::Bundle> {
        caller(&request)?;
        ok(convert::bundle(&self.service.bundle(&request.get_ref().id)?))
    }

    async fn list_bundles(&self, request: Request<pb::ListBundlesRequest>) -> GrpcResult<pb::ListBundlesResponse> {
        caller(&request)?;
        let state = self.service.state();
        let space = request.get_ref().space.trim().to_string();
        let bundles = state
            .bundles
            .values()
            .filter(|b| {
                space.is_empty()
                    || b.space.as_deref() == Some(space.as_str())
                    || state
                        .space(&space)
                        .is_some_and(|s| b.space.as_deref() == Some(s.id.as_str()))
            })
            .map(convert::bundle)
            .collect();
        ok(pb::ListBundlesResponse { bundles })
    }

    async fn delete_bundle(&self, request: Request<pb::DeleteBundleRequest>) -> GrpcResult<pb::DeleteBundleResponse> {
        let actor = actor(&request)?;
        self.service.delete_bundle(&actor, &request.get_ref().id).await?;
        ok(pb::DeleteBundleResponse {})
    }

    async fn create_access_scope(&self, request: Request<pb::CreateAccessScopeRequest>) -> GrpcResult<pb::AccessScope> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let scope = request
            .scope
            .ok_or_else(|| ServiceError::invalid("scope", "is required"))?;
        let query = convert::query("scope.query", &scope.query.unwrap_or_default())?;
        let created = self
            .service
            .create_scope(
                &actor,
                &scope.display_name,
                &scope.description,
                &scope.space,
                query,
                &request.request_id,
            )
            .await?;
        ok(convert::scope(&created))
    }

    async fn get_access_scope(&self, request: Request<pb::GetAccessScopeRequest>) -> GrpcResult<pb::AccessScope> {
        caller(&request)?;
        ok(convert::scope(&self.service.scope(&request.get_ref().id)?))
    }

    async fn list_access_scopes(
        &self,
        request: Request<pb::ListAccessScopesRequest>,
    ) -> GrpcResult<pb::ListAccessScopesResponse> {
        caller(&request)?;
        let state = self.service.state();
        let space = request.get_ref().space.trim().to_string();
        let scopes = state
            .scopes
            .values()
            .filter(|s| {
                space.is_empty()
                    || s.space.as_deref() == Some(space.as_str())
                    || state
                        .space(&space)
                        .is_some_and(|sp| s.space.as_deref() == Some(sp.id.as_str()))
            })
            .map(convert::scope)
            .collect();
        ok(pb::ListAccessScopesResponse { scopes })
    }

    async fn delete_access_scope(
        &self,
        request: Request<pb::DeleteAccessScopeRequest>,
    ) -> GrpcResult<pb::DeleteAccessScopeResponse> {
        let actor = actor(&request)?;
        self.service.delete_scope(&actor, &request.get_ref().id).await?;
        ok(pb::DeleteAccessScopeResponse {})
    }

    async fn preview_access_scope(
        &self,
        request: Request<pb::PreviewAccessScopeRequest>,
    ) -> GrpcResult<pb::PreviewAccessScopeResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let (query, space) = match &request.source {
            Some(pb::preview_access_scope_request::Source::Scope(name)) => {
                let scope = self.service.scope(name)?;
                (scope.query, scope.space)
            }
            Some(pb::preview_access_scope_request::Source::Query(query)) => (convert::query("query", query)?, None),
            None => return Err(ServiceError::invalid("source", "name a scope or give a query").into()),
        };
        let found = self.service.preview(&query, space.as_deref())?;
        let limit = if request.limit <= 0 {
            100
        } else {
            request.limit.min(10_000)
        } as usize;
        ok(pb::PreviewAccessScopeResponse {
            resources: found.iter().take(limit).map(|r| convert::resource(r)).collect(),
            total_size: found.len() as i64,
        })
    }

    async fn resolve_targets(
        &self,
        request: Request<pb::ResolveTargetsRequest>,
    ) -> GrpcResult<pb::ResolveTargetsResponse> {
        caller(&request)?;
        let request = request.get_ref();
        let targets = request
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| convert::target(&format!("targets[{i}]"), t))
            .collect::<ServiceResult<Vec<_>>>()?;
        let space = match request.space.trim() {
            "" => None,
            name => Some(
                self.service
                    .state()
                    .space(name)
                    .map(|s| s.id.clone())
                    .ok_or_else(|| ServiceError::invalid("space", format!("no space {name:?}")))?,
            ),
        };
        let items = self.service.resolve_targets(&targets, space.as_deref())?;
        ok(pb::ResolveTargetsResponse {
            items: items.iter().map(convert::item).collect(),
        })
    }
}
