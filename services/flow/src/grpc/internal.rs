//! `FlowInternal`: what the request service asks of flows, over its service identity. The
//! auth layer admits only the request service here; each handler checks again, so a user token
//! can never reach a handler that takes the acting user from the message.

use std::pin::Pin;

use futures::Stream;
use latch_proto::common::v1::{ListAuditOutboxRequest, ListAuditOutboxResponse, Role};
use latch_proto::flow::v1 as pb;
use latch_proto::flow::v1::flow_internal_server::FlowInternal;
use latch_runtime::audit::outbox_wire;
use latch_runtime::auth::{TokenScope, caller};
use latch_runtime::service_identity::ServiceName;
use latch_runtime::wire::{instant, timestamp};
use latch_runtime::{Caller, ServiceError, ServiceResult};
use tonic::{Request, Response, Status};

use super::item;
use super::policy_wire::approval_policy;
use crate::domain::duration::Span;
use crate::domain::evaluate::{Allowance, Item};
use crate::domain::model::FlowKind;
use crate::service::FlowService;
use crate::service::queries_public::Asked;

pub use latch_proto::flow::v1::flow_internal_server::FlowInternalServer;

/// Items one `Decide` may name.
pub const MAX_DECIDE_ITEMS: usize = 10_000;
/// Permissions one `Decide` may name for a scope.
pub const MAX_SCOPE_PERMISSIONS: usize = 100;
/// Roles an acting user may carry.
const MAX_ROLES: usize = 8;
/// Items or user ids per streamed chunk (well under the message size limit).
const CHUNK: usize = 1000;

type ChunkStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[derive(Debug, Clone)]
pub struct FlowInternalGrpc {
    service: FlowService,
}

impl FlowInternalGrpc {
    pub fn new(service: FlowService) -> Self {
        Self { service }
    }

    pub fn into_server(self) -> FlowInternalServer<Self> {
        FlowInternalServer::new(self)
    }
}

/// Only the request service may ask.
fn require_request_service<T>(request: &Request<T>) -> Result<Caller, Status> {
    let caller = caller(request)?;
    if caller.service_name() != Some(ServiceName::Request) {
        return Err(ServiceError::PermissionDenied("only the request service may call FlowInternal".into()).into());
    }
    Ok(caller)
}

/// The user the request service acts for, as it authenticated them.
fn actor(request: &pb::DecideRequest, service: &Caller) -> ServiceResult<Caller> {
    if request.actor_user_id.trim().is_empty() {
        return Err(ServiceError::invalid("actor_user_id", "is required"));
    }
    if request.actor_roles.len() > MAX_ROLES {
        return Err(ServiceError::invalid(
            "actor_roles",
            format!("at most {MAX_ROLES} roles"),
        ));
    }
    let roles = request
        .actor_roles
        .iter()
        .map(|r| Role::try_from(*r).map_err(|_| ServiceError::invalid("actor_roles", format!("unknown role {r}"))))
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(Caller {
        user_id: request.actor_user_id.trim().to_string(),
        user_name: String::new(),
        token_id: String::new(),
        roles,
        scope: TokenScope::Api,
        source: format!("{} for a user", service.user_name),
    })
}

fn asked(request: &pb::DecideRequest) -> ServiceResult<Asked> {
    if request.items.len() > MAX_DECIDE_ITEMS {
        return Err(ServiceError::invalid(
            "items",
            format!("at most {MAX_DECIDE_ITEMS} items"),
        ));
    }
    if request.scope_permissions.len() > MAX_SCOPE_PERMISSIONS {
        return Err(ServiceError::invalid(
            "scope_permissions",
            format!("at most {MAX_SCOPE_PERMISSIONS} permissions"),
        ));
    }
    Ok(Asked {
        items: request
            .items
            .iter()
            .map(|i| Item {
                integration_id: i.integration.clone(),
                resource_id: i.resource_id.clone(),
                permission: i.permission.clone(),
            })
            .collect(),
        bundle: request.bundle.clone(),
        scope: request.scope.clone(),
        scope_permissions: request.scope_permissions.clone(),
    })
}

fn allowance(allowance: &Allowance) -> pb::Allowance {
    pb::Allowance {
        flow_id: allowance.flow_id.clone(),
        flow_name: allowance.flow_name.clone(),
        duration_seconds: allowance.duration.map(Span::as_seconds),
        needs_approval: allowance.needs_approval,
        approvals_needed: allowance.approvals_needed,
        require_mfa: allowance.require_mfa,
        require_justification: allowance.require_justification,
        require_approver_reason: allowance.require_approver_reason,
        no_self_approval: allowance.no_self_approval,
    }
}

fn stream_of<T: Send + 'static>(chunks: Vec<T>) -> ChunkStream<T> {
    Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))
}

/// One flow's users in chunks (one empty chunk when there are none, so the flow is named).
fn grantee_chunks(flow_id: &str, users: Vec<String>, out: &mut Vec<pb::GranteesChunk>) {
    if users.is_empty() {
        out.push(pb::GranteesChunk {
            flow_id: flow_id.to_string(),
            user_ids: Vec::new(),
        });
    }
    for chunk in users.chunks(CHUNK) {
        out.push(pb::GranteesChunk {
            flow_id: flow_id.to_string(),
            user_ids: chunk.to_vec(),
        });
    }
}

#[tonic::async_trait]
impl FlowInternal for FlowInternalGrpc {
    async fn decide(&self, request: Request<pb::DecideRequest>) -> Result<Response<pb::DecideResponse>, Status> {
        let service_caller = require_request_service(&request)?;
        let request = request.get_ref();
        let actor = actor(request, &service_caller)?;
        let asked = asked(request)?;
        let duration = match request.duration_seconds {
            None => None,
            Some(seconds) => {
                Some(Span::seconds(seconds).ok_or_else(|| ServiceError::invalid("duration", "must be positive"))?)
            }
        };
        let at = instant("at", request.at.as_ref())?;
        let answer = self
            .service
            .evaluate_request(&actor, &request.grantee, &asked, duration, at, &request.flow)
            .await?;
        Ok(Response::new(pb::DecideResponse {
            items: answer.items.iter().map(item).collect(),
            chosen: answer.chosen.as_ref().map(allowance),
            policy: answer.chosen_flow.as_ref().map(approval_policy),
            refusals: answer
                .denied
                .into_iter()
                .map(|(flow_id, flow_name, reasons)| pb::Refusal {
                    flow_id,
                    flow_name,
                    reasons,
                })
                .collect(),
        }))
    }

    type ListAutomaticFlowsStream = ChunkStream<pb::AutomaticFlowChunk>;

    async fn list_automatic_flows(
        &self,
        request: Request<pb::ListAutomaticFlowsRequest>,
    ) -> Result<Response<Self::ListAutomaticFlowsStream>, Status> {
        require_request_service(&request)?;
        let state = self.service.state();
        let mut chunks = Vec::new();
        for flow in self.service.automatic_flows_of(&state) {
            let policy = state.flows.iter().find(|f| f.id == flow.id).map(approval_policy);
            let mut items = flow.items.chunks(CHUNK);
            let first = items.next().unwrap_or_default();
            chunks.push(pb::AutomaticFlowChunk {
                flow_id: flow.id.clone(),
                flow_name: flow.name.clone(),
                policy,
                items: first.iter().map(item).collect(),
            });
            chunks.extend(items.map(|rest| pb::AutomaticFlowChunk {
                flow_id: flow.id.clone(),
                flow_name: flow.name.clone(),
                policy: None,
                items: rest.iter().map(item).collect(),
            }));
        }
        Ok(Response::new(stream_of(chunks)))
    }

    type ListAutomaticGranteesStream = ChunkStream<pb::GranteesChunk>;

    async fn list_automatic_grantees(
        &self,
        request: Request<pb::ListAutomaticGranteesRequest>,
    ) -> Result<Response<Self::ListAutomaticGranteesStream>, Status> {
        require_request_service(&request)?;
        let mut chunks = Vec::new();
        for (flow_id, users) in self.service.automatic_grantees().await? {
            grantee_chunks(&flow_id, users, &mut chunks);
        }
        Ok(Response::new(stream_of(chunks)))
    }

    type ListFlowGranteesStream = ChunkStream<pb::GranteesChunk>;

    async fn list_flow_grantees(
        &self,
        request: Request<pb::ListFlowGranteesRequest>,
    ) -> Result<Response<Self::ListFlowGranteesStream>, Status> {
        require_request_service(&request)?;
        let flow_id = &request.get_ref().flow_id;
        let users = self.service.matching_grantees(flow_id).await?;
        let mut chunks = Vec::new();
        grantee_chunks(flow_id, users, &mut chunks);
        Ok(Response::new(stream_of(chunks)))
    }

    async fn flows_granting_user(
        &self,
        request: Request<pb::FlowsGrantingUserRequest>,
    ) -> Result<Response<pb::FlowsGrantingUserResponse>, Status> {
        require_request_service(&request)?;
        let flow_ids = self.service.flows_granting(&request.get_ref().user).await?;
        Ok(Response::new(pb::FlowsGrantingUserResponse { flow_ids }))
    }

    async fn get_generation(
        &self,
        request: Request<pb::GetGenerationRequest>,
    ) -> Result<Response<pb::Generation>, Status> {
        require_request_service(&request)?;
        let state = self.service.state();
        Ok(Response::new(pb::Generation {
            flow_store_version: state.store_version,
            catalog_version: state.catalog_version,
        }))
    }

    type ListFlowSummariesStream = ChunkStream<pb::FlowSummary>;

    async fn list_flow_summaries(
        &self,
        request: Request<pb::ListFlowSummariesRequest>,
    ) -> Result<Response<Self::ListFlowSummariesStream>, Status> {
        require_request_service(&request)?;
        let summaries = self
            .service
            .state()
            .flows
            .iter()
            .map(|flow| pb::FlowSummary {
                flow_id: flow.id.clone(),
                flow_name: flow.spec.name.clone(),
                kind: match flow.spec.kind {
                    FlowKind::SelfServe => pb::FlowKind::SelfServe,
                    FlowKind::Automatic => pb::FlowKind::Automatic,
                }
                .into(),
                active: flow.spec.active,
                maximum_seconds: flow.spec.maximum().map(Span::as_seconds),
                policy: Some(approval_policy(flow)),
                create_time: Some(timestamp(flow.created_at)),
            })
            .collect();
        Ok(Response::new(stream_of(summaries)))
    }

    async fn catch_up(&self, request: Request<pb::CatchUpRequest>) -> Result<Response<pb::CatchUpResponse>, Status> {
        require_request_service(&request)?;
        self.service.catch_up().await?;
        Ok(Response::new(pb::CatchUpResponse {}))
    }
    async fn list_audit_outbox(
        &self,
        request: Request<ListAuditOutboxRequest>,
    ) -> Result<Response<ListAuditOutboxResponse>, Status> {
        outbox_wire::require_audit_log(&request)?;
        let (after, limit) = outbox_wire::page(request.get_ref())?;
        let entries = self.service.audit_outbox(after, limit).await?;
        Ok(Response::new(outbox_wire::response(after, &entries)))
    }
}
